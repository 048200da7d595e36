"""A real Airflow deployment for tests: PostgreSQL metadata, Redis broker, the API server, the
scheduler, the DAG processor and two Celery workers, each a separate process, as in production.

Each worker writes task logs under its own folder (as workers on separate machines would), so a
test can tell which worker ran which task.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.conftest import REPO

BIN = Path(sys.executable).parent
WORKERS = ("w1", "w2")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Deployment:
    home: Path
    env: dict[str, str]
    metadata_url: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def airflow(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        done = subprocess.run([str(BIN / "airflow"), *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        assert done.returncode == 0, f"airflow {' '.join(args)}:\n{done.stdout[-2000:]}" \
                                     f"\n{done.stderr[-3000:]}"
        return done

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        log = (self.home / f"{name}.out").open("w")
        self.processes[name] = subprocess.Popen(
            [str(BIN / "airflow"), *args], env=env or self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def api(self, path: str, body: dict) -> dict:
        """POST to the REST API (/api/v2/...)."""
        request = urllib.request.Request(
            self.env["AIRFLOW__API__BASE_URL"] + path, data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def query(self, sql: str, **params) -> list:
        engine = create_engine(self.metadata_url)
        try:
            with engine.connect() as conn:
                return conn.execute(text(sql), params).all()
        finally:
            engine.dispose()

    def wait(self, what: str, done: Callable[[], object], timeout: float = 900) -> object:
        """Poll `done` until it returns something truthy; fail with every process's log tail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                assert process.poll() is None, f"{name} exited while waiting for {what}\n" \
                                               + self.tails()
            value = done()
            if value:
                return value
            time.sleep(2)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n" + self.tails())

    def runs(self, dag_id: str) -> list:
        return self.query(
            "SELECT run_id, state, run_type, data_interval_start, data_interval_end, logical_date, "
            "start_date, end_date "
            "FROM dag_run WHERE dag_id = :dag ORDER BY logical_date NULLS LAST, run_id", dag=dag_id)

    def finished_runs(self, dag_id: str, count: int) -> list | None:
        runs = self.runs(dag_id)
        finished = [r for r in runs if r.state in ("success", "failed")]
        return runs if len(runs) >= count and len(finished) == len(runs) else None

    def task_instances(self, dag_id: str, run_id: str) -> dict[tuple[str, int], tuple[str, int]]:
        """(task_id, map_index) -> (state, try_number)."""
        rows = self.query("SELECT task_id, map_index, state, try_number FROM task_instance "
                          "WHERE dag_id = :dag AND run_id = :run", dag=dag_id, run=run_id)
        return {(r.task_id, r.map_index): (r.state, r.try_number) for r in rows}

    def worker_of_tasks(self, dag_id: str) -> dict[str, set[tuple[str, str]]]:
        """worker name -> the (task id, map index) it wrote logs for."""
        ran: dict[str, set[tuple[str, str]]] = {}
        for worker in WORKERS:
            for log in (self.home / f"logs-{worker}").rglob("*.log"):
                parts = {p.split("=", 1)[0]: p.split("=", 1)[1] for p in log.parts if "=" in p}
                if parts.get("dag_id") == dag_id:
                    ran.setdefault(worker, set()).add((parts["task_id"],
                                                       parts.get("map_index", "-1")))
        return ran

    def tails(self, lines: int = 40) -> str:
        out = []
        for name in self.processes:
            path = self.home / f"{name}.out"
            text_ = path.read_text("utf-8", errors="replace").splitlines()[-lines:] \
                if path.exists() else []
            out.append(f"--- {name}\n" + "\n".join(text_))
        return "\n".join(out)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def deploy(home: Path, metadata_url: str, broker_url: str, configs: Path,
           national: Path | None = None) -> Deployment:
    """Migrate the metadata database, import the pools, start every component, and return once
    the API server answers and the DAG processor has parsed the DAGs. `national`: a national.toml
    (the national DAG)."""
    port = free_port()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home), "AIRFLOW_CONFIG": str(REPO / "airflow.cfg"),
        "JINBAO_HOME": str(REPO), "JINBAO_DAG_CONFIGS": str(configs),
        "JINBAO_NATIONAL_CONFIGS": str(national or ""),
        "GX_ANALYTICS_ENABLED": "false",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        # Airflow's async engine would default to asyncpg; psycopg 3 does async itself
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata_url.replace(
            "+psycopg:", "+psycopg_async:"),
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata_url,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",  # a test user is an admin
    }
    env.pop("JINBAO_CONFIG", None)
    deployment = Deployment(home, env, metadata_url)
    deployment.airflow("db", "migrate", timeout=600)
    pools = home / "pools.json"
    subprocess.run([str(BIN / "jinbao"), "pools", "--out", str(pools)], env=env, check=True,
                   capture_output=True)
    deployment.airflow("pools", "import", str(pools))
    deployment.start("api-server", "api-server", "--port", str(port))
    deployment.start("scheduler", "scheduler")
    deployment.start("dag-processor", "dag-processor")
    for worker in WORKERS:
        deployment.start(f"worker-{worker}", "celery", "worker", "--skip-serve-logs",
                         "--celery-hostname", f"{worker}@%h", env={
                             **env, "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / f"logs-{worker}")})
    return deployment


def wait_until_ready(deployment: Deployment, dag_ids: list[str]) -> None:
    """The API server answers (workers report task states through it) and every DAG is parsed."""
    url = deployment.env["AIRFLOW__API__BASE_URL"] + "/api/v2/monitor/health"

    def answers() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    deployment.wait("the API server", answers, timeout=180)
    deployment.wait("the DAG processor to parse every DAG", lambda: {
        r.dag_id for r in deployment.query("SELECT dag_id FROM serialized_dag")} >= set(dag_ids),
        timeout=180)
