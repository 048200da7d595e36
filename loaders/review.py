"""Review cases in the warehouse: found cases replace the stored ones of the same people, while a
case keeps its id, its opening run and any human decision for as long as it is found again.

A case no longer found (the data changed) is not deleted but `withdrawn`, so an auditor still sees
that it was raised; a withdrawn case found again is open again.
"""

from __future__ import annotations

import hashlib
from itertools import groupby
from operator import itemgetter

import pandas as pd
from sqlalchemy import Connection, delete, select

from loaders.bulk import copy_into, read_frame, temp_table
from loaders.frames import same_values
from schemas.warehouse import review_case, review_case_row

OPEN, RESOLVED, WITHDRAWN = "open", "resolved", "withdrawn"
CONTENT = ["id_numbers", "attribute", "score", "evidence", "rows_digest"]


def _rows_digest(found: pd.DataFrame, found_rows: pd.DataFrame) -> pd.Series:
    """Per found case, a digest of its source rows (a case whose rows changed is rewritten)."""
    lines = found_rows.sort_values(["case_id", "source_system", "source_key"])
    text = (lines["source_system"] + "|" + lines["source_key"] + "|"
            + lines["id_number"].astype("string").fillna("")).tolist()
    digests = {case: hashlib.sha1("\n".join(t for _, t in group).encode()).hexdigest()[:16]
               for case, group in groupby(zip(lines["case_id"].tolist(), text, strict=True),
                                          key=itemgetter(0))}
    return found["case_id"].map(digests)


def _delete(conn: Connection, table, ids: pd.Series) -> None:
    doomed = temp_table(conn, "jinbao_doomed_case", review_case, ["case_id"], key=("case_id",))
    copy_into(conn, doomed, pd.DataFrame({"case_id": ids.drop_duplicates()}))
    # IN, not EXISTS: SQLite searches the case_id index for IN and scans the table for EXISTS
    conn.execute(delete(table).where(table.c.case_id.in_(select(doomed.c.case_id))))


def sync_cases(conn: Connection, found: pd.DataFrame, found_rows: pd.DataFrame,
               people: pd.Series | None, kinds: tuple[str, ...], run_id: str,
               case_ids: pd.Series | None = None) -> dict[str, int]:
    """Make the stored cases of `kinds` about `people` (None: everyone), or with `case_ids`
    (an incremental match: the cases its entities were in), those `found`, with their rows."""
    query = select(review_case).where(review_case.c.kind.in_(kinds))
    if case_ids is not None:
        scope = temp_table(conn, "jinbao_case_ids", review_case, ["case_id"], key=("case_id",))
        ids = pd.concat([case_ids, found["case_id"]]).dropna().drop_duplicates()
        copy_into(conn, scope, pd.DataFrame({"case_id": ids}))
        query = query.where(review_case.c.case_id.in_(select(scope.c.case_id)))  # see _delete
    elif people is not None:
        scope = temp_table(conn, "jinbao_case_scope", review_case, ["id_number"],
                           key=("id_number",))
        copy_into(conn, scope, pd.DataFrame({"id_number": people.dropna().drop_duplicates()}))
        query = query.where(review_case.c.id_number.in_(select(scope.c.id_number)))
    stored = read_frame(conn, query)
    if found.empty and stored.empty:
        return {"opened": 0, "withdrawn": 0, "opened_cases": [], "withdrawn_cases": []}
    found = found.assign(rows_digest=_rows_digest(found, found_rows))
    previous = stored.set_index("case_id").reindex(found["case_id"])
    known = previous["status"].notna().to_numpy()
    same = same_values(found, previous, CONTENT)
    reopened = previous["status"].to_numpy() == WITHDRAWN
    cases = found.assign(
        status=previous["status"].where(known & ~reopened, OPEN).to_numpy(),
        decision=previous["decision"].to_numpy(),
        opened_run=previous["opened_run"].where(known, run_id).to_numpy(),
        updated_run=previous["updated_run"].where(known & same & ~reopened, run_id).to_numpy())
    gone = stored[~stored["case_id"].isin(found["case_id"]) & (stored["status"] == OPEN)]
    gone = gone.assign(status=WITHDRAWN, updated_run=run_id)
    changed = cases[~(known & same & ~reopened)]  # the rest stay as stored, untouched
    _delete(conn, review_case, pd.concat([changed["case_id"], gone["case_id"]]))
    _delete(conn, review_case_row, changed["case_id"])  # a withdrawn case keeps its rows
    copy_into(conn, review_case, pd.concat([changed, gone], ignore_index=True))
    copy_into(conn, review_case_row, found_rows[found_rows["case_id"].isin(changed["case_id"])])
    opened = cases.loc[~known | reopened, "case_id"]
    return {"opened": len(opened), "withdrawn": len(gone),
            "opened_cases": opened.tolist(), "withdrawn_cases": gone["case_id"].tolist()}


def refresh_suspected_duplicates(conn: Connection, run_id: str, full: bool = False,
                                 entities: set[str] = frozenset(), bulk=None) -> dict:
    """Suspected duplicates after a run or a decision: probabilistic linkage of what it changed
    (and of `entities`, which a decision touched), as cases (loaders.matching; a full match on
    `bulk` when given)."""
    from loaders.matching import refresh

    return refresh(conn, run_id, full=full, also=entities, bulk=bulk)
