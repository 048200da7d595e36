"""Four eyes: a caseworker proposes a decision on a case (or the undoing of one); it is applied
only when a checker, a different person, approves it, through the same loaders.decisions the
command line uses (so a decision is kept by later runs and an undo restores exactly). A checker
may reject it instead; either way the proposal keeps who proposed, who checked, when and why.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import Connection, select, update

from loaders.decisions import DECISIONS, Context, DecisionError, decide, undo
from schemas.warehouse import review_case, review_proposal

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
UNDO = "undo"


class ProposalError(ValueError):
    """A proposal that cannot be made or checked as asked (the message says why)."""


class SamePerson(ProposalError):
    """The checker is the proposer: four eyes need two people."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def propose(conn: Connection, case_id: str, decision: str, by: str, *, keep: int | None = None,
            joining: list[int] | None = None, row: str | None = None,
            note: str | None = None) -> dict:
    """A pending proposal on the case: a decision its kind takes (on an open case), or `undo`
    (of a resolved case's standing decision). One pending proposal per case at a time."""
    found = conn.execute(select(review_case.c.kind, review_case.c.status).where(
        review_case.c.case_id == case_id)).first()
    if found is None:
        raise ProposalError(f"no case {case_id}")
    kind, status = found
    if decision == UNDO:
        if status != "resolved":
            raise ProposalError(f"case {case_id} is {status}: only a decided case can be undone")
    elif decision not in DECISIONS[kind]:
        raise ProposalError(f"a {kind} case takes {' | '.join(DECISIONS[kind])}, not "
                            f"{decision!r}")
    elif status != "open":
        raise ProposalError(f"case {case_id} is {status}: propose undo first")
    if decision == "merge" and keep is None:
        raise ProposalError("a merge needs keep: the entity whose number stays (as the case "
                            "numbers them)")
    if decision == "pick" and not row:
        raise ProposalError("a pick needs row: the record whose value is right")
    waiting = conn.execute(select(review_proposal.c.proposal_id).where(
        review_proposal.c.case_id == case_id, review_proposal.c.status == PENDING)).scalar()
    if waiting:
        raise ProposalError(f"case {case_id} has a proposal waiting for a checker ({waiting})")
    record = {"proposal_id": f"proposal-{_now():%Y%m%dT%H%M%S}-{secrets.token_hex(4)}",
              "case_id": case_id, "decision": decision, "note": note, "proposed_by": by,
              "proposed_at": _now(), "status": PENDING,
              "detail": json.dumps({"keep": keep, "with": joining, "row": row})}
    conn.execute(review_proposal.insert().values(**record))
    return shown(record)


def choices(kind: str, status: str) -> tuple[str, ...]:
    """What may be proposed on a case of this kind and status."""
    if status == "open":
        return DECISIONS[kind]
    return (UNDO,) if status == "resolved" else ()


def shown(record) -> dict:
    out = {k: record.get(k) for k in ("proposal_id", "case_id", "decision", "note",
                                      "proposed_by", "status", "checked_by", "check_note",
                                      "decision_id")}
    out["detail"] = json.loads(record.get("detail") or "{}")
    for moment in ("proposed_at", "checked_at"):
        out[moment] = None if record.get(moment) is None else str(record[moment])
    return out


def proposals(conn: Connection, status: str | None = PENDING, limit: int = 100) -> list[dict]:
    query = select(review_proposal).order_by(review_proposal.c.proposed_at,
                                             review_proposal.c.proposal_id).limit(limit)
    if status:
        query = query.where(review_proposal.c.status == status)
    return [shown(dict(r)) for r in conn.execute(query).mappings()]


def _pending(conn: Connection, proposal_id: str, checker: str) -> dict:
    found = conn.execute(select(review_proposal).where(
        review_proposal.c.proposal_id == proposal_id)).mappings().first()
    if found is None:
        raise ProposalError(f"no proposal {proposal_id}")
    if found["status"] != PENDING:
        raise ProposalError(f"proposal {proposal_id} is {found['status']} already")
    if found["proposed_by"] == checker:
        raise SamePerson("a proposal is applied only when another person approves it")
    return dict(found)


def approve(conn: Connection, proposal_id: str, checker: str, ctx: Context,
            note: str | None = None) -> dict:
    """Apply the proposal (loaders.decisions, recorded as decided by proposer and checker),
    in the open transaction."""
    found = _pending(conn, proposal_id, checker)
    detail = json.loads(found["detail"] or "{}")
    ctx = replace(ctx, decided_by=f"{found['proposed_by']}+{checker}"[:64])
    try:
        if found["decision"] == UNDO:
            decided = undo(conn, found["case_id"], ctx)
        else:
            decided = decide(conn, found["case_id"], found["decision"], ctx,
                             keep=detail.get("keep") or 1, row=detail.get("row"),
                             note=found["note"], joining=detail.get("with"))
    except DecisionError as error:
        raise ProposalError(str(error)) from None
    _checked(conn, proposal_id, APPROVED, checker, note, decided["decision_id"])
    return shown({**found, "status": APPROVED, "checked_by": checker, "check_note": note,
                  "checked_at": _now(), "decision_id": decided["decision_id"]})


def reject(conn: Connection, proposal_id: str, checker: str, note: str | None = None) -> dict:
    found = _pending(conn, proposal_id, checker)
    _checked(conn, proposal_id, REJECTED, checker, note, None)
    return shown({**found, "status": REJECTED, "checked_by": checker, "check_note": note,
                  "checked_at": _now()})


def _checked(conn: Connection, proposal_id: str, status: str, checker: str, note: str | None,
             decision_id: str | None) -> None:
    conn.execute(update(review_proposal).where(
        review_proposal.c.proposal_id == proposal_id).values(
        status=status, checked_by=checker, checked_at=_now(), check_note=note,
        decision_id=decision_id))
