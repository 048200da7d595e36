"""The review queue over the API: by priority, masked unless a purpose is given (and then
recorded), and four eyes: a caseworker proposes, a checker (another person) applies."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from jinbao.review import decision_context
from loaders.warehouse import warehouse_engine
from schemas.warehouse import access_log, identity_override
from service import proposals
from tests.conftest import warehouse_dump
from tests.service.conftest import ACCOUNTS, token


def _merge_case(client, headers) -> tuple[str, int]:
    """An open suspected duplicate with a person to keep, and that person's entity number."""
    listed = client.get("/api/v1/cases", params={"kind": "suspected_duplicate", "limit": 500},
                        headers=headers).json()["cases"]
    for case in listed:
        detail = client.get(f"/api/v1/cases/{case['case_id']}", headers=headers).json()
        people = [i for i, e in enumerate(detail["entities"], 1) if "|" not in e]
        if people:
            return case["case_id"], people[0]
    pytest.fail("no suspected duplicate with a person in the estate")


def test_the_queue_puts_what_is_at_stake_first(client):
    cases = client.get("/api/v1/cases", params={"limit": 500},
                       headers=token(client, "caseworker")).json()["cases"]
    assert len(cases) > 20 and {c["status"] for c in cases} == {"open"}
    keys = [(c["active_enrollments"], c["paying_enrollments"],
             -1e9 if c["score"] is None else c["score"]) for c in cases]
    assert keys == sorted(keys, reverse=True)
    assert keys[0][0] > keys[-1][0]  # the order is not flat
    assert not any(re.search(r"\d{17}[\dX]", str(c["person"])) for c in cases)  # masked


def test_a_case_is_masked_until_a_purpose_is_given_then_the_view_is_recorded(client, served):
    headers = token(client, "checker")
    case_id = client.get("/api/v1/cases", params={"kind": "attribute_conflict"},
                         headers=headers).json()["cases"][0]["case_id"]
    masked = client.get(f"/api/v1/cases/{case_id}", headers=headers).json()
    assert not masked["full"] and "*" in masked["person"]
    assert any(f["differs"] for f in masked["fields"])  # what disagrees is marked
    full = client.get(f"/api/v1/cases/{case_id}", params={"purpose": "deciding the case"},
                      headers=headers).json()
    assert full["full"] and re.fullmatch(r"\d{17}[\dX]", full["person"])
    with warehouse_engine(served.warehouse_url).connect() as conn:
        views = conn.execute(select(access_log.c.user_name, access_log.c.subject,
                                    access_log.c.purpose).where(
            access_log.c.action == "view_case")).all()
    assert (ACCOUNTS["checker"], case_id, "deciding the case") in views


def test_four_eyes_a_caseworker_proposes_a_checker_applies(client, served):
    worker, checker = token(client, "caseworker"), token(client, "checker")
    engine = warehouse_engine(served.warehouse_url)
    before = warehouse_dump(engine, ignore_runs=True)
    case_id, keep = _merge_case(client, worker)
    proposed = client.post(f"/api/v1/cases/{case_id}/proposals",
                           json={"decision": "merge", "keep": keep, "note": "same person"},
                           headers=worker)
    assert proposed.status_code == 201, proposed.text
    proposal = proposed.json()["proposal_id"]
    again = client.post(f"/api/v1/cases/{case_id}/proposals", json={"decision": "dismiss"},
                        headers=worker)
    assert again.status_code == 409 and "waiting" in again.json()["detail"]
    assert warehouse_dump(engine, ignore_runs=True) == before  # a proposal changes nothing
    # the caseworker cannot apply it; a checker (another person) can
    assert client.post(f"/api/v1/proposals/{proposal}/approve", headers=worker).status_code == 403
    approved = client.post(f"/api/v1/proposals/{proposal}/approve",
                           json={"note": "checked the files"}, headers=checker)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    with engine.connect() as conn:
        decided = conn.execute(text("SELECT decided_by, decision FROM review_decision WHERE "
                                    "case_id = :c"), {"c": case_id}).one()
        moved = conn.execute(select(identity_override).where(
            identity_override.c.case_id == case_id)).all()
        status = conn.execute(text("SELECT status FROM review_case WHERE case_id = :c"),
                              {"c": case_id}).scalar_one()
    assert decided == (f"{ACCOUNTS['caseworker']}+{ACCOUNTS['checker']}", "merge")
    assert moved and status == "resolved"
    twice = client.post(f"/api/v1/proposals/{proposal}/approve", headers=checker)
    assert twice.status_code == 409
    # undone the same way: proposed, then approved; the warehouse is as it was
    undo = client.post(f"/api/v1/cases/{case_id}/proposals", json={"decision": "undo"},
                       headers=worker).json()["proposal_id"]
    assert client.post(f"/api/v1/proposals/{undo}/approve", headers=checker).status_code == 200
    assert restored(warehouse_dump(engine, ignore_runs=True)) == restored(before)


def restored(dump: dict) -> dict:
    """What an undo puts back as it was (as the command line's undo test holds it): persons,
    enrollments, source rows and quarantine rows."""
    return {t: dump[t] for t in ("person", "enrollment", "source_record", "quarantine")}


def test_a_rejected_proposal_changes_nothing(client, served):
    worker, checker = token(client, "caseworker"), token(client, "checker")
    engine = warehouse_engine(served.warehouse_url)
    case_id = client.get("/api/v1/cases", params={"kind": "duplicate_enrollment"},
                         headers=worker).json()["cases"][0]["case_id"]
    before = warehouse_dump(engine)
    proposal = client.post(f"/api/v1/cases/{case_id}/proposals",
                           json={"decision": "confirm"}, headers=worker).json()["proposal_id"]
    waiting = client.get("/api/v1/proposals", headers=checker).json()["proposals"]
    assert proposal in [p["proposal_id"] for p in waiting]
    rejected = client.post(f"/api/v1/proposals/{proposal}/reject",
                           json={"note": "not yet"}, headers=checker)
    assert rejected.json()["status"] == "rejected" and rejected.json()["check_note"] == "not yet"
    assert warehouse_dump(engine) == before
    wrong = client.post(f"/api/v1/cases/{case_id}/proposals", json={"decision": "merge"},
                        headers=worker)
    assert wrong.status_code == 409 and "takes confirm | dismiss" in wrong.json()["detail"]


def test_nobody_approves_their_own_proposal(served):
    """Roles keep a caseworker from approving anything; the rule itself holds for any account
    (two roles for one person would be an administrator's mistake, not a way round it)."""
    engine = warehouse_engine(served.warehouse_url)
    with engine.begin() as conn:
        case_id = conn.execute(text("SELECT case_id FROM review_case WHERE status = 'open' "
                                    "AND kind = 'duplicate_enrollment'")).scalars().first()
        made = proposals.propose(conn, case_id, "dismiss", "somebody")
        with pytest.raises(proposals.SamePerson, match="another person"):
            proposals.approve(conn, made["proposal_id"], "somebody",
                              decision_context(served, "somebody"))
