"""The service's JSON API: the fixed routes (token, person), every route refused without a
login or to a role it does not admit (walked from the OpenAPI document), look-ups by every form
of a number people give, lock-out after failed logins, and the access record."""

from __future__ import annotations

import re
from functools import partial

import pytest
from sqlalchemy import select, text

from loaders.warehouse import warehouse_engine
from schemas.warehouse import access_log, person
from service import accounts
from tests.service.conftest import ACCOUNTS, PASSWORD, token

FULL_ID = re.compile(r"\d{17}[\dXx]")


def _some_person(cfg, with_x: bool = False) -> str:
    with warehouse_engine(cfg.warehouse_url).connect() as conn:
        numbers = conn.execute(select(person.c.id_number).order_by(person.c.id_number)).scalars()
        return next(n for n in numbers if n.endswith("X") == with_x and n[6:8] == "19")


def test_a_token_then_the_person_with_every_enrollment(client, served):
    number = _some_person(served)
    answer = client.get(f"/api/v1/persons/{number}", headers=token(client, "operator"))
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["id_number"] == number and found["enrollments"]
    with warehouse_engine(served.warehouse_url).connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM enrollment WHERE id_number = :n"),
                              {"n": number}).scalar_one()
    assert len(found["enrollments"]) == stored
    first = found["enrollments"][0]
    assert first["scheme"]["label"] and first["status"]["label"]  # codes with their labels
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("form", ["fifteen digits", "lower-case x", "spaces", "full-width",
                                  "trailing junk"])
def test_a_damaged_or_old_form_of_the_number_finds_the_person(client, served, form):
    number = _some_person(served, with_x=form == "lower-case x")
    given = {
        "fifteen digits": number[:6] + number[8:17],
        "lower-case x": number.lower(),
        "spaces": f"{number[:6]} {number[6:14]} {number[14:]}",
        "full-width": number.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")),
        "trailing junk": number + " ",
    }[form]
    answer = client.get(f"/api/v1/persons/{given}", headers=token(client, "operator"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["id_number"] == number


def test_an_unknown_or_broken_number_is_a_clear_4xx(client, served):
    headers = token(client, "operator")
    number = _some_person(served)
    wrong = number[:16] + str((int(number[16]) + 1) % 10) + number[17]  # check char now off
    broken = client.get(f"/api/v1/persons/{wrong}", headers=headers)
    assert broken.status_code == 422 and "check character" in broken.json()["detail"]
    assert number not in broken.text and wrong not in broken.text
    for text_ in ("hello", "1" * 30, "'; DROP TABLE person; --"):
        assert client.get(f"/api/v1/persons/{text_}", headers=headers).status_code == 422
    unknown = "11010519491231002X"  # valid, and nobody's here
    assert client.get(f"/api/v1/persons/{unknown}", headers=headers).status_code == 404


def _page_login(client, role: str) -> dict[str, str]:
    """The session cookie of a login through the login page."""
    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    done = client.post("/login", data={"username": ACCOUNTS[role], "password": PASSWORD,
                                       "csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303, done.text
    return {"jinbao_session": done.cookies["jinbao_session"]}


def _call(client, method: str, path: str, cookies: dict | None = None, **extra):
    client.cookies.clear()  # only what the call brings
    client.cookies.update(cookies or {})
    return getattr(client, method)(path, params={"name": "张三", "birth_date": "1990-01-01"},
                                   follow_redirects=False, **extra)


def test_every_route_refuses_no_login_and_the_roles_it_does_not_admit(client):
    """Walked from the OpenAPI document: each operation's x-roles are the roles it admits. An
    API route refuses no login with 401, a page sends the browser to /login; both refuse a
    role they do not admit with 403. Only the logins admit everyone (x-roles: [])."""
    document = client.get("/api/v1/openapi.json", headers=token(client, "auditor"))
    assert document.status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 401
    headers = {role: token(client, role) for role in accounts.ROLES}
    cookies = {role: _page_login(client, role) for role in accounts.ROLES}
    public, checked = set(), 0
    for path, operations in document.json()["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "11010519491231002X", path)
        for method, operation in operations.items():
            admitted = operation["x-roles"]
            if not admitted:
                public.add(path)
                continue
            page = operation.get("x-page", False)
            call = partial(_call, client, method, concrete)
            for anonymous in (call(), call(headers={"Authorization": "Bearer not-a-token"}),
                              call(cookies={"jinbao_session": "not-a-token"})):
                if page:
                    assert anonymous.status_code == 303, (method, path)
                    assert anonymous.headers["location"] == "/login"
                else:
                    assert anonymous.status_code == 401, (method, path)
            for role in accounts.ROLES:
                given = {"cookies": cookies[role]} if page else {"headers": headers[role]}
                status = call(**given).status_code
                assert (status == 403) == (role not in admitted), (method, path, role, status)
            checked += 1
    assert public == {"/api/v1/token", "/login"}
    assert checked >= 15


def test_a_disabled_account_is_refused_at_once(client, served):
    engine = warehouse_engine(served.warehouse_url)
    with engine.begin() as conn:
        accounts.add_user(conn, "leaving", "operator", PASSWORD)
    headers = {"Authorization": "Bearer " + client.post("/api/v1/token", data={
        "username": "leaving", "password": PASSWORD}).json()["access_token"]}
    assert client.get("/api/v1/me", headers=headers).json()["role"] == "operator"
    with engine.begin() as conn:
        accounts.disable_user(conn, "leaving")
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_failed_logins_lock_the_account_for_a_while(client, served):
    with warehouse_engine(served.warehouse_url).begin() as conn:
        accounts.add_user(conn, "guessed", "operator", PASSWORD)
    for _ in range(3):  # the fixture allows 3
        wrong = client.post("/api/v1/token", data={"username": "guessed", "password": "nope"})
        assert wrong.status_code == 401 and "password" in wrong.json()["detail"]
    locked = client.post("/api/v1/token", data={"username": "guessed", "password": PASSWORD})
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    # another account is not held back
    assert client.post("/api/v1/token", data={"username": ACCOUNTS["operator"],
                                              "password": PASSWORD}).status_code == 200


def test_every_lookup_is_recorded_without_the_number_and_found_by_it(client, served):
    number = _some_person(served)
    client.get(f"/api/v1/persons/{number}", params={"purpose": "caller asks about pension"},
               headers=token(client, "caseworker"))
    with warehouse_engine(served.warehouse_url).connect() as conn:
        rows = conn.execute(select(access_log)).mappings().all()
    assert not any(FULL_ID.search(str(value)) for row in rows for value in row.values())
    found = client.get("/api/v1/audit", params={"number": number,
                                                "account": ACCOUNTS["caseworker"]},
                       headers=token(client, "auditor")).json()["entries"]
    assert [(e["user_name"], e["action"], e["outcome"], e["purpose"]) for e in found] == [
        (ACCOUNTS["caseworker"], "lookup", "found", "caller asks about pension")]
    assert found[0]["subject"] == number[:6] + "********" + number[-4:]


def test_validation_errors_name_the_field_never_the_value(client):
    answer = client.get("/api/v1/persons", params={"name": "张三", "birth_date": "31/12/1990"},
                        headers=token(client, "operator"))
    assert answer.status_code == 422
    body = answer.json()
    assert body["problems"][0]["field"] == "birth_date" and "31/12/1990" not in answer.text
