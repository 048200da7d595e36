"""The DAG imports cleanly and cheaply, and `airflow dags test` runs it end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from loaders.warehouse import warehouse_engine
from tests.conftest import REPO, fresh_config, written_config

AIRFLOW = str(Path(sys.executable).parent / "airflow")


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("airflow_home")
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW_CONFIG": str(REPO / "airflow.cfg"),
           "JINBAO_HOME": str(REPO), "GX_ANALYTICS_ENABLED": "false"}
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True)
    return env


PROVINCE = """
[warehouse]
url = "postgresql+psycopg://etl@warehouse/jinbao"
connections = 6
[airflow]
schedule = "30 1 * * *"
queue = "guangdong"             # this province's Celery workers serve this queue
[run]
retries = 4
retry_delay = 30
[sources.pension_4401]
system = "pension"
conn = "legacy_pension_4401"    # resolved in the task, never at parse time
connections = 2
[sources.injury_4401]
system = "injury"
path = "/exports/injury"
"""


def test_dags_come_from_the_configurations_and_parse_quickly(airflow_env, tmp_path):
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "4401.toml").write_text(PROVINCE, encoding="utf-8")
    (configs / "4403.toml").write_text(PROVINCE.replace("4401", "4403"), encoding="utf-8")
    code = (
        "import json, sys;"
        "from airflow.dag_processing.dagbag import DagBag;"
        f"b=DagBag(dag_folder={str(REPO / 'dags')!r});"
        "d=b.dags['jinbao_4401']; s=d.get_task('stage_pension_4401');"
        "print(json.dumps({'errors': {k: str(v) for k, v in b.import_errors.items()},"
        "'ids': sorted(b.dag_ids),"
        "'seconds': {x.file: x.duration.total_seconds() for x in b.dagbag_stats},"
        "'heavy': [m for m in ('jinbao.runner', 'pandas', 'great_expectations') if m in sys.modules],"
        "'tasks': sorted(t.task_id for t in d.tasks),"
        "'stage': [s.pool, s.retries, s.retry_exponential_backoff, s.retry_delay.total_seconds(),"
        " s.queue],"
        "'load': d.get_task('load_bucket').pool,"
        "'cron': repr(d.timetable),"
        "'outlets': [o.uri for o in d.get_task('finish').outlets],"
        "'report_schedule': type(b.dags['jinbao_4401_report'].timetable).__name__,"
        "'params': {k: {**d.params.get_param(k).schema, 'description':"
        " d.params.get_param(k).description} for k in d.params}}))"
    )
    env = {**airflow_env, "JINBAO_DAG_CONFIGS": str(configs)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    bag = json.loads(done.stdout.strip().splitlines()[-1])
    assert bag["errors"] == {}
    assert bag["ids"] == ["jinbao_4401", "jinbao_4401_report", "jinbao_4403", "jinbao_4403_report"]
    assert set(bag["seconds"]) == {"jinbao_consolidate.py", "jinbao_national.py",
                                   "jinbao_report.py"}
    assert all(seconds < 2.0 for seconds in bag["seconds"].values()), bag["seconds"]
    assert bag["heavy"] == [], "parsing a DAG file must not import the pipeline, pandas or GX"
    assert bag["tasks"] == ["bucket_numbers", "finish", "ledger_balanced", "load_bucket",
                            "load_quarantined", "plan", "stage_injury_4401", "stage_pension_4401",
                            "staged_sources", "validate"]
    # one pool per legacy source; 4 attempts = 3 retries, 30 s doubling
    assert bag["stage"] == ["jinbao_4401.pension_4401", 3, 2.0, 30.0, "guangdong"]
    assert bag["load"] == "jinbao_4401.warehouse"
    assert bag["cron"] == "CronDataIntervalTimetable(expression='30 1 * * *', timezone='Asia/Shanghai')"
    assert bag["outlets"] == ["jinbao://jinbao_4401/warehouse"]
    assert bag["report_schedule"] == "AssetTriggeredTimetable"
    # typed params with descriptions; no param can point a run at another configuration file
    assert sorted(bag["params"]) == ["since", "sources", "until"]
    assert all(p.get("description") and p.get("type") for p in bag["params"].values())
    assert bag["params"]["sources"]["items"]["enum"] == ["pension_4401", "injury_4401"]
    assert "pattern" in bag["params"]["since"]


def test_a_broken_configuration_is_an_import_error_of_its_own_dags_only(airflow_env, tmp_path):
    (tmp_path / "4401.toml").write_text(PROVINCE)
    (tmp_path / "4403.toml").write_text(PROVINCE.replace("4401", "4403").replace(
        'system = "injury"', 'system = "fax"'))
    code = (f"import json; from airflow.dag_processing.dagbag import DagBag; "
            f"b=DagBag(dag_folder={str(REPO / 'dags')!r});"
            "print(json.dumps({'ids': sorted(b.dag_ids), 'errors': list(b.import_errors.values())}))")
    env = {**airflow_env, "JINBAO_DAG_CONFIGS": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    bag = json.loads(done.stdout.strip().splitlines()[-1])
    assert bag["ids"] == ["jinbao_4401", "jinbao_4401_report"], done.stderr[-2000:]
    assert len(bag["errors"]) == 2  # each DAG file names the broken province file
    assert all("4403.toml: [sources.injury_4403] system = 'fax'" in e for e in bag["errors"])


def test_airflow_dags_test_runs_the_pipeline(airflow_env, small_estate, tmp_path):
    config = written_config(fresh_config(small_estate, tmp_path), tmp_path / "jinbao.toml")
    env = {**airflow_env, "JINBAO_CONFIG": str(config)}
    done = subprocess.run([AIRFLOW, "dags", "test", "jinbao_consolidate", "-c",
                           '{"since": "1900-01-01"}'], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "state=success" in done.stdout + done.stderr
    engine = warehouse_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    with engine.connect() as conn:
        ledger = conn.execute(text(
            "SELECT source_name, extracted, accepted, quarantined FROM run_ledger")).all()
        persons = conn.execute(text("SELECT count(*) FROM person")).scalar_one()
    assert len(ledger) == 5
    assert all(r.extracted == r.accepted + r.quarantined and r.extracted > 0 for r in ledger)
    assert persons > 250
    logged = done.stdout + done.stderr + "".join(  # task logs, printed and on disk
        p.read_text("utf-8", errors="ignore") for p in Path(env["AIRFLOW_HOME"]).rglob("*.log"))
    truth = (small_estate / "truth.csv").read_text("utf-8").splitlines()[1:]
    assert not [line for line in truth if line.rsplit(",", 1)[1] in logged]
    # Great Expectations' narration stays below INFO; finish says what it committed
    assert not [line for line in logged.splitlines() if "great_expectations" in line
                and "INFO" in line.upper() and "WARNING" not in line.upper()]
    assert "committed: 5 sources in the ledger" in logged
