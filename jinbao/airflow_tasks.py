"""The bodies of the DAGs' tasks: thin adapters from Airflow's context to jinbao.runner.

Tasks pass a small `run` dict (run id, config path, start, windows) and names, never data.
"""

from __future__ import annotations

import dataclasses
import logging
from contextlib import contextmanager
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from jinbao import runner, stage
from jinbao.backfill import window_of
from jinbao.config import load_config
from jinbao.windows import window

log = logging.getLogger("jinbao")


def interval_window(start: datetime, end: datetime, timezone: str) -> tuple[str, str]:
    """A data interval [start, end) as a source window, in the legacy systems' local time."""
    zone = ZoneInfo(timezone)
    return window_of(*(moment.astimezone(zone).replace(tzinfo=None) for moment in (start, end)))


def plan_run(airflow_run_id: str, run_after: datetime, params: dict, config: str | None,
             interval: tuple[datetime, datetime] | None, timezone: str) -> dict:
    """The run's id, configuration, start time and per-source windows. The window is the run's
    data interval; `since`/`until` params override either end (e.g. since=1900-01-01 re-reads
    everything up to the interval's end); with neither, each source's last watermark. The
    configuration is always the DAG's own file."""
    cfg = load_config(config)  # the DAG's own file: a trigger cannot point at another
    names = params.get("sources") or list(cfg.sources)
    if isinstance(names, str):
        names = names.split(",")
    for name in names:
        cfg.source(name)  # an unknown name fails the plan, naming it
    since, until = interval_window(*interval, timezone) if interval else (None, None)
    since, until = window(params.get("since") or since, params.get("until") or until)
    windows = runner.source_windows(cfg, names, since, until)
    started = run_after.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    return {
        "run_id": stage.safe_run_id(airflow_run_id),
        "config": str(cfg.path) if cfg.path else None,
        "started": started.isoformat(),
        "buckets": cfg.buckets,
        "windows": {n: {"since": s, "until": u} for n, (s, u) in windows.items()},
    }


@contextmanager
def recorded(cfg, run: dict, stage: str, source: str = ""):
    """A task's failure kept in the warehouse (run_failure: `jinbao status` shows it), then
    raised for Airflow to retry or fail the task."""
    try:
        yield
    except Exception as error:
        runner.record_failure(cfg, run["run_id"], source, stage, error)
        raise


def stage_one(run: dict, source: str) -> dict | None:
    """Stage one source, one attempt: Airflow retries it (with backoff) when the source was
    unreachable, and fails it at once for anything else. None: not selected for this run."""
    if source not in run["windows"]:
        return None
    cfg = dataclasses.replace(load_config(run["config"]), retries=1)
    window = run["windows"][source]
    with recorded(cfg, run, "stage", source):
        manifest = stage.stage_source(cfg, run["run_id"], source, window["since"],
                                       window["until"])
    for warning in manifest.get("warnings", []):
        log.warning("source %s: %s", source, warning)
    return {k: manifest[k] for k in ("source_name", "extracted", "accepted", "quarantined")}


def staged_sources(run: dict) -> list[str]:
    """The sources whose stage succeeded in this run: only they are loaded (and the warehouse
    is made ready for their loads: runner.prepare_loads)."""
    cfg = load_config(run["config"])
    staged = runner.staged_sources(cfg, run["run_id"])
    if staged:
        with recorded(cfg, run, "load"):
            runner.prepare_loads(cfg)
    return staged


def bucket_numbers(run: dict, staged: list[str]) -> list[int]:
    """Every bucket when something was staged (nothing to load otherwise)."""
    return list(range(run["buckets"])) if staged else []


def validate_one(run: dict, source: str) -> dict:
    """GX over one staged source's rows of the run (beside the loads)."""
    from jinbao.validate import validate_source

    cfg = load_config(run["config"])
    with recorded(cfg, run, "validate", source):
        result = validate_source(cfg, run["run_id"], source)
    return {k: result.get(k) for k in ("source_name", "success", "rows", "batches",
                                       "rules_percent")}


def load_quarantined_one(run: dict, source: str) -> dict:
    cfg = load_config(run["config"])
    with recorded(cfg, run, "load", source):
        return runner.load_quarantined(cfg, run["run_id"], source)


def load_bucket_one(run: dict, bucket: int) -> dict:
    cfg = load_config(run["config"])
    with recorded(cfg, run, "load"):
        result = runner.load_bucket(cfg, run["run_id"], bucket,
                                    datetime.fromisoformat(run["started"]))
    return {k: v for k, v in result.items() if k != "timings"}


def finish_one(run: dict) -> dict:
    """Ledger and watermarks of the sources that loaded, statistics, suspected duplicates, the
    run's Data Docs; the result is the warehouse asset event's extra (what the report DAG reads)."""
    cfg = load_config(run["config"])
    with recorded(cfg, run, "finish"):
        done = runner.finish_run(cfg, run["run_id"], datetime.fromisoformat(run["started"]))
        runner.publish_data_docs(cfg, run["run_id"])
    return {"run_id": run["run_id"], "config": run["config"], "sources": done["sources"],
            "suspected_duplicates_opened": int(done["suspected_duplicates"].get("opened", 0))}


class RowsUnaccounted(RuntimeError):
    """A selected source has no ledger entry in this run, or its counts do not balance."""


def ledger_balanced(run: dict) -> dict[str, int]:
    """Rows read per source, once every selected source is in the run's ledger with
    extracted = accepted + quarantined; otherwise the error names the sources."""
    from loaders.ledger import ledger
    from loaders.warehouse import warehouse_engine

    engine = warehouse_engine(load_config(run["config"]).warehouse_url)
    rows = ledger(engine, run["run_id"])
    engine.dispose()
    missing = sorted(set(run["windows"]) - set(rows["source_name"]))
    unbalanced = rows[rows["extracted"] != rows["accepted"] + rows["quarantined"]]
    if missing or len(unbalanced):
        raise RowsUnaccounted(f"run {run['run_id']}: not loaded: {', '.join(missing) or '-'}; "
                              f"unbalanced: {', '.join(unbalanced['source_name']) or '-'}")
    return {r.source_name: int(r.extracted) for r in rows.itertuples()}


def report_one(run_id: str, config: str | None) -> str:
    """The run's report.html and report.json under [report] root; returns the folder."""
    from jinbao.reports import run_report

    return str(run_report(load_config(config), run_id))
