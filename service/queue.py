"""The caseworkers' review queue: cases by priority, and one case with the records it is about
side by side.

Priority: what is at stake first. The warehouse holds no benefit amounts, so the money at stake
is read from the enrollments of the case's people: active ones first (an enrollment paid twice,
or a person's contributions split between two records), then those being paid into; then the
match score; then age (the oldest case first: run ids sort by their start).

A case shows masked numbers and names unless the viewer gives a purpose: then the full values,
and the view is recorded (service.audit) with that purpose.
"""

from __future__ import annotations

import json

import pandas as pd
from sqlalchemy import Connection, and_, case, func, literal, select

from quality.masking import masked_id, masked_key, masked_name
from schemas.codes import area_name, code_table
from schemas.warehouse import (
    enrollment,
    review_case,
    review_case_row,
    review_decision,
    source_record,
)

KINDS = ("attribute_conflict", "suspected_duplicate", "duplicate_enrollment")
STATUSES = ("open", "resolved", "withdrawn")
SIDE_BY_SIDE = ("name", "sex", "birth_date", "claimed_id", "id_number", "scheme",
                "pooling_region", "status", "pay_status", "employer_id", "enrolled_on",
                "updated_at", "outcome")
"""The fields of each record a case shows, in this order."""


def _people():
    """(case_id, id_number): every person a case is about, its own and its rows'."""
    own = select(review_case.c.case_id, review_case.c.id_number.label("id_number")).where(
        review_case.c.id_number.is_not(None))
    rows = select(review_case_row.c.case_id, review_case_row.c.id_number).where(
        review_case_row.c.id_number.is_not(None))
    return own.union(rows).subquery()


def queue(conn: Connection, kind: str | None = None, status: str = "open",
          region: str | None = None, limit: int = 50, offset: int = 0) -> list[dict]:
    """Cases by priority (see the module), masked: id, kind, attribute, person, score, the
    active and paying enrollments at stake, the opening run."""
    people = _people()
    active = enrollment.c.status == literal("1")
    stake = (select(people.c.case_id,
                    func.sum(case((active, 1), else_=0)).label("active"),
                    func.sum(case((and_(active, enrollment.c.pay_status == literal("1")), 1),
                                  else_=0)).label("paying"))
             .select_from(people.outerjoin(enrollment, enrollment.c.id_number
                                           == people.c.id_number))
             .group_by(people.c.case_id).subquery())
    query = (select(review_case.c.case_id, review_case.c.kind, review_case.c.attribute,
                    review_case.c.id_number, review_case.c.score, review_case.c.status,
                    review_case.c.opened_run,
                    func.coalesce(stake.c.active, 0).label("active"),
                    func.coalesce(stake.c.paying, 0).label("paying"))
             .outerjoin(stake, stake.c.case_id == review_case.c.case_id)
             .where(review_case.c.status == status))
    if kind:
        query = query.where(review_case.c.kind == kind)
    if region:  # a case about a row or an enrollment of the pooling region
        query = query.where(review_case.c.case_id.in_(
            select(review_case_row.c.case_id).join(source_record, and_(
                source_record.c.source_system == review_case_row.c.source_system,
                source_record.c.source_key == review_case_row.c.source_key)).where(
                source_record.c.pooling_region == region)))
    query = query.order_by(func.coalesce(stake.c.active, 0).desc(),
                           func.coalesce(stake.c.paying, 0).desc(),
                           func.coalesce(review_case.c.score, -1e9).desc(),
                           review_case.c.opened_run, review_case.c.case_id)
    rows = conn.execute(query.limit(limit).offset(offset)).mappings().all()
    return [{"case_id": r["case_id"], "kind": r["kind"], "attribute": r["attribute"],
             "person": masked_id(r["id_number"]) or None, "score": r["score"],
             "status": r["status"], "active_enrollments": int(r["active"]),
             "paying_enrollments": int(r["paying"]), "opened_run": r["opened_run"]}
            for r in rows]


def _shown(field: str, value, full: bool):
    """A record's value as the viewer may see it, codes labelled."""
    if value is None or value != value:
        return None
    if field in ("name",):
        return value if full else masked_name(value)
    if field in ("claimed_id", "id_number"):
        return value if full else masked_id(value)
    tables = {"sex": "sex", "scheme": "scheme", "status": "enrollment_status",
              "pay_status": "pay_status"}
    if field in tables:
        return {"code": value, "label": code_table(tables[field]).get(value, "")}
    if field == "pooling_region":
        return {"code": value, "label": area_name(value)}
    if field in ("birth_date", "enrolled_on"):
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    if field == "updated_at":
        return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S")
    return value


def case_detail(conn: Connection, case_id: str, full: bool) -> dict | None:
    """The case, its records side by side (each field with `differs` where the records
    disagree), its evidence (the match weights of a suspected duplicate), and its decisions.
    Masked unless `full`."""
    found = conn.execute(select(review_case).where(review_case.c.case_id == case_id)
                         ).mappings().first()
    if found is None:
        return None
    rows = conn.execute(select(review_case_row.c.source_system, review_case_row.c.source_key,
                               *(source_record.c[f] for f in SIDE_BY_SIDE))
                        .join(source_record, and_(
                            source_record.c.source_system == review_case_row.c.source_system,
                            source_record.c.source_key == review_case_row.c.source_key))
                        .where(review_case_row.c.case_id == case_id)
                        .order_by(review_case_row.c.source_system,
                                  review_case_row.c.source_key)).mappings().all()
    fields = [{"field": field,
               "differs": len({str(r[field]) for r in rows if r[field] is not None}) > 1,
               "values": [_shown(field, r[field], full) for r in rows]}
              for field in SIDE_BY_SIDE]
    decisions = conn.execute(select(
        review_decision.c.decision_id, review_decision.c.decision, review_decision.c.decided_by,
        review_decision.c.decided_at, review_decision.c.undone_at, review_decision.c.note)
        .where(review_decision.c.case_id == case_id).order_by(review_decision.c.decided_at)
    ).mappings().all()
    evidence = json.loads(found["evidence"] or "{}")
    return {
        "case_id": found["case_id"], "kind": found["kind"], "attribute": found["attribute"],
        "status": found["status"], "score": found["score"], "full": full,
        "person": found["id_number"] if full else masked_id(found["id_number"]) or None,
        "records": [masked_key(f"{r['source_system']}|{r['source_key']}") if not full
                    else f"{r['source_system']}|{r['source_key']}" for r in rows],
        "fields": fields,
        "entities": [e if full else (masked_key(e) if "|" in e else masked_id(e))
                     for e in evidence.get("entities", [])],
        "weights": [{"between": p["between"], "probability": p["probability"],
                     "weight": p["weight"], "prior": p["prior"],
                     "comparisons": p["comparisons"]} for p in evidence.get("pairs", [])],
        "decisions": [{**d, "decided_at": str(d["decided_at"]),
                       "undone_at": str(d["undone_at"]) if d["undone_at"] else None}
                      for d in decisions],
    }
