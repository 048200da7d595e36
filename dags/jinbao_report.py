"""Report DAGs: each consolidation DAG's report DAG runs whenever its warehouse asset is updated
and writes that run's report.html + report.json for auditors under [report] root.

Wiring only (see jinbao_consolidate.py): the asset event's extra names the run and configuration.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, get_current_context, task

from jinbao.airflow_broken import every_dag
from jinbao.dag_specs import DagSpec


def report_dag(spec: DagSpec):
    warehouse = Asset(name=spec.asset_name, uri=spec.asset_uri)

    @dag(
        dag_id=spec.report_dag_id,
        schedule=[warehouse],
        start_date=pendulum.instance(spec.start_date, tz=spec.timezone),
        catchup=False,
        default_args={"queue": spec.queue},
        tags=["jinbao", "report"],
        doc_md=__doc__,
    )
    def report():
        @task
        def write_reports() -> list[str]:
            from jinbao.airflow_tasks import report_one

            events = get_current_context()["triggering_asset_events"]
            runs = {e.extra["run_id"]: e.extra.get("config") for queue in events.values()
                    for e in queue if e.extra.get("run_id")}
            return [report_one(run_id, config) for run_id, config in sorted(runs.items())]

        write_reports()

    return report()


every_dag(report_dag, "_report")
