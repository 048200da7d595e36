"""The 12333 look-up: one person by the number in whatever form a caller gives it (18
characters, the old 15-digit form, a lower-case x, spaces, full-width digits), or by name and
birth date; the answer is the golden record with every enrollment (of every scheme, and every
province at the national tier), each code with its label, and what is under review where a case
is open: the caller hears "under review", never an answer chosen silently.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import Connection, select, union

from schemas.codes import area_name, code_table
from schemas.identity import ID_BIRTH_DATE, ID_CHECKSUM, ID_MALFORMED, ID_MISSING
from schemas.warehouse import enrollment, person, review_case, review_case_row
from transforms.cases import SCHEME_FAMILY
from transforms.identity import repaired_id

WHY_NOT = {
    ID_MISSING: "no number was given",
    ID_MALFORMED: "it is not an ID number: 18 characters (17 digits and a digit or X), or "
                  "the old 15 digits",
    ID_CHECKSUM: "its check character does not match: a digit was misheard or mistyped; read "
                 "it back to the caller",
    ID_BIRTH_DATE: "the birth date it holds is not a date",
}


class NotANumber(ValueError):
    """The text names no ID number; the message says why, in words a caller understands."""


def number_of(text: str) -> str:
    """The 18-character number the text names, repaired as the pipeline repairs a source's."""
    number, rule = repaired_id(text)
    if number is None:
        raise NotANumber(WHY_NOT.get(rule, f"it breaks the standard's rule {rule}"))
    return number


def _coded(table: str, code: str | None) -> dict | None:
    if code is None or code != code:
        return None
    return {"code": code, "label": code_table(table).get(code, "")}


def _region(code: str | None) -> dict | None:
    return None if not code else {"code": code, "label": area_name(code)}


def _day(value) -> str | None:
    if value is None or value != value:
        return None
    return (value if isinstance(value, date) else pd.Timestamp(value)).strftime("%Y-%m-%d")


def open_cases(conn: Connection, number: str) -> list[dict]:
    """The open review cases about the person: their own, and those their rows are in."""
    # a union of two index look-ups: an OR of the two made PostgreSQL scan every case
    about = union(select(review_case.c.case_id).where(review_case.c.id_number == number),
                  select(review_case_row.c.case_id).where(review_case_row.c.id_number == number))
    found = conn.execute(select(review_case.c.case_id, review_case.c.kind,
                                review_case.c.attribute).where(
        review_case.c.status == "open", review_case.c.case_id.in_(about))
        .order_by(review_case.c.case_id)).mappings().all()
    return [dict(r) for r in found]


def person_answer(conn: Connection, number: str) -> dict | None:
    """The person with this (repaired) number and every enrollment; None if there is none."""
    found = conn.execute(select(person).where(person.c.id_number == number)).mappings().first()
    if found is None:
        return None
    cases = open_cases(conn, number)
    disputed = {c["attribute"]: c["case_id"] for c in cases if c["kind"] == "attribute_conflict"}
    doubled = {c["attribute"]: c["case_id"] for c in cases
               if c["kind"] == "duplicate_enrollment"}
    enrollments = [{
        "scheme": _coded("scheme", e["scheme"]), "pooling_region": _region(e["pooling_region"]),
        "status": _coded("enrollment_status", e["status"]),
        "pay_status": _coded("pay_status", e["pay_status"]),
        "employer_id": e["employer_id"], "enrolled_on": _day(e["enrolled_on"]),
        "updated_at": None if e["updated_at"] is None else str(e["updated_at"]),
        "province": e["province"],
        "under_review": doubled.get(SCHEME_FAMILY.get(e["scheme"], "")),
    } for e in conn.execute(select(enrollment).where(enrollment.c.id_number == number)
                            .order_by(enrollment.c.scheme, enrollment.c.pooling_region,
                                      enrollment.c.province)).mappings()]
    return {
        "id_number": number, "name": found["name"],
        "sex": _coded("sex", found["sex"]), "ethnicity": _coded("ethnicity", found["ethnicity"]),
        "birth_date": _day(found["birth_date"]),
        "birth_region": _region(found["birth_region"]),
        "under_review": {attribute: disputed[attribute] for attribute in sorted(disputed)},
        "open_cases": cases,
        "enrollments": enrollments,
    }


def people_named(conn: Connection, name: str, born: date, limit: int = 20) -> list[dict]:
    """The persons with this name and birth date (names as the golden record holds them)."""
    found = conn.execute(select(person.c.id_number, person.c.name, person.c.birth_date,
                                person.c.sex).where(person.c.name == name.strip(),
                                                    person.c.birth_date == born)
                         .order_by(person.c.id_number).limit(limit)).mappings().all()
    return [{"id_number": r["id_number"], "name": r["name"], "birth_date": _day(r["birth_date"]),
             "sex": _coded("sex", r["sex"])} for r in found]
