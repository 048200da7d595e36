"""`jinbao backfill`: reload a date range in monthly slices, resumable and safe to repeat.

Each slice is one ordinary run over the window (month start, month end]; a slice is recorded as
committed only after its run finished, so a rerun of the same backfill starts at the first slice
not committed. Reloading a committed slice changes nothing (loads are idempotent), so
`restart=True` is always safe, only slower.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, datetime, timedelta

from sqlalchemy import delete, select

from jinbao.config import Config
from jinbao.runner import RunSummary, run_pipeline, worker_pool
from loaders.warehouse import ensure_schema, warehouse_engine
from schemas.warehouse import backfill_slice


def month_of(text: str) -> date:
    """'YYYY-MM' or 'YYYY-MM-DD' -> the first day of that month."""
    try:
        moment = datetime.strptime(text[:7], "%Y-%m")
    except ValueError:
        raise ValueError(f"{text!r} is not a month: write YYYY-MM or YYYY-MM-DD") from None
    return moment.date()


def monthly_slices(start: str, end: str) -> list[tuple[str, str, str]]:
    """(month, since, until) for every month from start's to end's, both included.

    since is the last second of the month before (exclusive), until the month's last second.
    """
    first, last = month_of(start), month_of(end)
    if last < first:
        raise ValueError(f"--end {end} is before --start {start}")
    slices, month = [], first
    while month <= last:
        following = (month + timedelta(days=32)).replace(day=1)
        since = datetime.combine(month, datetime.min.time()) - timedelta(seconds=1)
        until = datetime.combine(following, datetime.min.time()) - timedelta(seconds=1)
        slices.append((f"{month:%Y-%m}", f"{since:%Y-%m-%d %H:%M:%S}",
                       f"{until:%Y-%m-%d %H:%M:%S}"))
        month = following
    return slices


def backfill_id(start: str, end: str, sources: list[str]) -> str:
    """The same request always gets the same id, which is what makes it resumable."""
    text = f"{month_of(start):%Y-%m}|{month_of(end):%Y-%m}|{','.join(sorted(sources))}"
    return "backfill-" + hashlib.sha256(text.encode()).hexdigest()[:12]


SliceNote = Callable[[str, str, dict], None]


def run_backfill(cfg: Config, start: str, end: str, sources: list[str] | None = None,
                 restart: bool = False, note: SliceNote | None = None,
                 run: Callable[..., RunSummary] = run_pipeline) -> list[dict]:
    """Load every monthly slice not yet committed; return one row per slice for the report."""
    names = sources or list(cfg.sources)
    for name in names:
        cfg.source(name)
    slices = monthly_slices(start, end)
    ident = backfill_id(start, end, names)
    engine = warehouse_engine(cfg.warehouse_url)
    ensure_schema(engine)
    with engine.begin() as conn:
        if restart:
            conn.execute(delete(backfill_slice).where(backfill_slice.c.backfill_id == ident))
        done = {r.slice: r._asdict() for r in conn.execute(
            select(backfill_slice).where(backfill_slice.c.backfill_id == ident))}
    tell = note or (lambda _slice, _event, _detail: None)
    report = []
    pool = worker_pool()  # one set of workers for every slice: imports are paid once
    try:
        _run_slices(cfg, slices, done, ident, names, engine, run, pool, tell, report)
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    engine.dispose()
    return report


def _run_slices(cfg, slices, done, ident, names, engine, run, pool, tell, report) -> None:
    for month, since, until in slices:
        if month in done:
            report.append({**done[month], "status": "done earlier"})
            tell(month, "skipped", report[-1])
            continue
        tell(month, "start", {"since": since, "until": until})
        summary = run(cfg, since=since, until=until, sources=names, pool=pool)
        row = {
            "backfill_id": ident, "slice": month, "window_since": since, "window_until": until,
            "sources": ",".join(names), "run_id": summary.run_id,
            "extracted": sum(m["extracted"] for m in summary.sources),
            "accepted": sum(m["accepted"] for m in summary.sources),
            "quarantined": sum(m["quarantined"] for m in summary.sources),
            "seconds": summary.seconds,
        }
        with engine.begin() as conn:
            conn.execute(backfill_slice.insert().values(**row))
        report.append({**row, "status": "loaded"})
        tell(month, "done", report[-1])
