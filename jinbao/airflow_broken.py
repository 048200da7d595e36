"""DAGs for configuration files that cannot become DAGs: Airflow shows them as an import error of
the DAG file, naming each broken file and its problem, while every other province's DAGs parse.

Airflow records an import error per DAG file and bags the file's other DAGs when one of them
fails validation; a placeholder whose timetable refuses validation is that one DAG.
"""

from __future__ import annotations

from collections.abc import Callable

from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowTimetableInvalid
from airflow.timetables.simple import NullTimetable

from jinbao.dag_specs import BrokenSpec, DagSpec, specs_and_broken


class BrokenConfiguration(NullTimetable):
    """Never schedules; fails validation with the configuration errors."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def validate(self) -> None:
        raise AirflowTimetableInvalid(self.message)


def broken_dags(broken: list[BrokenSpec], suffix: str = "") -> list[DAG]:
    """One placeholder per broken file; each carries every broken file's message, since
    Airflow keeps one import error per DAG file."""
    if not broken:
        return []
    message = f"{len(broken)} jinbao configuration file(s) cannot become DAGs:\n" + "\n".join(
        b.error for b in broken)
    dags = []
    for b in broken:
        with DAG(f"{b.dag_id}{suffix}", schedule=BrokenConfiguration(message)) as dag:
            dags.append(dag)  # registered when the block ends, like any DAG
    return dags


def every_dag(build: Callable[[DagSpec], object], suffix: str = "") -> None:
    """build(spec) for every configuration in the environment; a file that cannot become DAGs,
    or whose DAG Airflow refuses (a bad cron, say), becomes this DAG file's import error for
    its own DAGs only."""
    specs, broken = specs_and_broken()
    for spec in specs:
        try:
            build(spec)
        except Exception as error:
            broken.append(BrokenSpec(spec.dag_id, str(spec.config), f"{spec.config}: {error}"))
    broken_dags(broken, suffix)
