"""The proof of insurance (参保证明): a PDF of the person's enrollments with a verification code
that the service checks; issued and checked on record."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader
from sqlalchemy import select, text

from loaders.warehouse import warehouse_engine
from schemas.warehouse import access_log, proof_document
from tests.service.conftest import token


def _someone(cfg) -> tuple[str, str, int]:
    with warehouse_engine(cfg.warehouse_url).connect() as conn:
        return conn.execute(text(
            "SELECT p.id_number, p.name, count(*) FROM person p JOIN enrollment e "
            "ON e.id_number = p.id_number GROUP BY p.id_number, p.name "
            "ORDER BY count(*) DESC, p.id_number LIMIT 1")).one()


def test_a_proof_names_the_enrollments_and_its_code_checks_out(client, served):
    number, name, enrollments = _someone(served)
    operator = token(client, "operator")
    issued = client.post(f"/api/v1/persons/{number[:6]}{number[8:17]}/proof",  # 15 digits
                         headers=operator)
    assert issued.status_code == 200, issued.text
    assert issued.headers["content-type"] == "application/pdf"
    code = re.search(r"proof-([A-Z2-7-]+)\.pdf", issued.headers["content-disposition"]).group(1)
    page = re.sub(r"[\s\x00]", "", PdfReader(io.BytesIO(issued.content)).pages[0].extract_text())
    assert "参保证明" in page and name in page and number in page and code in page
    assert page.count("正常参保") + page.count("暂停参保") + page.count("终止参保") >= 1
    checked = client.get(f"/api/v1/proofs/{code.lower().replace('-', ' ')}", headers=operator)
    assert checked.status_code == 200, checked.text
    found = checked.json()
    assert found["subject"] == number[:6] + "********" + number[-4:]
    assert found["holder"].startswith(name[0]) and name not in found["holder"]
    assert len(found["enrollments"]) == enrollments
    forged = code[:-1] + ("A" if code[-1] != "A" else "B")
    assert client.get(f"/api/v1/proofs/{forged}", headers=operator).status_code == 404
    with warehouse_engine(served.warehouse_url).connect() as conn:
        kept = conn.execute(select(proof_document)).mappings().all()
        actions = conn.execute(select(access_log.c.action, access_log.c.outcome).where(
            access_log.c.action.in_(["issue_proof", "verify_proof"]))).all()
    assert not any(number in str(v) or name in str(v) for row in kept for v in row.values())
    assert ("issue_proof", "ok") in actions and ("verify_proof", "found") in actions
    assert ("verify_proof", "not_found") in actions


def test_no_proof_for_nobody(client):
    operator = token(client, "operator")
    assert client.post("/api/v1/persons/11010519491231002X/proof",
                       headers=operator).status_code == 404
    assert client.post("/api/v1/persons/not-a-number/proof", headers=operator).status_code == 422
