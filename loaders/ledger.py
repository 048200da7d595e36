"""The run ledger (what each run did per source) and the per-source watermarks."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, delete, func, select

from loaders.bulk import advisory_lock
from schemas.warehouse import run_ledger, run_load, run_stat, watermark
from transforms.standardize import watermark_moments

LEDGER_LOCK = 7072  # the advisory-lock class of the ledger and watermarks


def _forward(new: str, old: str) -> bool:
    """Is `new` later than `old`? A stored value that cannot be read (written by an earlier
    version from a garbage change time) is always replaced."""
    moments = watermark_moments(pd.Series([new, old], dtype="string"))
    return pd.isna(moments[1]) or (pd.notna(moments[0]) and moments[0] > moments[1])


def watermarks(engine: Engine) -> dict[str, str]:
    """Last committed watermark per source name."""
    with engine.connect() as conn:
        return dict(conn.execute(select(watermark.c.source_name, watermark.c.value)).all())


def loads_of(engine: Engine, run_id: str) -> dict[str, tuple[int, int]]:
    """(new rows, changed rows) each source's loads wrote in the run."""
    with engine.connect() as conn:
        rows = conn.execute(select(run_load.c.source_name, func.sum(run_load.c.new_rows),
                                   func.sum(run_load.c.changed_rows))
                            .where(run_load.c.run_id == run_id)
                            .group_by(run_load.c.source_name)).all()
    return {source: (int(new or 0), int(old or 0)) for source, new, old in rows}


def record_run(engine: Engine, run_id: str, entries: list[dict],
               stats: list[dict] = ()) -> None:
    """Write the run's ledger rows (and what it read per pooling region) and advance each
    source's watermark, in one transaction.

    A watermark only moves forward: a backfill of an old window never rewinds it.
    """
    with engine.begin() as conn:
        advisory_lock(conn, LEDGER_LOCK)  # runs finishing together: one moves marks at a time
        conn.execute(delete(run_ledger).where(run_ledger.c.run_id == run_id))
        conn.execute(delete(run_stat).where(run_stat.c.run_id == run_id))
        if entries:
            conn.execute(run_ledger.insert(), [{**e, "run_id": run_id} for e in entries])
        if stats:
            conn.execute(run_stat.insert(), [{**s, "run_id": run_id} for s in stats])
        current = dict(conn.execute(select(watermark.c.source_name, watermark.c.value)).all())
        for entry in entries:
            name, value = entry["source_name"], entry.get("new_watermark")
            if entry["status"] != "loaded" or not value:
                continue
            if name not in current:
                conn.execute(watermark.insert().values(source_name=name, value=value,
                                                       run_id=run_id))
            elif _forward(value, current[name]):
                conn.execute(watermark.update().where(watermark.c.source_name == name)
                             .values(value=value, run_id=run_id))


def ledger(engine: Engine, run_id: str | None = None) -> pd.DataFrame:
    """Ledger rows of one run (or all runs), newest first."""
    query = select(run_ledger).order_by(run_ledger.c.finished_at.desc(), run_ledger.c.source_name)
    if run_id:
        query = query.where(run_ledger.c.run_id == run_id)
    with engine.connect() as conn:
        return pd.read_sql(query, conn)
