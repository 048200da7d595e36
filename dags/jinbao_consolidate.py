"""Consolidation DAG: the five legacy systems -> the warehouse. Wiring only; logic is in jinbao.

plan -> stage (mapped over sources) -> load_quarantined (mapped over sources)
     -> load_bucket (mapped over person buckets) -> finish (ledger, watermarks)
     -> report (the run's HTML and JSON report)

The configuration comes from the `config` param or $JINBAO_CONFIG (else the embedded estate).
Nothing heavy is imported at parse time: every task imports jinbao inside its body.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task


@dag(
    dag_id="jinbao_consolidate",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["jinbao"],
    params={"config": None, "since": None, "until": None, "sources": None},
    doc_md=__doc__,
)
def jinbao_consolidate():
    @task
    def plan() -> dict:
        from jinbao.airflow_tasks import plan_run

        context = get_current_context()
        return plan_run(context["run_id"], context["dag_run"].run_after, context["params"])

    @task
    def source_windows(run: dict) -> list[dict]:
        return run["windows"]

    @task
    def bucket_numbers(run: dict) -> list[int]:
        return list(range(run["buckets"]))

    @task(map_index_template="{{ window['source'] }}")
    def stage(run: dict, window: dict) -> str:
        from jinbao.airflow_tasks import stage_one

        return stage_one(run, window)

    @task(map_index_template="{{ source }}")
    def load_quarantined(run: dict, source: str) -> dict:
        from jinbao.airflow_tasks import load_quarantined_one

        return load_quarantined_one(run, source)

    @task(map_index_template="bucket {{ bucket }}")
    def load_bucket(run: dict, bucket: int) -> dict:
        from jinbao.airflow_tasks import load_bucket_one

        return load_bucket_one(run, bucket)

    @task
    def finish(run: dict) -> dict:
        from jinbao.airflow_tasks import finish_one

        return finish_one(run)

    @task
    def report(run: dict) -> str:
        from jinbao.airflow_tasks import report_one

        return report_one(run)

    run = plan()
    staged = stage.partial(run=run).expand(window=source_windows(run))
    quarantined = load_quarantined.partial(run=run).expand(source=staged)
    buckets = bucket_numbers(run)
    staged >> buckets
    loaded = load_bucket.partial(run=run).expand(bucket=buckets)
    done = finish(run)
    [quarantined, loaded] >> done
    done >> report(run)


jinbao_consolidate()
