"""`jinbao doctor`: a configuration checked end to end, each finding with what to fix.

    configuration   the file against its model (every problem at once)
    warehouse       reachable, its schema revision, whether jinbao may write and create tables
    folders         staging, GX and report roots writable, free disk space
    sources         each one reachable within its timeout, its tables and columns as its system
                    defines them; injury exports: month folders, .csv files, headers
    pools           the Airflow pools the DAGs need, and whether Airflow has them
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, inspect, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from jinbao.config import Config, masked_url
from jinbao.errors import ConfigError

OK, WARN, FAIL = "ok", "warning", "problem"
LOW_DISK_BYTES = 1 << 30


@dataclass(frozen=True)
class Finding:
    area: str
    state: str
    """ok | warning | problem"""
    said: str
    fix: str = ""


def _reason(error: BaseException) -> str:
    from extractors.sql import reason
    from quality.masking import scrubbed

    return scrubbed(reason(error))


def warehouse_findings(cfg: Config) -> list[Finding]:
    from loaders.schema import head_revision, revision_of
    from loaders.warehouse import warehouse_engine

    where = masked_url(cfg.warehouse_url)
    engine = warehouse_engine(cfg.warehouse_url)
    try:
        with engine.connect() as conn:
            current = revision_of(conn)
            if conn.dialect.name == "postgresql":
                may_create = conn.execute(text(
                    "SELECT has_schema_privilege(current_schema(), 'CREATE')")).scalar_one()
                read_only = conn.execute(text("SHOW transaction_read_only")).scalar_one() == "on"
            else:
                database = Path(engine.url.database or "")
                folder = database if database.exists() else database.parent
                may_create = read_only = None
                if folder.exists() and not os.access(folder, os.W_OK):
                    read_only = True
    except SQLAlchemyError as error:
        return [Finding("warehouse", FAIL, f"{where} cannot be reached ({_reason(error)})",
                        "check [warehouse] url, the server and the network")]
    finally:
        engine.dispose()
    found = [Finding("warehouse", OK, f"{where} is reachable")]
    head = head_revision()
    if current is None:
        found.append(Finding("warehouse", OK, f"empty: the first run creates it at schema "
                                              f"revision {head}"))
    elif current == head:
        found.append(Finding("warehouse", OK, f"schema revision {head} (current)"))
    else:
        found.append(Finding("warehouse", FAIL, f"schema revision {current}, this jinbao needs "
                                                f"{head}", "run `jinbao db upgrade` (back up first)"))
    if read_only:
        found.append(Finding("warehouse", FAIL, "is read-only", "give jinbao write access"))
    if may_create is False:
        found.append(Finding("warehouse", FAIL, "the user may not create tables in its schema",
                             "GRANT CREATE ON SCHEMA to the warehouse user"))
    return found


def folder_findings(cfg: Config) -> list[Finding]:
    found = []
    for what, folder in (("staging root", cfg.staging_root), ("GX project", cfg.gx_root),
                         ("report root", cfg.report_root)):
        existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if existing is None or not existing.is_dir():
            found.append(Finding("folders", FAIL, f"{what} {folder}: {existing} is not a folder",
                                 "point it at a folder"))
            continue
        if not os.access(existing, os.W_OK):
            found.append(Finding("folders", FAIL, f"{what} {folder} cannot be written",
                                 "give jinbao write access or choose another folder"))
            continue
        free = shutil.disk_usage(existing).free
        state = WARN if free < LOW_DISK_BYTES else OK
        found.append(Finding("folders", state, f"{what} {folder}: writable, "
                             f"{free / (1 << 30):.1f} GiB free",
                             "free some disk space" if state == WARN else ""))
    return found


def source_findings(cfg: Config) -> list[Finding]:
    found = []
    for source in cfg.sources.values():
        found.extend(_injury(source) if source.system == "injury" else _database(source))
    return found


def _database(source) -> list[Finding]:
    from extractors.legacy_tables import METADATA

    area = f"source {source.name}"
    url = make_url(source.url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        return [Finding(area, FAIL, f"SQLite database {url.database} does not exist",
                        "check the url (relative paths are from the configuration's folder)")]
    args = {"connect_timeout": int(source.connect_timeout)} if url.get_backend_name() in (
        "postgresql", "mysql", "mariadb") else {"timeout": source.connect_timeout}
    engine = create_engine(url, connect_args=args)
    try:
        with engine.connect() as conn:
            seen = inspect(conn)
            problems = []
            for table in METADATA[source.system].sorted_tables:
                if not seen.has_table(table.name):
                    problems.append(f"table {table.name} is missing")
                    continue
                have = {c["name"] for c in seen.get_columns(table.name)}
                missing = [c.name for c in table.columns if c.name not in have]
                if missing:
                    problems.append(f"{table.name} lacks {', '.join(missing)}")
    except SQLAlchemyError as error:
        return [Finding(area, FAIL, f"{masked_url(source.url)} cannot be reached "
                                    f"({_reason(error)})", "check the url, the server, the network")]
    finally:
        engine.dispose()
    if problems:
        return [Finding(area, FAIL, f"not a {source.system} system as legacy-estate defines it: "
                                    + "; ".join(problems), "point it at the right database")]
    return [Finding(area, OK, f"{masked_url(source.url)}: tables and columns of a "
                              f"{source.system} system")]


def _injury(source) -> list[Finding]:
    from extractors.injury import export_files

    area = f"source {source.name}"
    root = Path(source.path)
    if not root.is_dir():
        return [Finding(area, FAIL, f"export folder {root} does not exist",
                        "check path (relative to the configuration's folder)")]
    files, skipped = export_files(root, None, None)
    found = [Finding(area, OK, f"{root}: {len(files)} export files in "
                               f"{len({m for m, _ in files})} months")]
    for item in skipped:
        found.append(Finding(area, WARN, f"{item} is not read", "move it out of the exports"))
    return found


def pool_findings(cfg: Config) -> list[Finding]:
    from jinbao.dag_specs import spec_from_file

    try:
        spec = spec_from_file(cfg.path, "jinbao_consolidate")
    except ConfigError as error:
        return [Finding("pools", FAIL, str(error))]
    from jinbao.dag_specs import pools

    wanted = pools([spec])
    try:
        from airflow.models import Pool
        from airflow.utils.session import create_session

        with create_session() as session:
            have = {p.pool: p.slots for p in session.query(Pool).all()}
    except Exception:  # no Airflow metadata database reachable from here
        return [Finding("pools", OK, f"the DAG needs {len(wanted)} pools: {', '.join(wanted)} "
                                     "(Airflow's metadata database is not reachable from here: "
                                     "not checked)", "jinbao pools --out pools.json && airflow "
                                                     "pools import pools.json")]
    missing = [p for p in wanted if p not in have]
    if missing:
        return [Finding("pools", FAIL, f"Airflow lacks the pools {', '.join(missing)}",
                        "jinbao pools --out pools.json && airflow pools import pools.json")]
    return [Finding("pools", OK, f"Airflow has the {len(wanted)} pools the DAG needs")]


def findings(cfg: Config, airflow: bool = True) -> list[Finding]:
    """Every check, in the order a person would fix them."""
    out = warehouse_findings(cfg) + folder_findings(cfg) + source_findings(cfg)
    return out + (pool_findings(cfg) if airflow else [])

