"""Writing an estate: the database systems on any engine, the injury exports as GB18030 CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from extractors.legacy_tables import INJURY_COLUMNS, METADATA


def write_injury(files: dict[tuple[str, str], list[list[str]]], root: Path) -> None:
    """GB18030 CSV files; a row ending in None is written cut short, with no line end."""
    for (month, city), rows in files.items():
        folder = root / month
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / f"{city}.csv").open("w", encoding="gb18030", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            writer.writerow(INJURY_COLUMNS)
            for row in rows:
                if row[-1] is None:
                    handle.write(",".join(row[:-2]) + "," + row[-2][:3])
                else:
                    writer.writerow(row)


def ensure_database(url: str) -> None:
    """Create the database a PostgreSQL or MariaDB URL names, if it does not exist yet."""
    target = make_url(url)
    if target.get_backend_name() not in ("postgresql", "mysql", "mariadb"):
        return
    postgres = target.get_backend_name() == "postgresql"
    admin = create_engine(target.set(database="postgres" if postgres else ""),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if postgres:
            found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"),
                                 {"d": target.database}).first()
            if not found:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
        else:
            conn.execute(text(f"CREATE DATABASE IF NOT EXISTS `{target.database}` "
                              "CHARACTER SET utf8mb4"))
    admin.dispose()


def write_database(system: str, url: str, tables: dict[str, list[dict]]) -> None:
    """(Re)create a system's tables on any engine and fill them (COPY on PostgreSQL)."""
    from extractors.sql import reason
    from loaders.bulk import copy_into

    try:
        ensure_database(url)
        engine = create_engine(url)
        metadata = METADATA[system]
        metadata.drop_all(engine)
        metadata.create_all(engine)
        with engine.begin() as conn:
            for table in metadata.sorted_tables:
                rows = tables.get(table.name)
                if rows:
                    frame = pd.DataFrame(rows, columns=[c.name for c in table.columns])
                    copy_into(conn, table, frame)
        engine.dispose()
    except SQLAlchemyError as error:
        where = make_url(url).render_as_string(hide_password=True)
        raise ValueError(f"system {system}: cannot write to {where} ({reason(error)})") from None


CONFIG_TEMPLATE = """\
# jinbao configuration for a simulated estate ({persons} persons, seed {seed}).
# Relative paths and SQLite URLs are relative to this file's folder.
[warehouse]
url = "sqlite:///warehouse.db"

[staging]
root = "staging"
buckets = 4
gx_root = "gx"
{sources}"""


def config_url(system: str, url: str | None) -> str:
    """The URL as jinbao.toml records it: a password is never written, an env var stands in."""
    if url is None:
        return f"sqlite:///{system}.db"
    if make_url(url).password:
        return "${JINBAO_" + system.upper() + "_URL}"
    return url
