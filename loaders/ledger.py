"""The run ledger (what each run did per source) and the per-source watermarks."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, delete, select

from loaders.bulk import advisory_lock
from schemas.warehouse import run_ledger, watermark

LEDGER_LOCK = 7072  # the advisory-lock class of the ledger and watermarks


def watermarks(engine: Engine) -> dict[str, str]:
    """Last committed watermark per source name."""
    with engine.connect() as conn:
        return dict(conn.execute(select(watermark.c.source_name, watermark.c.value)).all())


def record_run(engine: Engine, run_id: str, entries: list[dict]) -> None:
    """Write the run's ledger rows and advance each source's watermark, in one transaction.

    A watermark only moves forward: a backfill of an old window never rewinds it.
    """
    with engine.begin() as conn:
        advisory_lock(conn, LEDGER_LOCK)  # runs finishing together: one moves marks at a time
        conn.execute(delete(run_ledger).where(run_ledger.c.run_id == run_id))
        if entries:
            conn.execute(run_ledger.insert(), [{**e, "run_id": run_id} for e in entries])
        current = dict(conn.execute(select(watermark.c.source_name, watermark.c.value)).all())
        for entry in entries:
            name, value = entry["source_name"], entry.get("new_watermark")
            if entry["status"] != "loaded" or not value:
                continue
            if name not in current:
                conn.execute(watermark.insert().values(source_name=name, value=value,
                                                       run_id=run_id))
            elif value > current[name]:
                conn.execute(watermark.update().where(watermark.c.source_name == name)
                             .values(value=value, run_id=run_id))


def ledger(engine: Engine, run_id: str | None = None) -> pd.DataFrame:
    """Ledger rows of one run (or all runs), newest first."""
    query = select(run_ledger).order_by(run_ledger.c.finished_at.desc(), run_ledger.c.source_name)
    if run_id:
        query = query.where(run_ledger.c.run_id == run_id)
    with engine.connect() as conn:
        return pd.read_sql(query, conn)
