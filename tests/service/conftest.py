"""A warehouse loaded once for the service's tests, its accounts, and a client per test."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jinbao.runner import run_pipeline
from loaders.warehouse import warehouse_engine
from service import accounts
from service.app import create_app
from tests.conftest import fresh_config

PASSWORD = "correct horse battery"
ACCOUNTS = {role: f"the_{role}" for role in accounts.ROLES}


@pytest.fixture(scope="session")
def loaded(small_estate, tmp_path_factory) -> Path:
    """The small estate consolidated into a warehouse once, with one account per role."""
    cfg = fresh_config(small_estate, tmp_path_factory.mktemp("loaded"))
    run_pipeline(cfg, workers=1)
    engine = warehouse_engine(cfg.warehouse_url)
    with engine.begin() as conn:
        for role, name in ACCOUNTS.items():
            accounts.add_user(conn, name, role, PASSWORD)
    engine.dispose()
    return Path(cfg.warehouse_url.removeprefix("sqlite:///"))


@pytest.fixture(scope="module")
def served(loaded, small_estate, tmp_path_factory):
    """A copy of that warehouse for the module (its tests decide cases, lock accounts)."""
    cfg = fresh_config(small_estate, tmp_path_factory.mktemp("served"))
    shutil.copyfile(loaded, cfg.warehouse_url.removeprefix("sqlite:///"))
    return cfg


@pytest.fixture
def client(served) -> Iterator[TestClient]:
    cfg = dataclasses.replace(served, service=dataclasses.replace(
        served.service, login_attempts=3))
    with TestClient(create_app(cfg)) as test_client:
        yield test_client


def token(client: TestClient, role: str) -> dict[str, str]:
    """The Authorization header of a login as the account of `role`."""
    answer = client.post("/api/v1/token", data={"username": ACCOUNTS[role],
                                                "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}
