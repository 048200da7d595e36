"""Great Expectations once per source per run, off the stage's hot path.

    <staging>/<run_id>/validation_rows/<source>.parquet   what the stage wrote for GX: every
                                                         standardised row, before the split,
                                                         with one pass column per rule
    <staging>/<run_id>/validation/<source>.json           the source's GX result (counts only)

A source is validated in parts of GX_ROWS rows (memory stays bounded whatever its size), in a
worker of its own while the buckets load; the run's Data Docs are rendered after the last.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pyarrow.parquet as pq

from jinbao.config import Config
from jinbao.stage import run_dir
from quality.gx_validation import build_data_docs, data_docs_index, summary, validate_frame

GX_ROWS = 500_000
"""Rows per GX validation: GX's fixed cost per validation is paid once per part (a second or
so), its memory grows with the part."""

log = logging.getLogger("jinbao")


def result_path(cfg: Config, run_id: str, source_name: str) -> Path:
    return run_dir(cfg, run_id) / "validation" / f"{source_name}.json"


def validate_source(cfg: Config, run_id: str, source_name: str) -> dict:
    """The source's staged rows of this run validated (a part at a time), the result kept
    beside the run's manifests and returned: success, expectations evaluated and unmet, each
    rule's share of the rows that broke it, rows, parts, and the Data Docs index."""
    began = time.perf_counter()
    path = run_dir(cfg, run_id) / "validation_rows" / f"{source_name}.parquet"
    results = []
    staged = pq.ParquetFile(path) if path.exists() else None
    if staged is not None and staged.metadata.num_rows:  # no row, no GX (its import alone: 5 s)
        for part in staged.iter_batches(batch_size=GX_ROWS):
            results.append(validate_frame(part.to_pandas(), source_name, run_id, cfg.gx_root,
                                          tuple(cfg.sources)))
    result = {"source_name": source_name, **summary(results),
              "seconds": round(time.perf_counter() - began, 3)}
    out = result_path(cfg, run_id, source_name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    log.info("source %s: GX validated %d rows in %d parts (%s)", source_name, result.get(
        "rows", 0), result["batches"], "all met" if result["success"] else "some unmet")
    return result


def validations(cfg: Config, run_id: str, sources: list[str]) -> dict[str, dict]:
    """Each source's GX result in this run: kept from an earlier call, or validated now."""
    found = {}
    for name in sources:
        path = result_path(cfg, run_id, name)
        found[name] = (json.loads(path.read_text("utf-8")) if path.exists()
                       else validate_source(cfg, run_id, name))
    return found


def validate_and_publish(cfg: Config, run_id: str, sources: list[str]) -> dict:
    """Every staged source validated, then the run's Data Docs rendered: the Data Docs index
    and the results by source."""
    results = validations(cfg, run_id, sources)
    if not any(r["batches"] for r in results.values()):  # nothing new to render (nor GX to load)
        return {"data_docs": str(data_docs_index(cfg.gx_root)), "sources": results}
    return {"data_docs": str(build_data_docs(cfg.gx_root, run_id)), "sources": results}
