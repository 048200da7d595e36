"""The DAG imports cleanly and cheaply, and `airflow dags test` runs it end to end."""

from __future__ import annotations

import os
import subprocess
import sys
import time
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


def test_dag_file_imports_without_errors_and_quickly(airflow_env, monkeypatch):
    for key in ("AIRFLOW_HOME", "AIRFLOW_CONFIG", "JINBAO_HOME"):
        monkeypatch.setenv(key, airflow_env[key])
    code = (
        "import time; t=time.perf_counter();"
        "from airflow.dag_processing.dagbag import DagBag;"
        f"b=DagBag(dag_folder={str(REPO / 'dags')!r});"
        "print(repr(b.import_errors)); print(sorted(b.dag_ids));"
        "import sys; print('jinbao.runner' in sys.modules, 'great_expectations' in sys.modules)"
    )
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], env=airflow_env, capture_output=True,
                          text=True, check=True)
    errors, ids, heavy = done.stdout.strip().splitlines()[-3:]
    assert errors == "{}"
    assert "jinbao_consolidate" in ids
    assert heavy == "False False", "parsing the DAG must not import the pipeline or GX"
    assert time.perf_counter() - began < 60


def test_airflow_dags_test_runs_the_pipeline(airflow_env, small_estate, tmp_path):
    config = written_config(fresh_config(small_estate, tmp_path), tmp_path / "jinbao.toml")
    env = {**airflow_env, "JINBAO_CONFIG": str(config)}
    done = subprocess.run([AIRFLOW, "dags", "test", "jinbao_consolidate"], env=env,
                          capture_output=True, text=True, timeout=600)
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
    reports = list((tmp_path / "reports").glob("*/report.html"))  # the DAG's last task
    assert len(reports) == 1 and "Every source row accounted for" in reports[0].read_text()
    logged = done.stdout + done.stderr + "".join(  # task logs, printed and on disk
        p.read_text("utf-8", errors="ignore") for p in Path(env["AIRFLOW_HOME"]).rglob("*.log"))
    truth = (small_estate / "truth.csv").read_text("utf-8").splitlines()[1:]
    assert not [line for line in truth if line.rsplit(",", 1)[1] in logged]
