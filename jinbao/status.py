"""`jinbao status`: watermarks, recent runs and warehouse counts, with no personal data."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from jinbao.config import Config
from loaders.ledger import ledger, watermarks
from loaders.warehouse import ensure_schema, warehouse_engine
from schemas.warehouse import CONTRACT_TABLES, metadata, review_case


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


def print_status(cfg: Config, console: Console) -> None:
    engine = warehouse_engine(cfg.warehouse_url)
    ensure_schema(engine)
    marks = watermarks(engine)
    sources = Table(title="sources")
    for column in ("source", "system", "watermark"):
        sources.add_column(column)
    for name, source in cfg.sources.items():
        sources.add_row(name, source.system, marks.get(name, "(never loaded)"))
    console.print(sources)
    runs = ledger(engine).head(20)
    recent = Table(title="recent runs (ledger)")
    for column in ("run", "source", "extracted", "accepted", "quarantined", "status"):
        recent.add_column(column, justify="right" if column in (
            "extracted", "accepted", "quarantined") else "left")
    for row in runs.itertuples():
        recent.add_row(row.run_id, row.source_name, f"{row.extracted:,}", f"{row.accepted:,}",
                       f"{row.quarantined:,}", row.status)
    console.print(recent)
    engine.dispose()
    counts = warehouse_counts(cfg)
    console.print(" · ".join(f"{name} {count:,}" for name, count in counts.items()))
    console.print(cases_line(cfg))
