"""The report files of a run, a month or a province: report.html and its JSON twin."""

from __future__ import annotations

import json
import os
from pathlib import Path

from jinbao.config import Config
from loaders.schema import ensure_schema
from loaders.warehouse import warehouse_engine
from quality.gx_validation import data_docs_index
from quality.report import report_data
from quality.report_html import report_html


def write_report(cfg: Config, folder: Path, run_id: str | None = None,
                 month: str | None = None, province: str | None = None) -> Path:
    """report.html and report.json in `folder` (the latest run by default); returns the page.
    The page links the GX Data Docs, which keep every run's validation pages."""
    engine = warehouse_engine(cfg.warehouse_url)
    ensure_schema(engine)
    data = report_data(engine, run_id, month, province)
    engine.dispose()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(data, ensure_ascii=False, indent=1), "utf-8")
    page = folder / "report.html"
    page.write_text(report_html(data, data_docs_links(cfg, data["scope"]["runs"], folder)),
                    "utf-8")
    return page


def data_docs_links(cfg: Config, runs: list[str], folder: Path) -> dict | None:
    """Links, relative to `folder`, to the Data Docs index and to each run's own validation
    pages (the site keeps every run's pages)."""
    index = data_docs_index(cfg.gx_root)
    if not index.exists():
        return None
    pages = {run: [(p.stem.removeprefix("jinbao-"), os.path.relpath(p, folder))
                   for p in sorted(index.parent.glob(f"validations/*/{run}/*/*.html"))]
             for run in runs}
    return {"index": os.path.relpath(index, folder), "runs": pages}


def run_report(cfg: Config, run_id: str) -> Path:
    """The report of one run, in its own folder under the configured report root."""
    return write_report(cfg, cfg.report_root / run_id, run_id)


def write_progress_report(cfg, folder: Path, month: str) -> Path:
    """The national tier's monthly progress report (report.html, report.json) of `month`, from
    the figures its runs stored; returns the page. `cfg`: a jinbao.national.NationalConfig."""
    from jinbao.progress import stored_progress
    from quality.progress_report import progress_data, progress_html

    engine = warehouse_engine(cfg.consolidation.warehouse_url)
    ensure_schema(engine)
    with engine.connect() as conn:
        data = progress_data(stored_progress(conn), month)
    engine.dispose()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(data, ensure_ascii=False, indent=1), "utf-8")
    page = folder / "report.html"
    page.write_text(progress_html(data), "utf-8")
    return page
