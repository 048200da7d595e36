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
from sqlalchemy import Connection, and_, delete, exists, literal, select

from loaders.bulk import copy_into, read_frame, temp_table
from loaders.frames import same_values
from schemas.identity import ID_RULES
from schemas.warehouse import person, quarantine, review_case, review_case_row, source_record
from transforms.suspects import CASE_KIND, case_frames, suspected_duplicates

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
    conn.execute(delete(table).where(exists().where(table.c.case_id == doomed.c.case_id)))


def sync_cases(conn: Connection, found: pd.DataFrame, found_rows: pd.DataFrame,
               people: pd.Series | None, kinds: tuple[str, ...], run_id: str) -> dict[str, int]:
    """Make the stored cases of `kinds` about `people` (None: everyone) those `found`, with
    their rows."""
    query = select(review_case).where(review_case.c.kind.in_(kinds))
    if people is not None:
        scope = temp_table(conn, "jinbao_case_scope", review_case, ["id_number"],
                           key=("id_number",))
        copy_into(conn, scope, pd.DataFrame({"id_number": people.dropna().drop_duplicates()}))
        query = query.where(exists().where(scope.c.id_number == review_case.c.id_number))
    stored = read_frame(conn, query)
    if found.empty and stored.empty:
        return {"opened": 0, "withdrawn": 0}
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
    return {"opened": int((~known | reopened).sum()), "withdrawn": len(gone)}


def refresh_suspected_duplicates(conn: Connection, run_id: str) -> dict:
    """Find suspected duplicates across the whole warehouse and store them as cases."""
    people = read_frame(conn, select(person.c.id_number, person.c.name, person.c.sex,
                                     person.c.birth_date))
    upgraded = set(read_frame(conn, select(source_record.c.id_number).distinct().where(
        source_record.c.outcome == literal("accepted"),
        source_record.c.id_repairs.like("%upgraded_15%")))["id_number"])
    people["from_15"] = pd.Index(list(upgraded), dtype=object).get_indexer(
        people["id_number"].to_numpy(dtype=object)) >= 0
    loose = read_frame(conn, select(
        source_record.c.source_system, source_record.c.source_key, source_record.c.claimed_id,
        source_record.c.name, source_record.c.sex, source_record.c.birth_date).where(
        source_record.c.outcome == literal("quarantined"),
        exists().where(and_(quarantine.c.source_system == source_record.c.source_system,
                            quarantine.c.source_key == source_record.c.source_key,
                            quarantine.c.rule.in_(ID_RULES)))))
    for frame in (people, loose):
        for column in frame.columns:
            if column not in ("birth_date", "from_15"):
                frame[column] = frame[column].astype("string")
    kept, stats = suspected_duplicates(people, loose)
    ids = pd.concat([kept.loc[kept["left_person"], "left_key"],
                     kept.loc[kept["right_person"], "right_key"]]).drop_duplicates()
    scope = temp_table(conn, "jinbao_suspects", person, ["id_number"], key=("id_number",))
    copy_into(conn, scope, pd.DataFrame({"id_number": ids}))
    rows_of = read_frame(conn, select(
        source_record.c.id_number, source_record.c.source_system, source_record.c.source_key)
        .where(source_record.c.outcome == literal("accepted"),
               exists().where(scope.c.id_number == source_record.c.id_number)))
    cases, case_rows = case_frames(kept, rows_of)
    return {**stats, **sync_cases(conn, cases, case_rows, None, (CASE_KIND,), run_id)}
