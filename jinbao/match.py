"""`jinbao match train | rerun`: the linkage model's life after the first run.

    train   a new model version from the warehouse's own entities; prints what changed
    rerun   every entity scored again with the latest model; shows the cases it would open
            and withdraw, and applies them only with --apply

A rerun is the same refresh a run does, over everything, inside one transaction: without
--apply the transaction is rolled back, so what is shown is exactly what applying would do.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from jinbao.config import Config
from loaders import matching
from loaders.schema import ensure_schema
from loaders.warehouse import warehouse_engine
from quality.masking import masked_id, masked_key
from schemas.warehouse import review_case
from transforms.linkage.model import changes

SHOWN = 20


def _run_id(what: str) -> str:
    return f"match-{what}-{datetime.now(UTC):%Y%m%dT%H%M%S}"


def train_model(cfg: Config) -> dict:
    """Train and store the next model version; the versions before and after, and the
    changes."""
    engine = warehouse_engine(cfg.warehouse_url)
    ensure_schema(engine)
    try:
        with engine.begin() as conn:
            before = matching.latest_model(conn)
            after = matching.train(conn, _run_id("train"))
    finally:
        engine.dispose()
    return {"before": None if before is None else before["version"],
            "after": after["version"], "entities": after["entities"],
            "threshold_before": None if before is None else before["threshold"],
            "threshold_after": after["threshold"],
            "changes": changes(before and before["model"], after["model"])}


def print_training(result: dict, out: Console) -> None:
    was = result["before"]
    out.print(f"model v{result['after']} trained on {result['entities']:,} entities"
              + (f" (was v{was})" if was else " (the first)"))
    table = Table(title="weights (log2 of m/u) that changed" if was else "weights (log2 of m/u)")
    for column in ("comparison", "level", "before", "after"):
        table.add_column(column, justify="right" if column in ("before", "after") else "left")
    for row in result["changes"]:
        table.add_row(row["comparison"], row["level"],
                      _weight(row["before"], row["learnt_before"]),
                      _weight(row["after"], row["learnt_after"]))
    out.print(table)
    out.print("* not learnt (no training pair showed the level): Splink's default weight")
    before = result["threshold_before"]
    out.print(f"case threshold: match probability {result['threshold_after']:.4f}"
              + (f" (was {before:.4f})" if before is not None else ""))
    out.print("cases keep the model that found them until `jinbao match rerun --apply`")


def _weight(value: float | None, learnt: bool) -> str:
    return "-" if value is None else f"{value:+.2f}" + ("" if learnt else "*")


def rerun(cfg: Config, apply: bool) -> dict:
    """Score every entity with the latest model; the cases opened and withdrawn (committed
    only when `apply`)."""
    engine = warehouse_engine(cfg.warehouse_url)
    ensure_schema(engine)
    try:
        with engine.connect() as conn:
            transaction = conn.begin()
            try:
                stats = matching.refresh(conn, _run_id("rerun"), full=True, detail=True)
                about = _about(conn, stats["opened_cases"] + stats["withdrawn_cases"])
            finally:
                (transaction.commit if apply else transaction.rollback)()
    finally:
        engine.dispose()
    return {**stats, "applied": apply, "about": about}


def _about(conn, ids: list[str]) -> dict[str, str]:
    """Case id -> its entities, masked (what a reviewer recognises the case by)."""
    if not ids:
        return {}
    found = conn.execute(select(review_case.c.case_id, review_case.c.evidence).where(
        review_case.c.case_id.in_(ids[:2 * SHOWN]))).all()
    return {case: ", ".join(masked_key(e) if "|" in e else masked_id(e)
                            for e in json.loads(evidence)["entities"])
            for case, evidence in found}


def print_rerun(result: dict, out: Console) -> None:
    out.print(f"model v{result['model']} over {result['entities']:,} entities: "
              f"{result['cases']:,} suspected_duplicate cases "
              f"(threshold {result['threshold']:.4f})")
    for what in ("opened", "withdrawn"):
        ids = result[f"{what}_cases"]
        out.print(f"would be {what}: {len(ids):,}" if not result["applied"]
                  else f"{what}: {len(ids):,}")
        for case in ids[:SHOWN]:
            out.print(f"  {case}  {result['about'].get(case, '')}", markup=False)
        if len(ids) > SHOWN:
            out.print(f"  ... and {len(ids) - SHOWN:,} more")
    if not result["applied"]:
        out.print("nothing was changed: `jinbao match rerun --apply` applies this")
