"""The national DAG, one per national.toml ($JINBAO_NATIONAL_CONFIGS): province warehouses ->
the national warehouse.

    plan -> read_<province> (one task per province, each in that province's pool)
         -> staged_provinces -> reconcile (a first load: on Spark)
         -> load_quarantined (mapped over the provinces read)
         -> load_buckets (mapped over groups of person buckets)
         -> finish (ledger, watermarks, matching, monthly progress, statistics) => national asset

Scheduled on the province DAGs' warehouse assets (any of them updated: a run), or on the cron
of [airflow] schedule when no province names its DAG. A province that cannot be read fails its
own task (retried with backoff when it is unreachable) while the others load; its watermark
stays, so the next run reads it from where it stopped. Wiring only: which DAGs exist comes from
jinbao.dag_specs (TOML only), every task imports jinbao inside its body.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, AssetAny, dag, get_current_context, task

from jinbao.airflow_broken import broken_dags
from jinbao.airflow_retry import SOURCE_RETRY, WAREHOUSE_RETRY
from jinbao.dag_specs import BrokenSpec, NationalSpec, national_specs_and_broken


def national_dag(spec: NationalSpec):
    national = Asset(name=spec.asset_name, uri=spec.asset_uri)
    provinces = [Asset(name=p.asset_name, uri=p.asset_uri) for p in spec.provinces
                 if p.asset_uri]
    backoff = {"retry_delay": timedelta(seconds=spec.retry_delay), "retry_exponential_backoff": 2.0,
               "max_retry_delay": timedelta(seconds=spec.max_retry_delay)}
    loads = {"pool": spec.warehouse_pool, "retries": 2, "retry_policy": WAREHOUSE_RETRY, **backoff}

    @dag(
        dag_id=spec.dag_id,
        schedule=AssetAny(*provinces) if provinces else spec.schedule,
        start_date=pendulum.instance(spec.start_date, tz=spec.timezone),
        catchup=False,
        max_active_runs=1,
        default_args={"queue": spec.queue},
        tags=["jinbao", "national"],
        doc_md=__doc__,
    )
    def national_run():
        @task
        def plan() -> dict:
            from jinbao.national_tasks import plan_national

            context = get_current_context()
            return plan_national(context["run_id"], context["dag_run"].run_after, spec.config)

        @task(retries=spec.retries, retry_policy=SOURCE_RETRY, **backoff)
        def read(run: dict, province: str) -> dict:
            from jinbao.national_tasks import read_province

            return read_province(run, province)

        @task(trigger_rule="all_done_min_one_success")
        def staged_provinces(run: dict) -> list[str]:
            from jinbao.national_tasks import staged_provinces

            return staged_provinces(run)

        @task(**loads)
        def reconcile(run: dict, staged: list[str]) -> dict:
            from jinbao.national_tasks import reconcile

            return reconcile(run, staged)

        @task
        def bucket_groups(run: dict, staged: list[str]) -> list[list[int]]:
            from jinbao.national_tasks import bucket_groups

            return bucket_groups(run)

        @task(map_index_template="{{ province }}", **loads)
        def load_quarantined(run: dict, province: str) -> dict:
            from jinbao.national_tasks import load_quarantined_one

            return load_quarantined_one(run, province)

        @task(map_index_template="buckets {{ group }}", **loads)
        def load_buckets(run: dict, group: list[int]) -> dict:
            from jinbao.national_tasks import load_group

            return load_group(run, group)

        @task(outlets=[national], trigger_rule="none_failed_min_one_success", **loads)
        def finish(run: dict, staged: list[str]) -> dict:
            from jinbao.national_tasks import finish_national_one

            done = finish_national_one(run, staged)
            get_current_context()["outlet_events"][national].extra = done
            return done

        run = plan()
        reads = [read.override(task_id=f"read_{p.name}", pool=p.pool)(run, p.name)
                 for p in spec.provinces]
        staged = staged_provinces(run)
        reads >> staged
        reconciled = reconcile(run, staged)
        quarantined = load_quarantined.partial(run=run).expand(province=staged)
        groups = bucket_groups(run, staged)
        reconciled >> [quarantined, groups]
        loaded = load_buckets.partial(run=run).expand(group=groups)
        quarantined >> loaded
        loaded >> finish(run, staged)

    return national_run()


def every_national_dag() -> None:
    """national_dag(spec) for every national.toml; one that cannot become a DAG is this file's
    import error, naming it."""
    specs, broken = national_specs_and_broken()
    for spec in specs:
        try:
            national_dag(spec)
        except Exception as error:
            broken.append(BrokenSpec(spec.dag_id, spec.config, f"{spec.config}: {error}"))
    broken_dags(broken)


every_national_dag()
