"""The floor: every source table read into Arrow (connectorx; the injury exports through
pyarrow's CSV reader) and written by binary COPY (ADBC ingest) into new unindexed tables of
the same server. Nothing is repaired, merged or checked: the rows/s no loader can beat.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.legacy_reads import TABLES, cx_url, export_table


def run(urls: dict[str, str], folder: Path, injury_root: Path, destination: str) -> dict:
    """Seconds and rows of extracting every table and COPYing it into `destination`."""
    import adbc_driver_postgresql.dbapi as adbc
    import connectorx as cx
    import pyarrow as pa
    from sqlalchemy import make_url

    uri = make_url(destination).set(drivername="postgresql").render_as_string(
        hide_password=False)
    began, rows = time.perf_counter(), 0
    with adbc.connect(uri) as conn, conn.cursor() as cursor:
        for system, tables in TABLES.items():
            for table in tables:
                quote = '`' if "mysql" in urls[system] else '"'
                data = cx.read_sql(cx_url(urls[system], folder),
                                   f"SELECT * FROM {quote}{table}{quote}", return_type="arrow")
                cursor.execute(f'DROP TABLE IF EXISTS "raw_{table}"')
                cursor.adbc_ingest(f"raw_{table}", data, mode="create")
                rows += data.num_rows
        exports = [export_table(path) for path in sorted(injury_root.glob("*/*.csv"))]
        cursor.execute('DROP TABLE IF EXISTS "raw_injury"')
        injury = pa.concat_tables(exports, promote_options="permissive")
        cursor.adbc_ingest("raw_injury", injury, mode="create")
        rows += injury.num_rows
        conn.commit()
    return {"seconds": round(time.perf_counter() - began, 2), "rows": rows}
