"""Reviewers' decisions on cases: stored, applied to the warehouse at once, kept by every later
run, and reversible.

    merge       suspected_duplicate: the other entities' rows (or those --with names) join the
                kept person
                (identity_override; staging applies it to every later extract)
    keep_apart  suspected_duplicate: two people; the case stays resolved when found again
    pick        attribute_conflict: this source row supplies the attribute (attribute_override)
    confirm     duplicate_enrollment or attribute_conflict: acknowledged, nothing to change
    dismiss     any case: not a problem, nothing to change

A merge keeps a snapshot of every row it changed (outcome, number, bucket, hash, quarantine
rows), so `undo` puts them back as they were when merged (a source row updated in between is
read again by a `jinbao run --since` over its window); the people concerned are recomputed
either way, in the same transaction as the decision.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from loaders.bulk import copy_into, read_frame
from loaders.review import OPEN, RESOLVED, refresh_suspected_duplicates
from loaders.warehouse import mark_dirty, recompute_dirty
from schemas.identity import ID_RULES
from schemas.warehouse import (
    attribute_override,
    identity_override,
    quarantine,
    review_case,
    review_case_row,
    review_decision,
    source_record,
)
from transforms.reconcile import bucket_of
from transforms.survivorship import Survivorship

DECISIONS = {
    "suspected_duplicate": ("merge", "keep_apart", "dismiss"),
    "attribute_conflict": ("pick", "confirm", "dismiss"),
    "duplicate_enrollment": ("confirm", "dismiss"),
}


class DecisionError(ValueError):
    """A decision that cannot be taken (unknown case, wrong kind, nothing to undo)."""


@dataclass(frozen=True)
class Context:
    """What recomputing people needs, and who decides when."""

    buckets: int
    policy: Survivorship
    decided_by: str
    now: datetime


def _case(conn: Connection, case_id: str) -> dict:
    found = conn.execute(select(review_case).where(review_case.c.case_id == case_id)
                         ).mappings().first()
    if found is None:
        raise DecisionError(f"no case {case_id!r}")
    return dict(found)


def _key(text: str) -> tuple[str, str]:
    system, _, key = text.partition("|")
    return system, key


def _rows_to_move(conn: Connection, entity: str) -> pd.DataFrame:
    """The source rows of an entity: a person's accepted rows, or the one row it names."""
    query = select(source_record.c.source_system, source_record.c.source_key,
                   source_record.c.outcome, source_record.c.id_number, source_record.c.bucket,
                   source_record.c.row_hash, source_record.c.run_id)
    if "|" in entity:
        system, key = _key(entity)
        return read_frame(conn, query.where(source_record.c.source_system == system,
                                            source_record.c.source_key == key))
    return read_frame(conn, query.where(source_record.c.id_number == entity,
                                        source_record.c.outcome == "accepted"))


def _quarantine_of(conn: Connection, rows: pd.DataFrame) -> pd.DataFrame:
    keys = list(zip(rows["source_system"], rows["source_key"], strict=True))
    if not keys:
        return pd.DataFrame(columns=[c.name for c in quarantine.columns])
    condition = [and_(quarantine.c.source_system == s, quarantine.c.source_key == k)
                 for s, k in keys]
    return read_frame(conn, select(quarantine).where(or_(*condition)))


def _recompute(conn: Connection, ids: set[str], ctx: Context, run_id: str) -> dict:
    mark_dirty(conn, pd.Series(sorted(i for i in ids if i)), ctx.buckets)
    return recompute_dirty(conn, run_id, ctx.now, ctx.buckets, policy=ctx.policy)


def _merge(conn: Connection, case: dict, keep: int, ctx: Context, run_id: str,
           joining: list[int] | None = None) -> dict:
    """The rows of the case's other entities (or of those `joining` names) join entity `keep`,
    which must be a person: its number survives."""
    entities = json.loads(case["evidence"])["entities"]
    count = len(entities)
    if not 1 <= keep <= count:
        raise DecisionError(f"--keep must be between 1 and {count} (the entity whose number "
                            f"survives, as `jinbao review show` numbers them)")
    target = entities[keep - 1]
    if all("|" in e for e in entities):
        raise DecisionError("no entity is a person (the rows all lack a usable number): "
                            "keep_apart or dismiss; a merge needs a person to join")
    if "|" in target:
        people = [str(i) for i, e in enumerate(entities, start=1) if "|" not in e]
        raise DecisionError(f"entity {keep} is a source row, not a person: keep a person "
                            f"(--keep {' or '.join(people)})")
    chosen = joining or [i for i in range(1, count + 1) if i != keep]
    wrong = [i for i in chosen if not 1 <= i <= count or i == keep]
    if wrong:
        raise DecisionError(f"--with names entities 1..{count} other than the kept one, "
                            f"not {', '.join(map(str, wrong))}")
    others = [entities[i - 1] for i in sorted(set(chosen))]
    moved = pd.concat([_rows_to_move(conn, e) for e in others], ignore_index=True)
    if moved.empty:
        raise DecisionError("the entities to merge have no rows left")
    rules = _quarantine_of(conn, moved)
    only_id_rules = ~moved.set_index(["source_system", "source_key"]).index.isin(
        rules[~rules["rule"].isin(ID_RULES)].set_index(["source_system", "source_key"]).index)
    copy_into(conn, identity_override, moved.assign(id_number=target, case_id=case["case_id"]))
    bucket = int(bucket_of(pd.Series([target]), ctx.buckets).iloc[0])
    for row in moved[only_id_rules].itertuples(index=False):
        conn.execute(update(source_record).where(
            source_record.c.source_system == row.source_system,
            source_record.c.source_key == row.source_key).values(
            outcome="accepted", id_number=target, bucket=bucket))
        conn.execute(delete(quarantine).where(quarantine.c.source_system == row.source_system,
                                              quarantine.c.source_key == row.source_key))
    detail = {"target": target, "others": others,
              "rows": json.loads(moved.to_json(orient="records")),
              "quarantine": json.loads(rules.to_json(orient="records"))}
    _recompute(conn, {target, *moved["id_number"].dropna()}, ctx, run_id)
    return detail


def _entities_of(detail: dict) -> set[str]:
    """The entities a merge touched (decisions before clusters name one `other`)."""
    return {detail["target"], *detail.get("others", [detail.get("other")])} - {None}


def _pick(conn: Connection, case: dict, row: str, ctx: Context, run_id: str) -> dict:
    """`row`: the row's number in `jinbao review show` (keys may hold masked numbers), or
    SYSTEM|KEY."""
    rows = conn.execute(select(review_case_row.c.source_system, review_case_row.c.source_key)
                        .where(review_case_row.c.case_id == case["case_id"]).order_by(
        review_case_row.c.source_system, review_case_row.c.source_key)).all()
    if row.isdigit() and 1 <= int(row) <= len(rows):
        system, key = rows[int(row) - 1]
    else:
        system, key = _key(row)
    if (system, key) not in {tuple(r) for r in rows}:
        raise DecisionError(f"{row} is not one of the case's rows (see `jinbao review show`)")
    conn.execute(delete(attribute_override).where(
        attribute_override.c.id_number == case["id_number"],
        attribute_override.c.attribute == case["attribute"]))
    conn.execute(insert(attribute_override).values(
        id_number=case["id_number"], attribute=case["attribute"], source_system=system,
        source_key=key, case_id=case["case_id"]))
    _recompute(conn, {case["id_number"]}, ctx, run_id)
    return {"attribute": case["attribute"], "row": f"{system}|{key}"}


def decide(conn: Connection, case_id: str, decision: str, ctx: Context, *, keep: int = 1,
           row: str | None = None, note: str | None = None,
           joining: list[int] | None = None) -> dict:
    """Take `decision` on an open case and apply it; returns the decision record."""
    case = _case(conn, case_id)
    allowed = DECISIONS[case["kind"]]
    if decision not in allowed:
        raise DecisionError(f"a {case['kind']} case takes {' | '.join(allowed)}, "
                            f"not {decision!r}")
    if case["status"] != OPEN:
        raise DecisionError(f"case {case_id} is {case['status']}; undo its decision first")
    decision_id = f"decision-{ctx.now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    detail: dict = {}
    if decision == "merge":
        detail = _merge(conn, case, keep, ctx, decision_id, joining)
        refresh_suspected_duplicates(conn, decision_id, entities=_entities_of(detail))
    elif decision == "pick":
        if not row:
            raise DecisionError("pick needs --row N: the row (as `show` numbers them) whose "
                                "value is right")
        detail = _pick(conn, case, row, ctx, decision_id)
    record = {"decision_id": decision_id, "case_id": case_id, "decision": decision,
              "detail": json.dumps(detail, ensure_ascii=False), "decided_by": ctx.decided_by,
              "note": note, "decided_at": ctx.now, "undone_at": None}
    conn.execute(insert(review_decision).values(**record))
    summary = {k: record[k] for k in ("decision_id", "decision", "decided_by")}
    conn.execute(update(review_case).where(review_case.c.case_id == case_id).values(
        status=RESOLVED, decision=json.dumps({**summary, "decided_at": str(ctx.now)})))
    return record


def undo(conn: Connection, case_id: str, ctx: Context) -> dict:
    """Reverse the case's standing decision exactly, and open the case again."""
    case = _case(conn, case_id)
    standing = conn.execute(select(review_decision).where(
        review_decision.c.case_id == case_id, review_decision.c.undone_at.is_(None))
        .order_by(review_decision.c.decided_at.desc())).mappings().first()
    if standing is None:
        raise DecisionError(f"case {case_id} has no decision to undo")
    detail = json.loads(standing["detail"] or "{}")
    run_id = f"undo-{standing['decision_id']}"
    if standing["decision"] == "merge":
        conn.execute(delete(identity_override).where(identity_override.c.case_id == case_id))
        for row in detail["rows"]:
            conn.execute(update(source_record).where(
                source_record.c.source_system == row["source_system"],
                source_record.c.source_key == row["source_key"]).values(
                {k: row[k] for k in ("outcome", "id_number", "bucket", "row_hash", "run_id")}))
        restored = pd.DataFrame(detail["quarantine"], columns=[c.name for c in quarantine.columns])
        for row in restored.itertuples(index=False):
            conn.execute(delete(quarantine).where(quarantine.c.source_system == row.source_system,
                                                  quarantine.c.source_key == row.source_key,
                                                  quarantine.c.rule == row.rule))
        copy_into(conn, quarantine, restored)
        ids = {detail["target"], *(r["id_number"] for r in detail["rows"] if r["id_number"])}
        _recompute(conn, ids, ctx, run_id)
        refresh_suspected_duplicates(conn, run_id, entities=_entities_of(detail))
    elif standing["decision"] == "pick":
        conn.execute(delete(attribute_override).where(attribute_override.c.case_id == case_id))
        _recompute(conn, {case["id_number"]}, ctx, run_id)
    conn.execute(update(review_decision).where(
        review_decision.c.decision_id == standing["decision_id"]).values(undone_at=ctx.now))
    conn.execute(update(review_case).where(review_case.c.case_id == case_id).values(
        status=OPEN, decision=None))
    return dict(standing)
