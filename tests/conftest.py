"""Shared fixtures: simulated estates (built once per session) and fresh warehouses per test."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from estate import build_estate
from jinbao.config import Config, load_config

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def estate_2000(tmp_path_factory) -> Path:
    """The issue's reference estate: 2,000 persons, every damage of the catalogue."""
    out = tmp_path_factory.mktemp("estate2000")
    build_estate(2000, 2026, out)
    return out


@pytest.fixture(scope="session")
def small_estate(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("estate300")
    build_estate(300, 11, out)
    return out


def fresh_config(estate: Path, workdir: Path, buckets: int | None = None) -> Config:
    """The estate's configuration with its own empty warehouse, staging and GX folders."""
    cfg = load_config(estate / "jinbao.toml")
    workdir.mkdir(parents=True, exist_ok=True)
    return dataclasses.replace(
        cfg, warehouse_url=f"sqlite:///{workdir / 'warehouse.db'}",
        staging_root=workdir / "staging", gx_root=workdir / "gx",
        buckets=buckets or cfg.buckets)


def written_config(cfg: Config, path: Path) -> Path:
    """`cfg` as a TOML file with absolute paths (for subprocesses: the CLI, Airflow)."""
    lines = [f'[warehouse]\nurl = "{cfg.warehouse_url}"\n',
             f'[staging]\nroot = "{cfg.staging_root}"\ngx_root = "{cfg.gx_root}"\n'
             f"buckets = {cfg.buckets}\n"]
    for name, source in cfg.sources.items():
        where = f'path = "{source.path}"' if source.path else f'url = "{source.url}"'
        lines.append(f'[sources.{name}]\nsystem = "{source.system}"\n{where}\n')
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


SERVERS = {
    "postgres": ("postgresql+psycopg://postgres@127.0.0.1:5432/{db}",
                 "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"),
    "mariadb": ("mysql+pymysql://root@127.0.0.1:3306/{db}?charset=utf8mb4",
                "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd"),
}


def _scratch_database(kind: str) -> Iterator[str]:
    """A new, empty database on a local server, dropped afterwards."""
    template, start = SERVERS[kind]
    admin_db = "postgres" if kind == "postgres" else ""
    name = f"jinbao_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(template.format(db=admin_db), isolation_level="AUTOCOMMIT")
    try:
        conn = admin.connect()
    except OperationalError as error:
        if os.environ.get("JINBAO_SKIP_SERVERS"):
            pytest.skip(f"{kind} not running and JINBAO_SKIP_SERVERS is set")
        pytest.fail(f"{kind} is not reachable ({str(error).splitlines()[0]}); start it: {start}")
    with conn:
        charset = " CHARACTER SET utf8mb4" if kind == "mariadb" else ""
        conn.execute(text(f"CREATE DATABASE {name}{charset}"))
        try:
            yield template.format(db=name)
        finally:
            force = " WITH (FORCE)" if kind == "postgres" else ""
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}{force}"))
    admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _scratch_database("postgres")


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    yield from _scratch_database("mariadb")


DUMPED = ["person", "person_history", "enrollment", "source_record", "quarantine",
          "review_case", "review_case_row", "watermark"]
RUN_COLUMNS = {"run_id", "created_run", "updated_run", "valid_from", "valid_to", "opened_run"}


def settled(engine) -> None:
    """The linkage model retrained on the warehouse's rows as they now stand, and every entity
    matched again with it (`jinbao match train`, then `match rerun --apply`). Warehouses the
    same rows reached in different slices (a backfill) trained their first models on different
    rows; settled, they hold the same model and the same cases."""
    from loaders import matching

    with engine.begin() as conn:
        matching.train(conn, "settle")
        matching.refresh(conn, "settle", full=True)


def standing(dump: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    """A dump without withdrawn cases (slices raise and withdraw cases one run over the whole
    range never sees: the record rightly keeps them) and their rows, and without the model
    version a case's evidence names (like a run id: which training, not what it learnt)."""
    import json

    from schemas.warehouse import review_case

    names = [c.name for c in review_case.columns if c.name not in RUN_COLUMNS]
    status, evidence = names.index("status"), names.index("evidence")

    def unversioned(row: tuple) -> tuple:
        found = json.loads(row[evidence] or "{}")
        found.pop("model", None)
        return (*row[:evidence], json.dumps(found, sort_keys=True), *row[evidence + 1:])

    cases = [unversioned(r) for r in dump["review_case"] if r[status] != "withdrawn"]
    kept = {r[0] for r in cases}
    return {**dump, "review_case": cases,
            "review_case_row": [r for r in dump["review_case_row"] if r[0] in kept]}


def warehouse_dump(engine, ignore_runs: bool = False) -> dict[str, list[tuple]]:
    """Every row of every data table in key order (the run ledger grows by design).

    ignore_runs leaves out which run wrote a row and when, to compare warehouses that the same
    data reached through different runs (a backfill, a crash and a rerun).
    """
    from sqlalchemy import select

    from schemas.warehouse import metadata

    out = {}
    with engine.connect() as conn:
        for name in DUMPED:
            table = metadata.tables[name]
            columns = [c for c in table.columns if not (ignore_runs and c.name in RUN_COLUMNS)]
            keys = [c for c in table.primary_key.columns if c in columns] or columns
            rows = conn.execute(select(*columns).order_by(*keys)).all()
            out[name] = sorted(tuple(r) for r in rows) if ignore_runs else [tuple(r) for r in rows]
    return out
