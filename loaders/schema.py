"""The warehouse's schema version: created at the newest revision when empty, upgraded by
Alembic (`jinbao db upgrade`), and never loaded into when it is behind this jinbao.

A warehouse created before migrations existed has the contract's tables and no
alembic_version: it counts as revision 0001 (the baseline) and is behind.
"""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect

from jinbao.errors import WarehouseError
from loaders.bulk import advisory_lock
from schemas.warehouse import CONTRACT_TABLES, metadata

MIGRATIONS = Path(__file__).parent / "migrations"
BASELINE = "0001"
SCHEMA_LOCK = 7073  # the advisory-lock class of schema changes
_READY: set[str] = set()  # warehouses this process found at the head revision


def _alembic(conn: Connection | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


@cache
def head_revision() -> str:
    return ScriptDirectory.from_config(_alembic()).get_current_head()


def revision_of(conn: Connection) -> str | None:
    """The warehouse's revision: None when it holds none of jinbao's tables; the baseline when
    it has them but no version (created before migrations)."""
    current = MigrationContext.configure(conn).get_current_revision()
    if current:
        return current
    present = set(inspect(conn).get_table_names())
    return BASELINE if present & set(CONTRACT_TABLES) else None


@contextmanager
def _schema_lock(engine: Engine):
    """One process changes the schema at a time: an advisory lock on PostgreSQL, a lock file
    beside a SQLite warehouse (parallel tasks all check the schema when they start)."""
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        path = Path(engine.url.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{path}.schema-lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            with engine.begin() as conn:
                yield conn
    else:
        with engine.begin() as conn:
            advisory_lock(conn, SCHEMA_LOCK)
            yield conn


def ensure_schema(engine: Engine) -> None:
    """Create the warehouse at the newest revision if it is empty; refuse, with what to do, if
    it is behind (or ahead of) this jinbao. Checked once per process and warehouse."""
    key = engine.url.render_as_string(hide_password=False)
    if key in _READY:
        return
    with _schema_lock(engine) as conn:
        current = revision_of(conn)
        if current is None:
            metadata.create_all(conn)
            command.stamp(_alembic(conn), "head")
        elif current != head_revision():
            raise WarehouseError(_behind(engine, current))
    _READY.add(key)


def _behind(engine: Engine, current: str) -> str:
    where = engine.url.render_as_string(hide_password=True)
    known = {s.revision for s in ScriptDirectory.from_config(_alembic()).walk_revisions()}
    if current not in known:
        return (f"the warehouse {where} is at schema revision {current}, which this jinbao does "
                f"not know (it needs {head_revision()}): a newer jinbao wrote it; upgrade jinbao")
    return (f"the warehouse {where} is at schema revision {current} and this jinbao needs "
            f"{head_revision()}: run `jinbao db upgrade` with the same configuration (back the "
            "warehouse up first)")


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the warehouse to the newest revision; returns (from, to). An empty warehouse is
    created; one that predates migrations is stamped at the baseline first."""
    with _schema_lock(engine) as conn:
        current = revision_of(conn)
        if current is None:
            metadata.create_all(conn)
            command.stamp(_alembic(conn), "head")
        else:
            if MigrationContext.configure(conn).get_current_revision() is None:
                command.stamp(_alembic(conn), BASELINE)
            command.upgrade(_alembic(conn), "head")
    _READY.discard(engine.url.render_as_string(hide_password=False))
    return current, head_revision()
