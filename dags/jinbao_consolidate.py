"""Consolidation DAGs, one per configuration (province): the legacy systems -> the warehouse.

    plan -> stage_<source> (one task per source, each in its source's pool)
         -> staged_sources -> load_quarantined (mapped over the staged sources)
                           -> load_bucket (mapped over person buckets) -> finish  => warehouse asset
                           -> validate (GX, mapped over the staged sources) -> finish
         -> ledger_balanced (fails the run, naming them, when a source did not load)

Each run reads its data interval (a daily CronDataIntervalTimetable); `since`/`until`/`sources`
params narrow or widen it for a manual run. A stage is retried with exponential backoff only
when its source could not be reached; a source that stays down fails its own stage while the
others load. Wiring only: every task imports jinbao inside its body, and which DAGs exist comes
from jinbao.dag_specs (TOML only), so parsing never touches a database.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import (
    Asset,
    CronDataIntervalTimetable,
    Param,
    dag,
    get_current_context,
    task,
)

from jinbao.airflow_broken import every_dag
from jinbao.airflow_retry import SOURCE_RETRY, WAREHOUSE_RETRY
from jinbao.dag_specs import DagSpec
from jinbao.windows import PATTERN as WINDOW_PATTERN


def run_params(spec: DagSpec) -> dict[str, Param]:
    """What a manual run may narrow or widen (checked by Airflow before the run is created)."""
    moment = {"type": ["null", "string"], "pattern": WINDOW_PATTERN}
    return {
        "since": Param(None, **moment, title="since (exclusive)",
                       description="Read rows changed after this local time (YYYY-MM-DD or "
                                   "'YYYY-MM-DD HH:MM:SS'); 1900-01-01 re-reads everything. "
                                   "Default: the run's data interval."),
        "until": Param(None, **moment, title="until (inclusive)",
                       description="Read rows changed up to this local time. Default: the end "
                                   "of the run's data interval."),
        "sources": Param(None, type=["null", "array"], title="sources",
                         items={"type": "string", "enum": [s.name for s in spec.sources]},
                         description="Only these sources (the other stages are skipped). "
                                     "Default: every source."),
    }


def consolidation_dag(spec: DagSpec):
    warehouse = Asset(name=spec.asset_name, uri=spec.asset_uri)
    backoff = {"retry_delay": timedelta(seconds=spec.retry_delay), "retry_exponential_backoff": 2.0,
               "max_retry_delay": timedelta(seconds=spec.max_retry_delay)}
    loads = {"pool": spec.warehouse_pool, "retries": 2, "retry_policy": WAREHOUSE_RETRY, **backoff}

    @dag(
        dag_id=spec.dag_id,
        schedule=CronDataIntervalTimetable(spec.schedule, timezone=spec.timezone),
        start_date=pendulum.instance(spec.start_date, tz=spec.timezone),
        end_date=pendulum.instance(spec.end_date, tz=spec.timezone) if spec.end_date else None,
        catchup=spec.catchup,
        max_active_runs=1,
        default_args={"queue": spec.queue},
        tags=["jinbao", "consolidate"],
        params=run_params(spec),
        doc_md=__doc__,
    )
    def consolidate():
        @task
        def plan() -> dict:
            from jinbao.airflow_tasks import plan_run

            context = get_current_context()
            start, end = context.get("data_interval_start"), context.get("data_interval_end")
            return plan_run(context["run_id"], context["dag_run"].run_after, context["params"],
                            spec.config, (start, end) if start and end else None, spec.timezone)

        @task(retries=spec.retries, retry_policy=SOURCE_RETRY, **backoff)
        def stage(run: dict, source: str) -> dict | None:
            from airflow.sdk.exceptions import AirflowSkipException

            from jinbao.airflow_tasks import stage_one

            staged = stage_one(run, source)
            if staged is None:
                raise AirflowSkipException(f"source {source} is not selected for this run")
            return staged

        @task(trigger_rule="all_done_min_one_success")
        def staged_sources(run: dict) -> list[str]:
            from jinbao.airflow_tasks import staged_sources

            return staged_sources(run)

        @task
        def bucket_numbers(run: dict, staged: list[str]) -> list[int]:
            from jinbao.airflow_tasks import bucket_numbers

            return bucket_numbers(run, staged)

        @task(map_index_template="{{ source }}")
        def validate(run: dict, source: str) -> dict:
            from jinbao.airflow_tasks import validate_one

            return validate_one(run, source)

        @task(map_index_template="{{ source }}", **loads)
        def load_quarantined(run: dict, source: str) -> dict:
            from jinbao.airflow_tasks import load_quarantined_one

            return load_quarantined_one(run, source)

        @task(map_index_template="bucket {{ bucket }}", **loads)
        def load_bucket(run: dict, bucket: int) -> dict:
            from jinbao.airflow_tasks import load_bucket_one

            return load_bucket_one(run, bucket)

        @task(outlets=[warehouse], **loads)
        def finish(run: dict) -> dict:
            from jinbao.airflow_tasks import finish_one

            done = finish_one(run)
            get_current_context()["outlet_events"][warehouse].extra = done
            return done

        @task(trigger_rule="none_failed")
        def ledger_balanced(run: dict) -> dict[str, int]:
            """Marks the run failed (naming them) when a source did not load."""
            from jinbao.airflow_tasks import ledger_balanced

            return ledger_balanced(run)

        run = plan()
        stages = [stage.override(task_id=f"stage_{s.name}", pool=s.pool)(run, s.name)
                  for s in spec.sources]
        staged = staged_sources(run)
        stages >> staged
        quarantined = load_quarantined.partial(run=run).expand(source=staged)
        loaded = load_bucket.partial(run=run).expand(bucket=bucket_numbers(run, staged))
        quarantined >> loaded  # a bucket load sees the run's quarantined rows already stored
        validated = validate.partial(run=run).expand(source=staged)
        done = finish(run)
        [loaded, validated] >> done
        [*stages, done] >> ledger_balanced(run)

    return consolidate()


every_dag(consolidation_dag, "")
