"""The peer a user would pick to move the rows: dlt, over the same estate into the same server.

    merge    sql_database with the pyarrow backend, merged on each table's primary key (the
             source key), incremental on each table's change time; the injury exports through
             pyarrow's CSV reader (GB18030), merged on (city, month, 序号), new files only
    replace  the same tables through connectorx, replaced whole

Both load parquet through ADBC into PostgreSQL. dlt moves and merges rows: it repairs,
validates and reconciles nothing, which is what jinbao's rows/s are compared against.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.legacy_reads import CHANGE_TIME, TABLES, cx_url, export_table


def _injury(root: Path):
    """The injury exports as Arrow tables, one per file, with their city and month; each
    file once (dlt's resource state remembers the files loaded)."""
    import dlt

    @dlt.resource(name="injury_export", primary_key=["city", "month", "序号"], write_disposition="merge")
    def exports():
        seen = dlt.current.resource_state().setdefault("files", [])
        for path in sorted(root.glob("*/*.csv")):
            name = f"{path.parent.name}/{path.name}"
            if name in seen:
                continue
            seen.append(name)
            yield export_table(path)

    return exports


def run(urls: dict[str, str], injury_root: Path, destination: str, mode: str,
        work: Path) -> dict:
    """One dlt run of every source (`mode` merge or replace) into `destination` (a SQLAlchemy
    URL of PostgreSQL): seconds and rows loaded."""
    import dlt
    from dlt.sources.sql_database import sql_database
    from sqlalchemy import make_url

    # dlt's default snake_case naming folds every Chinese column name into "x": keep names
    os.environ["SCHEMA__NAMING"] = "direct"
    backend = "pyarrow" if mode == "merge" else "connectorx"
    url = make_url(destination)
    # dlt insists on a password; the local server's trust authentication ignores it
    target = dlt.destinations.postgres(credentials=url.set(
        drivername="postgresql", password=url.password or "unused").render_as_string(
        hide_password=False))
    began, rows = time.perf_counter(), 0
    for system, tables in TABLES.items():
        url = urls[system]
        extra = {"backend_kwargs": {"conn": cx_url(url, Path("."))}} if (
            backend == "connectorx") else {}  # connectorx takes no driver or charset in its URL
        source = sql_database(credentials=url, table_names=tables, backend=backend,
                              reflection_level="full", **extra)
        for table in tables:
            resource = source.resources[table]
            if mode == "merge":
                resource.apply_hints(write_disposition="merge",
                                     incremental=dlt.sources.incremental(
                                         f"'{CHANGE_TIME[table]}'"))  # a JSON path: quoted
            else:
                resource.apply_hints(write_disposition="replace")
        pipeline = dlt.pipeline(pipeline_name=f"bench_{mode}_{system}", destination=target,
                                dataset_name=f"dlt_{mode}_{system}", pipelines_dir=str(work))
        pipeline.run(source, loader_file_format="parquet")
        rows += _rows(pipeline)
    pipeline = dlt.pipeline(pipeline_name=f"bench_{mode}_injury", destination=target,
                            dataset_name=f"dlt_{mode}_injury", pipelines_dir=str(work))
    resource = _injury(injury_root)
    if mode == "replace":
        resource.apply_hints(write_disposition="replace")
    pipeline.run(resource, loader_file_format="parquet")
    rows += _rows(pipeline)
    return {"seconds": round(time.perf_counter() - began, 2), "rows": rows}


def _rows(pipeline) -> int:
    """Rows the last run normalised (what it loaded), from dlt's own trace."""
    counts = pipeline.last_trace.last_normalize_info.row_counts
    return sum(n for table, n in counts.items() if not table.startswith("_dlt"))
