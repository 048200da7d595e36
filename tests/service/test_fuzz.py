"""A property-based fuzz of every operation the OpenAPI document describes (schemathesis):
whatever it sends, with a login of a role the operation admits, no answer is a 5xx."""

from __future__ import annotations

import re

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from service.app import create_app
from tests.service.conftest import ACCOUNTS, PASSWORD, token


def _logins(app) -> dict[str, tuple[dict, dict]]:
    """Per role, the bearer header and the page session of a login."""
    found = {}
    with TestClient(app) as client:
        for role in ACCOUNTS:
            form = client.get("/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
            page = client.post("/login", data={"username": ACCOUNTS[role],
                                               "password": PASSWORD, "csrf": csrf},
                               follow_redirects=False)
            found[role] = (token(client, role), {"jinbao_session": page.cookies[
                "jinbao_session"]})
            client.cookies.clear()
    return found


def test_no_input_gives_a_server_error(served):
    app = create_app(served)
    logins = _logins(app)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app,
                                            headers=logins["auditor"][0])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        admitted = operation.definition.raw.get("x-roles") or []
        _fuzzed(operation, *(logins[admitted[0]] if admitted else ({}, {})))


def _fuzzed(operation, headers: dict, cookies: dict) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck),
              database=None)
    def fuzz(case):
        response = case.call(headers=headers, cookies=cookies)
        assert response.status_code < 500, (case.method, case.formatted_path,
                                            response.text[:300])

    fuzz()
