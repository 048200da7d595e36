"""`jinbao backfill`: reload a date range in monthly (or daily) slices, resumable and safe to
repeat.

Each slice is one ordinary run over its window [first second, last second]; a slice is recorded as
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
from loaders.schema import ensure_schema
from loaders.warehouse import warehouse_engine
from schemas.warehouse import backfill_slice


def _day_or_month(text: str) -> tuple[date, str]:
    """'YYYY-MM-DD' -> (that day, 'day'); 'YYYY-MM' -> (its first day, 'month')."""
    for form, unit in (("%Y-%m-%d", "day"), ("%Y-%m", "month")):
        try:
            return datetime.strptime(text, form).date(), unit
        except ValueError:
            continue
    raise ValueError(f"{text!r} is neither a day (YYYY-MM-DD) nor a month (YYYY-MM)")


def _next(moment: date, unit: str) -> date:
    return moment + timedelta(days=1) if unit == "day" else (
        moment + timedelta(days=32)).replace(day=1)


def window_of(start: datetime, end: datetime) -> tuple[str, str]:
    """The source window (since, until] that reads [start, end): the legacy systems keep naive
    local times to the second, so both bounds are one second early."""
    second = timedelta(seconds=1)
    return f"{start - second:%Y-%m-%d %H:%M:%S}", f"{end - second:%Y-%m-%d %H:%M:%S}"


def backfill_slices(start: str, end: str) -> list[tuple[str, str, str]]:
    """(slice, since, until) for every month (or day, when both ends are days) from start to
    end, both included. since is the last second before the slice (exclusive), until its last
    second: a day's window is exactly the window of a daily Airflow interval."""
    (first, unit), (last, end_unit) = _day_or_month(start), _day_or_month(end)
    if unit != end_unit:
        raise ValueError(f"--start {start} and --end {end}: write both as months (YYYY-MM) or "
                         "both as days (YYYY-MM-DD)")
    if last < first:
        raise ValueError(f"--end {end} is before --start {start}")
    slices, moment, name = [], first, "%Y-%m-%d" if unit == "day" else "%Y-%m"
    while moment <= last:
        following = _next(moment, unit)
        slices.append((moment.strftime(name), *window_of(
            datetime.combine(moment, datetime.min.time()),
            datetime.combine(following, datetime.min.time()))))
        moment = following
    return slices


def backfill_id(start: str, end: str, sources: list[str]) -> str:
    """The same request always gets the same id, which is what makes it resumable."""
    slices = backfill_slices(start, end)
    text = f"{slices[0][0]}|{slices[-1][0]}|{','.join(sorted(sources))}"
    return "backfill-" + hashlib.sha256(text.encode()).hexdigest()[:12]


SliceNote = Callable[[str, str, dict], None]


def run_backfill(cfg: Config, start: str, end: str, sources: list[str] | None = None,
                 restart: bool = False, note: SliceNote | None = None,
                 run: Callable[..., RunSummary] = run_pipeline) -> list[dict]:
    """Load every slice not yet committed; return one row per slice for the report."""
    names = sources or list(cfg.sources)
    for name in names:
        cfg.source(name)
    slices = backfill_slices(start, end)
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
