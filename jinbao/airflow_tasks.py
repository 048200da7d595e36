"""The bodies of the DAG's tasks: thin adapters from Airflow's context to jinbao.runner.

Tasks pass a small `run` dict (run id, config path, start, windows) and names, never data.
"""

from __future__ import annotations

from datetime import UTC, datetime

from jinbao import runner
from jinbao.config import load_config


def plan_run(airflow_run_id: str, run_after: datetime, params: dict) -> dict:
    """The run's id, configuration, start time and per-source windows."""
    cfg = load_config(params.get("config"))
    names = params.get("sources") or list(cfg.sources)
    if isinstance(names, str):
        names = names.split(",")
    windows = runner.source_windows(cfg, names, params.get("since"), params.get("until"))
    started = run_after.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    return {
        "run_id": runner.safe_run_id(airflow_run_id),
        "config": str(cfg.path) if cfg.path else None,
        "started": started.isoformat(),
        "buckets": cfg.buckets,
        "windows": [{"source": n, "since": s, "until": u} for n, (s, u) in windows.items()],
    }


def stage_one(run: dict, window: dict) -> str:
    cfg = load_config(run["config"])
    runner.stage_source(cfg, run["run_id"], window["source"], window["since"], window["until"])
    return window["source"]


def load_quarantined_one(run: dict, source: str) -> dict:
    return runner.load_quarantined(load_config(run["config"]), run["run_id"], source)


def load_bucket_one(run: dict, bucket: int) -> dict:
    cfg = load_config(run["config"])
    return runner.load_bucket(cfg, run["run_id"], bucket, datetime.fromisoformat(run["started"]))


def finish_one(run: dict) -> dict:
    cfg = load_config(run["config"])
    done = runner.finish_run(cfg, run["run_id"], datetime.fromisoformat(run["started"]))
    return {**done, "data_docs": runner.publish_data_docs(cfg, run["run_id"])}


def report_one(run: dict) -> str:
    from jinbao.reports import run_report

    return str(run_report(load_config(run["config"]), run["run_id"]))
