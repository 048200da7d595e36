"""`jinbao status`: watermarks, recent runs, failures and warehouse counts, with no personal data."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from jinbao.config import Config, masked_url
from loaders.ledger import ledger, watermarks
from loaders.schema import ensure_schema
from loaders.warehouse import warehouse_engine
from schemas.warehouse import CONTRACT_TABLES, metadata, review_case, run_failure

RECENT_RUNS = 20


def warehouse_counts(cfg: Config) -> dict[str, int]:
    """Row count of every contract table."""
    engine = warehouse_engine(cfg.warehouse_url)
    ensure_schema(engine)
    with engine.connect() as conn:
        counts = {name: conn.execute(select(func.count()).select_from(metadata.tables[name]))
                  .scalar_one() for name in CONTRACT_TABLES}
    engine.dispose()
    return counts


def open_cases(cfg: Config) -> dict[str, int]:
    """Open review cases by kind."""
    engine = warehouse_engine(cfg.warehouse_url)
    ensure_schema(engine)
    with engine.connect() as conn:
        rows = conn.execute(select(review_case.c.kind, func.count()).where(
            review_case.c.status == "open").group_by(review_case.c.kind)).all()
    engine.dispose()
    return dict(rows)


def cases_line(cfg: Config) -> str:
    cases = open_cases(cfg)
    if not cases:
        return "review cases: none open"
    listed = ", ".join(f"{kind} {count:,}" for kind, count in sorted(cases.items()))
    return f"review cases open: {listed} (jinbao review list)"


def status_data(cfg: Config) -> dict:
    """What `jinbao status` shows, as plain data (its --json)."""
    engine = warehouse_engine(cfg.warehouse_url)
    ensure_schema(engine)
    marks = watermarks(engine)
    runs = ledger(engine).head(RECENT_RUNS)
    with engine.connect() as conn:
        failures = conn.execute(select(run_failure).order_by(
            run_failure.c.failed_at.desc()).limit(RECENT_RUNS)).mappings().all()
    engine.dispose()
    return {
        "warehouse": masked_url(cfg.warehouse_url),
        "sources": [{"source": name, "system": s.system, "watermark": marks.get(name)}
                    for name, s in cfg.sources.items()],
        "runs": [{"run_id": r.run_id, "source": r.source_name, "extracted": int(r.extracted),
                  "accepted": int(r.accepted), "quarantined": int(r.quarantined),
                  "status": r.status, "finished_at": str(r.finished_at)[:19]}
                 for r in runs.itertuples()],
        "failures": [{"run_id": f["run_id"], "source": f["source_name"], "stage": f["stage"],
                      "failed_at": str(f["failed_at"])[:19], "reason": f["reason"]}
                     for f in failures],
        "counts": warehouse_counts(cfg),
        "open_cases": open_cases(cfg),
    }


def print_status(data: dict, console: Console) -> None:
    console.print(f"warehouse: {data['warehouse']}", markup=False)
    sources = Table(title="sources")
    for column in ("source", "system", "watermark"):
        sources.add_column(column)
    for s in data["sources"]:
        sources.add_row(s["source"], s["system"], s["watermark"] or "(never loaded)")
    console.print(sources)
    recent = Table(title="recent runs (ledger)")
    for column in ("run", "source", "extracted", "accepted", "quarantined", "status"):
        recent.add_column(column, justify="right" if column in (
            "extracted", "accepted", "quarantined") else "left")
    for r in data["runs"]:
        recent.add_row(r["run_id"], r["source"], f"{r['extracted']:,}", f"{r['accepted']:,}",
                       f"{r['quarantined']:,}", r["status"])
    console.print(recent)
    if data["failures"]:
        failed = Table(title="recent failures")
        for column in ("run", "source", "stage", "failed at", "reason"):
            failed.add_column(column, overflow="fold")
        for f in data["failures"]:
            failed.add_row(f["run_id"], f["source"] or "-", f["stage"], f["failed_at"],
                           f["reason"])
        console.print(failed)
    console.print(" · ".join(f"{name} {count:,}" for name, count in data["counts"].items()))
    cases = data["open_cases"]
    console.print("review cases: none open" if not cases else "review cases open: " + ", ".join(
        f"{kind} {count:,}" for kind, count in sorted(cases.items())) + " (jinbao review list)")
