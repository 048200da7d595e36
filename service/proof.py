"""Proof of insurance (参保证明): a PDF of a person's enrollments as the warehouse holds them,
with a verification code that the service checks (an operator answers "is this proof ours?"
from the code alone: who it was issued to, masked, when, and what it stated).

The PDF is drawn with fpdf2 in a Chinese font of the machine (Noto Sans CJK from Debian's
fonts-noto-cjk, found by fontconfig), or the file `[service] proof_font` names; its glyphs are
embedded, so the PDF reads the same anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import shutil
import subprocess
from datetime import UTC, datetime
from functools import cache

from sqlalchemy import Connection, insert, select

from quality.masking import masked_id, masked_name
from schemas.warehouse import proof_document
from service import audit
from service.audit import subject_key
from service.lookup import number_of, person_answer

FONT_QUERY = "Noto Sans CJK SC:lang=zh-cn"


class NoFont(RuntimeError):
    """No Chinese font to draw a proof with (the message says how to install one)."""


@cache
def chinese_font(configured: str | None = None) -> tuple[str, int]:
    """(font file, index in a collection) to draw Chinese with."""
    if configured:
        path, _, index = configured.partition("#")
        return path, int(index or 0)
    found = ""
    if shutil.which("fc-match"):
        found = subprocess.run(["fc-match", "-f", "%{file}|%{index}|%{lang}", FONT_QUERY],
                               capture_output=True, text=True, timeout=10).stdout
    path, _, rest = found.partition("|")
    index, _, languages = rest.partition("|")
    if not path or "zh-cn" not in languages:
        raise NoFont("no Chinese font on this server to draw a proof with: install Debian's "
                     "fonts-noto-cjk, or name a font file in [service] proof_font")
    return path, int(index or 0)


def verification_code(key: str) -> str:
    """A fresh code, readable over the phone: 16 letters and digits in groups of four."""
    raw = hmac.new(key.encode(), secrets.token_bytes(16), hashlib.sha256).digest()[:10]
    text = base64.b32encode(raw).decode()
    return "-".join(text[i:i + 4] for i in range(0, 16, 4))


def _stated(person: dict) -> list[dict]:
    return [{"scheme": e["scheme"]["code"] if e["scheme"] else None,
             "scheme_label": e["scheme"]["label"] if e["scheme"] else None,
             "region": e["pooling_region"]["code"] if e["pooling_region"] else None,
             "region_label": e["pooling_region"]["label"] if e["pooling_region"] else None,
             "status": e["status"]["label"] if e["status"] else None,
             "pay_status": e["pay_status"]["label"] if e["pay_status"] else None,
             "since": e["enrolled_on"], "province": e["province"],
             "under_review": bool(e["under_review"])}
            for e in person["enrollments"]]


def issue(conn: Connection, person: dict, by: str, key: str) -> tuple[str, datetime]:
    """Record a proof for the person (person_answer's); its code and issue time."""
    code, now = verification_code(key), datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    conn.execute(insert(proof_document).values(
        code=code, subject=masked_id(person["id_number"]),
        subject_key=subject_key(person["id_number"], key), holder=masked_name(person["name"]),
        content=json.dumps(_stated(person), ensure_ascii=False), issued_at=now, issued_by=by))
    return code, now


def code_of(text: str) -> str | None:
    """A verification code as printed (XXXX-XXXX-XXXX-XXXX) from what was typed (any case,
    spaces, dashes); None when it cannot be one (and is not recorded as given: a caller may
    have read out something else, a number)."""
    cleaned = "".join(ch for ch in text.upper() if ch.isalnum())
    if len(cleaned) != 16 or not set(cleaned) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"):
        return None
    return "-".join(cleaned[i:i + 4] for i in range(0, 16, 4))


def verified(conn: Connection, code: str) -> dict | None:
    """What the proof with this code stated, to whom (masked) and when; None: not ours."""
    formatted = code_of(code)
    if formatted is None:
        return None
    found = conn.execute(select(proof_document).where(proof_document.c.code == formatted)
                         ).mappings().first()
    if found is None:
        return None
    return {"code": found["code"], "holder": found["holder"], "subject": found["subject"],
            "issued_at": f"{found['issued_at']:%Y-%m-%d %H:%M:%S}",
            "issued_by": found["issued_by"], "enrollments": json.loads(found["content"])}


def pdf(person: dict, code: str, issued: datetime, font: str | None = None) -> bytes:
    """The proof as PDF bytes (Chinese)."""
    from fpdf import FPDF

    path, index = chinese_font(font)
    document = FPDF(format="A4")
    document.set_title("参保证明")
    document.add_page()
    document.add_font("cjk", "", path, collection_font_number=index)
    document.set_font("cjk", size=20)
    document.cell(0, 14, "参保证明", align="C", new_x="LMARGIN", new_y="NEXT")
    document.set_font("cjk", size=11)
    sex = person["sex"]["label"] if person["sex"] else ""
    lines = [f"姓名：{person['name']}    性别：{sex}    出生日期：{person['birth_date'] or ''}",
             f"公民身份号码：{person['id_number']}",
             "经核查，该参保人员在本系统中的参保情况如下："]
    for line in lines:
        document.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    document.ln(2)
    widths = (58, 36, 26, 26, 26, 18)
    heads = ("险种", "统筹区", "参保状态", "缴费状态", "参保日期", "省份")
    for width, head in zip(widths, heads, strict=True):
        document.cell(width, 8, head, border=1)
    document.ln()
    for row in _stated(person):
        status = (row["status"] or "") + ("（审核中）" if row["under_review"] else "")
        cells = (row["scheme_label"] or row["scheme"] or "", row["region_label"] or "",
                 status, row["pay_status"] or "", row["since"] or "", row["province"] or "")
        for width, text in zip(widths, cells, strict=True):
            document.cell(width, 8, str(text)[:20], border=1)
        document.ln()
    document.ln(4)
    if person["under_review"] or any(r["under_review"] for r in _stated(person)):
        document.multi_cell(0, 7, "注：标明“审核中”的信息正由经办机构核实，以核实结果为准。")
    document.cell(0, 8, f"出具时间：{issued:%Y-%m-%d %H:%M}", new_x="LMARGIN", new_y="NEXT")
    document.cell(0, 8, f"验证码：{code}（可致电 12333 核验本证明）", new_x="LMARGIN",
                  new_y="NEXT")
    return bytes(document.output())


def issued_for(state, number: str, user, client: str | None) -> tuple[bytes, str]:
    """A proof for the person with this number (in any form), issued by `user` and recorded
    (issue, then the access record); the PDF and its code. NotANumber, LookupError (no such
    person) or NoFont when it cannot be."""
    found = number_of(number)
    chinese_font(state.settings.proof_font)  # no font, no record of a proof never printed
    with state.engine.begin() as conn:
        answer = person_answer(conn, found)
        if answer is None:
            raise LookupError(number)
        code, when = issue(conn, answer, user.name, state.key)
        audit.record(conn, user.name, user.role, "issue_proof", "ok", state.key, number=found,
                     subject=code, purpose="proof of insurance", client=client)
    return pdf(answer, code, when, state.settings.proof_font), code
