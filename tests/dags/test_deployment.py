"""The DAGs on a real deployment: CeleryExecutor, Redis broker, PostgreSQL metadata, two workers.

One deployment serves three provinces (one configuration file each, so three generated DAGs):
- `jinbao_celery`: a run spread over both workers loads the warehouse a single process loads;
  its warehouse asset then triggers the report DAG;
- `jinbao_backfill`: `airflow backfill create` over three days runs one DAG run per daily
  interval, each reading exactly its interval, and loads what `jinbao backfill` loads; repeated,
  it changes nothing;
- `jinbao_down`: one source refuses connections (retried with backoff, then failed), one has no
  tables (failed at once, never retried), and the other three load;
- `jinbao_national`: the ministry's DAG over the celery province, triggered by its warehouse
  asset, loads the province's persons into the national warehouse.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, select, text, update

from extractors.legacy_tables import ac01, ac02, mi_insured, sy_cbry, unemployment_insured
from jinbao.backfill import backfill_slices, run_backfill
from jinbao.config import load_config
from jinbao.runner import run_pipeline
from loaders.warehouse import warehouse_engine
from tests.conftest import _scratch_database, fresh_config, warehouse_dump, written_config
from tests.dags.deployment import WORKERS, deploy, wait_until_ready

pytestmark = pytest.mark.postgres

DAYS = ["2024-11-29", "2024-11-30", "2024-12-01"]  # 11-30 also holds injury's November export
AIRFLOW_SECTION = """
[airflow]
start_date = "2024-11-01"
end_date = "2024-12-31"   # no scheduled runs: the tests make their own
[run]
retries = 3
retry_delay = 1.0
"""


def touched_estate(estate: Path, out: Path) -> Path:
    """A copy of the estate in which every third row of each database changed during DAYS, as
    a few days of ordinary work would leave it (the estate spreads its changes over six years)."""
    shutil.copytree(estate, out)

    def moment(j: int) -> datetime:
        return datetime.fromisoformat(DAYS[j % len(DAYS)]) + timedelta(hours=8, seconds=37 * j)

    def touch(db: str, table, key: str, column: str, as_text: bool = False, also=None) -> None:
        with create_engine(f"sqlite:///{out / db}").begin() as conn:
            keys = conn.execute(select(table.c[key]).order_by(table.c[key])).scalars().all()
            for j, k in enumerate(keys[::3]):
                when = moment(j).strftime("%Y/%m/%d %H:%M:%S") if as_text else moment(j)
                conn.execute(update(table).where(table.c[key] == k).values({column: when}))
                if also is not None:
                    conn.execute(update(also).where(also.c[key] == k).values({column: when}))

    touch("pension.db", ac01, "aac001", "aae036", also=ac02)
    touch("medical.db", mi_insured, "psn_no", "updt_time")
    touch("unemployment.db", unemployment_insured, "个人编号", "修改时间", as_text=True)
    touch("maternity.db", sy_cbry, "grbh", "gxsj")
    return out


def province(estate: Path, configs: Path, name: str, warehouse_url: str, **sources) -> Path:
    """configs/<name>.toml: the estate's sources (some replaced), its own warehouse and folders."""
    cfg = fresh_config(estate, configs.parent / name)
    cfg = dataclasses.replace(cfg, warehouse_url=warehouse_url, sources={
        **cfg.sources, **{k: dataclasses.replace(cfg.sources[k], url=v) for k, v in sources.items()}})
    path = written_config(cfg, configs / f"{name}.toml")
    path.write_text(path.read_text("utf-8") + AIRFLOW_SECTION, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def deployment(small_estate, tmp_path_factory):
    import redis

    root = tmp_path_factory.mktemp("deployment")
    estate = touched_estate(small_estate, root / "estate")
    configs = root / "configs"
    configs.mkdir()
    broker_db = random.Random().randrange(1, 16)
    broker = redis.Redis(host="127.0.0.1", port=6379, db=broker_db)
    try:
        broker.flushdb()
    except redis.ConnectionError as error:
        pytest.fail(f"Redis is not reachable on 127.0.0.1:6379 ({error}); start it: redis-server "
                    "--daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no")
    empty = root / "empty.db"
    with create_engine(f"sqlite:///{empty}").begin() as conn:
        conn.execute(text("CREATE TABLE unrelated (x INTEGER)"))
    with contextlib.ExitStack() as stack:
        url = {name: stack.enter_context(contextlib.contextmanager(_scratch_database)("postgres"))
               for name in ("metadata", "celery", "celery_ref", "backfill", "backfill_ref",
                            "national")}
        province(estate, configs, "celery", url["celery"])
        province(estate, configs, "backfill", url["backfill"])
        province(estate, configs, "down", f"sqlite:///{root / 'down' / 'warehouse.db'}",
                 pension="postgresql+psycopg://postgres@127.0.0.1:1/pension",
                 maternity=f"sqlite:///{empty}")
        national = root / "national.toml"  # the ministry over the celery province
        national.write_text(f'[warehouse]\nurl = "{url["national"]}"\n[staging]\n'
                            f'root = "national_staging"\n[provinces.celery]\n'
                            f'warehouse = "{url["celery"]}"\ndag_id = "jinbao_celery"\n',
                            encoding="utf-8")
        home = root / "airflow"
        home.mkdir()
        airflow = deploy(home, url["metadata"], f"redis://127.0.0.1:6379/{broker_db}", configs,
                         national)
        try:
            wait_until_ready(airflow, [f"jinbao_{n}{r}" for n in ("celery", "backfill", "down")
                                       for r in ("", "_report")] + ["jinbao_national"])
            # everything is started at once, then each test waits for its own DAG
            airflow.airflow("dags", "trigger", "jinbao_celery", "-c",
                            '{"since": "1900-01-01", "until": "2030-01-01 00:00:00"}')
            airflow.airflow("backfill", "create", "--dag-id", "jinbao_backfill", "--from-date",
                            DAYS[0], "--to-date", DAYS[-1], "--max-active-runs", "1")
            airflow.airflow("dags", "trigger", "jinbao_down", "-c", '{"since": "1900-01-01"}')
            yield airflow, estate, configs, url
        finally:
            airflow.stop()
            broker.flushdb()


def test_a_run_spread_over_two_celery_workers_loads_what_one_process_loads(deployment, tmp_path):
    airflow, estate, configs, url = deployment
    (run,) = airflow.wait("the celery run", lambda: airflow.finished_runs("jinbao_celery", 1))
    tasks = airflow.task_instances("jinbao_celery", run.run_id)
    assert run.state == "success", tasks
    assert {state for state, _ in tasks.values()} == {"success"}
    ran = airflow.worker_of_tasks("jinbao_celery")
    assert set(ran) == set(WORKERS), f"tasks ran only on {sorted(ran)}"
    assert sum(len(t) for t in ran.values()) >= 5

    cfg = dataclasses.replace(load_config(configs / "celery.toml"), warehouse_url=url["celery_ref"],
                              staging_root=tmp_path / "staging", gx_root=tmp_path / "gx")
    one = run_pipeline(cfg, since="1900-01-01", until="2030-01-01 00:00:00", workers=1)
    print(f"\ncelery run: {len(tasks)} task instances on {len(ran)} workers "
          f"({', '.join(f'{w}: {len(t)} tasks' for w, t in sorted(ran.items()))}), "
          f"{(run.end_date - run.start_date).total_seconds():.1f} s; "
          f"one process (jinbao run): {one.seconds:.1f} s")
    celery = warehouse_dump(warehouse_engine(url["celery"]), ignore_runs=True)
    assert celery["source_record"] and celery["person"]
    assert celery == warehouse_dump(warehouse_engine(url["celery_ref"]), ignore_runs=True)

    # the load published the warehouse asset; the report DAG it schedules wrote the run's report
    (report_run,) = airflow.wait("the report DAG", lambda: airflow.finished_runs(
        "jinbao_celery_report", 1))
    assert report_run.state == "success"
    reports = list((configs.parent / "celery" / "reports").glob("*/report.html"))
    assert len(reports) == 1 and "Every source row accounted for" in reports[0].read_text("utf-8")


def test_a_province_load_triggers_the_national_dag(deployment):
    airflow, _, _, url = deployment
    (run,) = airflow.wait("the national DAG", lambda: airflow.finished_runs(
        "jinbao_national", 1))
    tasks = airflow.task_instances("jinbao_national", run.run_id)
    assert run.state == "success", tasks
    assert run.run_type == "asset_triggered"
    counts = []
    for name in ("celery", "national"):
        engine = warehouse_engine(url[name])
        with engine.connect() as conn:
            counts.append(conn.execute(text("SELECT count(*) FROM person")).scalar_one())
            if name == "national":
                ledger = conn.execute(text("SELECT source_name FROM run_ledger")).scalars().all()
        engine.dispose()
    assert counts[0] > 0 and counts[0] == counts[1]  # one province: its persons, no more
    assert ledger == ["celery"]


def ledger_windows(url: str) -> list[tuple]:
    engine = warehouse_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT DISTINCT window_since, window_until FROM run_ledger "
                                 "ORDER BY window_since")).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_airflow_backfill_reads_each_interval_and_equals_jinbao_backfill(deployment, tmp_path):
    airflow, estate, configs, url = deployment
    runs = airflow.wait("the backfill", lambda: airflow.finished_runs("jinbao_backfill", 3))
    assert [r.state for r in runs] == ["success"] * 3, [r.run_id for r in runs]
    assert {r.run_type for r in runs} == {"backfill"}
    zone = ZoneInfo("Asia/Shanghai")  # the DAGs' (and airflow.cfg's) time zone
    assert [f"{r.data_interval_start.astimezone(zone):%Y-%m-%d %H:%M}" for r in runs] == [
        f"{day} 00:00" for day in DAYS]
    assert {r.data_interval_end - r.data_interval_start for r in runs} == {timedelta(days=1)}
    slices = backfill_slices(DAYS[0], DAYS[-1])  # what each run read: exactly its interval
    assert ledger_windows(url["backfill"]) == [(s, u) for _, s, u in slices]

    cfg = dataclasses.replace(load_config(configs / "backfill.toml"),
                              warehouse_url=url["backfill_ref"], staging_root=tmp_path / "staging",
                              gx_root=tmp_path / "gx")
    report = run_backfill(cfg, DAYS[0], DAYS[-1])
    assert [r["slice"] for r in report] == DAYS
    loaded = warehouse_dump(warehouse_engine(url["backfill"]), ignore_runs=True)
    assert sum(r["extracted"] for r in report) > 100 and loaded["source_record"]
    assert loaded == warehouse_dump(warehouse_engine(url["backfill_ref"]), ignore_runs=True)

    # the same backfill again, every interval reprocessed: the warehouse does not change
    before = warehouse_dump(warehouse_engine(url["backfill"]), ignore_runs=True)
    airflow.wait("the scheduler to close the backfill", lambda: airflow.query(
        "SELECT count(*) FROM backfill WHERE dag_id = 'jinbao_backfill' "
        "AND completed_at IS NULL")[0][0] == 0)
    airflow.airflow("backfill", "create", "--dag-id", "jinbao_backfill", "--from-date", DAYS[0],
                    "--to-date", DAYS[-1], "--max-active-runs", "1", "--reprocess-behavior",
                    "completed")
    airflow.wait("the repeated backfill", lambda: airflow.query(
        "SELECT count(*) FROM backfill WHERE dag_id = 'jinbao_backfill' "
        "AND completed_at IS NOT NULL")[0][0] == 2 and airflow.finished_runs("jinbao_backfill", 3))
    runs = airflow.runs("jinbao_backfill")
    assert [r.state for r in runs] == ["success"] * 3
    assert warehouse_dump(warehouse_engine(url["backfill"]), ignore_runs=True) == before


def test_a_down_source_retries_and_fails_while_the_others_load(deployment):
    airflow, estate, configs, url = deployment
    (run,) = airflow.wait("the run with a source down", lambda: airflow.finished_runs(
        "jinbao_down", 1))
    tasks = airflow.task_instances("jinbao_down", run.run_id)
    assert run.state == "failed"
    assert tasks[("stage_pension", -1)] == ("failed", 3)  # refused: tried 3 times, then failed
    assert tasks[("stage_maternity", -1)] == ("failed", 1)  # no tables: failed, never retried
    for source in ("medical", "unemployment", "injury"):
        assert tasks[(f"stage_{source}", -1)][0] == "success"
    assert tasks[("finish", -1)][0] == "success"
    assert tasks[("ledger_balanced", -1)][0] == "upstream_failed"  # so the run shows failed
    engine = warehouse_engine(load_config(configs / "down.toml").warehouse_url)
    with engine.connect() as conn:
        ledger = dict(conn.execute(text("SELECT source_name, extracted FROM run_ledger")).all())
        loaded = dict(conn.execute(text(
            "SELECT source_system, count(*) FROM source_record GROUP BY source_system")).all())
    assert set(ledger) == set(loaded) == {"medical", "unemployment", "injury"}
    assert all(ledger[s] == loaded[s] > 0 for s in ledger)
    logged = "".join(p.read_text("utf-8", errors="ignore")
                     for w in WORKERS for p in (airflow.home / f"logs-{w}").rglob("*.log"))
    assert "source pension: cannot read" in logged and "connection refused" in logged.lower()
    assert "cannot be read as a maternity system" in logged
    truth = (estate / "truth.csv").read_text("utf-8").splitlines()[1:]
    assert not [line for line in truth if line.rsplit(",", 1)[1] in logged]

    # both sources are mended; clearing their stages (and what follows) finishes the same run
    down, mended = configs / "down.toml", load_config(configs / "celery.toml").sources
    text_ = down.read_text("utf-8")
    for name in ("pension", "maternity"):
        text_ = text_.replace(load_config(down).sources[name].url, mended[name].url)
    down.write_text(text_, encoding="utf-8")
    airflow.api("/api/v2/dags/jinbao_down/clearTaskInstances", {
        "dry_run": False, "dag_run_id": run.run_id, "task_ids": ["stage_pension", "stage_maternity"],
        "include_downstream": True, "only_failed": False, "reset_dag_runs": True})
    assert airflow.runs("jinbao_down")[0].state == "queued"  # reset_dag_runs, before returning
    (run,) = airflow.wait("the cleared run", lambda: airflow.finished_runs("jinbao_down", 1))
    assert run.state == "success", airflow.task_instances("jinbao_down", run.run_id)
    with engine.connect() as conn:
        ledger = dict(conn.execute(text("SELECT source_name, extracted FROM run_ledger")).all())
        loaded = dict(conn.execute(text(
            "SELECT source_system, count(*) FROM source_record GROUP BY source_system")).all())
    assert set(ledger) == set(loaded) == {"pension", "medical", "unemployment", "injury",
                                          "maternity"}
    assert all(ledger[s] == loaded[s] > 0 for s in ledger)

