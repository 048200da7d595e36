"""The bodies of the national DAG's tasks: thin adapters from Airflow's context to
jinbao.national and jinbao.runner. Tasks pass a small `run` dict and names, never data."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from jinbao import runner, stage
from jinbao.airflow_tasks import recorded
from jinbao.errors import SourceUnavailable
from jinbao.national import (
    finish_national,
    load_national_config,
    prepare_loads,
    spark_of,
    stage_province,
)


def plan_national(airflow_run_id: str, run_after: datetime, config: str) -> dict:
    """The run's id, the national file and the start time (the file is always the DAG's own)."""
    load_national_config(config)  # a broken file fails the plan, naming the problem
    started = run_after.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    return {"run_id": stage.safe_run_id(airflow_run_id), "config": config,
            "started": started.isoformat()}


def read_province(run: dict, province: str) -> dict:
    """Stage one province's rows since its watermark (one attempt: Airflow retries it when the
    warehouse was unreachable)."""
    cfg = load_national_config(run["config"])
    with recorded(cfg.consolidation, run, "stage", province):
        manifest = stage_province(cfg, run["run_id"], province)
    return {k: manifest[k] for k in ("source_name", "extracted", "accepted", "quarantined",
                                     "province_runs")}


def staged_provinces(run: dict) -> list[str]:
    """The provinces whose read finished (their manifest was written last)."""
    cfg = load_national_config(run["config"])
    return runner.staged_sources(cfg.consolidation, run["run_id"])


def reconcile(run: dict, staged: list[str]) -> dict:
    """Prepare the loads; a first load is reconciled on Spark ([spark]), each bucket's load
    then writes what Spark computed."""
    cfg = load_national_config(run["config"])
    spark = spark_of(cfg, run["run_id"])
    try:
        done = prepare_loads(cfg, run["run_id"], datetime.fromisoformat(run["started"]), staged,
                             spark)
    finally:
        if spark is not None:
            spark.close()
    return {"deferred_indexes": done["deferred_indexes"], **done["reconciled"]}


def bucket_groups(run: dict) -> list[list[int]]:
    cfg = load_national_config(run["config"])
    return runner.bucket_groups(cfg.consolidation, run["run_id"], os.cpu_count() or 1)


def load_quarantined_one(run: dict, province: str) -> dict:
    cfg = load_national_config(run["config"])
    return runner.load_quarantined(cfg.consolidation, run["run_id"], province)


def load_group(run: dict, group: list[int]) -> dict:
    cfg = load_national_config(run["config"])
    result = runner.load_buckets(cfg.consolidation, run["run_id"], group,
                                 datetime.fromisoformat(run["started"]))
    return {k: v for k, v in result.items() if k != "timings"}


def finish_national_one(run: dict, staged: list[str]) -> dict:
    """The finish (ledger, watermarks, matching, progress, statistics); the provinces not read
    are flagged and recorded. The result is the national asset event's extra."""
    cfg = load_national_config(run["config"])
    if not staged:
        raise SourceUnavailable("no province warehouse could be read (see the read tasks)")
    failed = {p: "its read task did not finish" for p in cfg.provinces if p not in staged}
    spark = spark_of(cfg, run["run_id"])  # started only for a full match
    try:
        done = finish_national(cfg, run["run_id"], datetime.fromisoformat(run["started"]),
                               failed, spark)
    finally:
        if spark is not None:
            spark.close()
    return {"run_id": run["run_id"], "config": run["config"], "month": done["month"],
            "statuses": done["statuses"], "sources": done["sources"]}
