"""Faults, for real: a refused source, a source connection killed mid-read, and kill -9 of the
pipeline at several points followed by a rerun."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from estate import build_estate
from extractors.sql import SourceUnavailable
from jinbao.runner import run_pipeline
from loaders.warehouse import warehouse_engine
from tests.conftest import fresh_config, warehouse_dump, written_config

JINBAO = str(Path(sys.executable).parent / "jinbao")


def _nothing_loaded(cfg) -> None:
    engine = warehouse_engine(cfg.warehouse_url)
    with engine.connect() as conn:
        for table in ("source_record", "person", "run_ledger", "watermark"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0, table
    engine.dispose()


def test_refused_source_is_retried_then_named_and_nothing_loads(small_estate, tmp_path):
    cfg = fresh_config(small_estate, tmp_path)
    refused = dataclasses.replace(cfg.sources["pension"],
                                  url="postgresql+psycopg://postgres@127.0.0.1:1/pension")
    cfg = dataclasses.replace(cfg, sources={**cfg.sources, "pension": refused}, retries=3,
                              retry_delay=0.2)
    began = time.perf_counter()
    with pytest.raises(SourceUnavailable, match=r"source pension: cannot read .*gave up after 3"):
        run_pipeline(cfg, workers=1)
    assert time.perf_counter() - began >= 0.6  # paused 0.2 s, then 0.4 s, between attempts
    _nothing_loaded(cfg)


@pytest.mark.postgres
def test_source_killed_mid_read_fails_cleanly(pg_url, tmp_path):
    estate = tmp_path / "estate"
    build_estate(300, 3, estate, engines={"pension": pg_url})
    engine = create_engine(pg_url)
    with engine.begin() as conn:  # make the read slow enough to be cut in the middle
        conn.execute(text("ALTER TABLE ac01 RENAME TO ac01_rows"))
        conn.execute(text("CREATE VIEW ac01 AS SELECT r.* FROM ac01_rows r, "
                          "LATERAL (SELECT pg_sleep(0.01 + 0 * r.aac001)) AS pause"))
    database = pg_url.rsplit("/", 1)[1]
    stop = threading.Event()
    killed = []

    def kill_readers() -> None:
        admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            while not stop.is_set():
                ids = conn.execute(text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = :d AND state = 'active' "
                    "AND query LIKE '%ac01%' AND pid <> pg_backend_pid()"), {"d": database})
                for (pid,) in ids:
                    time.sleep(0.3)  # let it stream a while first
                    conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
                    killed.append(pid)
                time.sleep(0.05)
        admin.dispose()

    killer = threading.Thread(target=kill_readers)
    killer.start()
    cfg = dataclasses.replace(fresh_config(estate, tmp_path / "wh"), retries=2, retry_delay=0.1)
    try:
        with pytest.raises(SourceUnavailable, match=r"source pension: cannot read .*after 2") as e:
            run_pipeline(cfg, sources=["pension", "maternity"], workers=1)
        assert "terminat" in str(e.value)  # the server ended the connection mid-read
    finally:
        stop.set()
        killer.join()
        engine.dispose()
    assert len(killed) >= 2  # both attempts died mid-read
    _nothing_loaded(cfg)


def test_kill_9_anywhere_then_rerun_gives_the_same_warehouse(small_estate, tmp_path):
    clean = fresh_config(small_estate, tmp_path / "clean")
    began = time.perf_counter()
    run_pipeline(clean)
    duration = time.perf_counter() - began
    expected = warehouse_dump(warehouse_engine(clean.warehouse_url), ignore_runs=True)

    cfg = fresh_config(small_estate, tmp_path / "killed")
    config = written_config(cfg, tmp_path / "killed.toml")
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "false"}
    for share in (0.3, 0.6, 0.85):  # staging, loading, finishing: wherever it lands
        process = subprocess.Popen([JINBAO, "run", "--config", str(config)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        time.sleep(duration * share + 1.0)  # + the CLI's own start-up
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    done = subprocess.run([JINBAO, "run", "--config", str(config)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert warehouse_dump(warehouse_engine(cfg.warehouse_url), ignore_runs=True) == expected
