"""The national DAG: made from a national.toml, scheduled on the province DAGs' warehouse
assets, cheap to parse, and `airflow dags test` runs it over province warehouses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from estate.national import build_national_estates
from jinbao.config import load_config
from jinbao.runner import run_pipeline
from loaders.warehouse import warehouse_engine
from tests.conftest import REPO
from tests.dags.test_consolidate_dag import AIRFLOW, airflow_env  # noqa: F401 - a fixture

PROVINCES = ("guangdong", "anhui", "sichuan")


def _with_dags(national: Path) -> None:
    """national.toml with each province's DAG named (its asset schedules the national DAG)."""
    text_ = national.read_text("utf-8")
    for province in PROVINCES:
        text_ = text_.replace(f"[provinces.{province}]\n",
                              f'[provinces.{province}]\ndag_id = "jinbao_{province}"\n')
    national.write_text(text_ + '[airflow]\nqueue = "ministry"\n', encoding="utf-8")


def test_the_national_dag_is_scheduled_on_the_provinces_assets(airflow_env, tmp_path):  # noqa: F811
    build_national_estates(60, 3, tmp_path, PROVINCES)
    _with_dags(tmp_path / "national.toml")
    code = (
        "import json, sys;"
        "from airflow.dag_processing.dagbag import DagBag;"
        f"b=DagBag(dag_folder={str(REPO / 'dags')!r});"
        "d=b.dags['jinbao_national'];"
        "print(json.dumps({'errors': {k: str(v) for k, v in b.import_errors.items()},"
        "'schedule': type(d.timetable).__name__,"
        "'seconds': {x.file: x.duration.total_seconds() for x in b.dagbag_stats},"
        "'assets': sorted(a.uri for a in d.timetable.asset_condition.objects),"
        "'tasks': sorted(t.task_id for t in d.tasks),"
        "'read': [d.get_task('read_anhui').pool, d.get_task('read_anhui').queue],"
        "'outlets': [o.uri for o in d.get_task('finish').outlets],"
        "'heavy': [m for m in ('jinbao.runner', 'pandas', 'great_expectations')"
        " if m in sys.modules]}))")
    env = {**airflow_env, "JINBAO_NATIONAL_CONFIGS": str(tmp_path / "national.toml")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    bag = json.loads(done.stdout.strip().splitlines()[-1])
    assert bag["errors"] == {}
    assert bag["schedule"] == "AssetTriggeredTimetable"
    assert bag["seconds"]["jinbao_national.py"] < 2.0, bag["seconds"]
    assert bag["assets"] == sorted(f"jinbao://jinbao_{p}/warehouse" for p in PROVINCES)
    assert bag["tasks"] == ["bucket_groups", "finish", "load_buckets", "load_quarantined", "plan",
                            "read_anhui", "read_guangdong", "read_sichuan", "reconcile",
                            "staged_provinces"]
    assert bag["read"] == ["jinbao_national.anhui", "ministry"]
    assert bag["outlets"] == ["jinbao://jinbao_national/warehouse"]
    assert bag["heavy"] == []


def test_airflow_dags_test_runs_the_national_tier(airflow_env, tmp_path):  # noqa: F811
    build_national_estates(150, 4, tmp_path, PROVINCES)
    for province in PROVINCES:
        run_pipeline(load_config(tmp_path / province / "jinbao.toml"), workers=1)
    env = {**airflow_env, "JINBAO_NATIONAL_CONFIGS": str(tmp_path / "national.toml")}
    done = subprocess.run([AIRFLOW, "dags", "test", "jinbao_national"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "state=success" in done.stdout + done.stderr
    # the first load was reconciled on Spark, in the DAG's reconcile task
    assert "rows of 3 provinces reconciled" in done.stdout + done.stderr
    engine = warehouse_engine(f"sqlite:///{tmp_path / 'national.db'}")
    with engine.connect() as conn:
        ledger = dict(conn.execute(text("SELECT source_name, accepted FROM run_ledger")).all())
        persons = conn.execute(text("SELECT count(*) FROM person")).scalar_one()
        progress = conn.execute(text("SELECT count(DISTINCT province) FROM monthly_progress"))\
            .scalar_one()
    assert set(ledger) == set(PROVINCES) and all(ledger.values())
    assert persons > 100 and progress == 3
