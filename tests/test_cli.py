"""The command line as a user meets it: demo summary, clear errors, never a traceback."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.conftest import fresh_config, written_config

JINBAO = str(Path(sys.executable).parent / "jinbao")


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([JINBAO, *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "GX_ANALYTICS_ENABLED": "false", **env},
                          timeout=600)


def test_demo_builds_the_estate_runs_and_prints_the_summary(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "JINBAO_CONFIG"}
    done = subprocess.run([JINBAO, "demo"], cwd=tmp_path, capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    for source in ("pension", "medical", "unemployment", "injury", "maternity"):
        assert source in done.stdout
    assert "persons" in done.stdout and "enrollments" in done.stdout
    assert "Data Docs:" in done.stdout
    assert "NO" not in done.stdout.split("quarantined rows by rule")[0]  # every ledger balances
    assert (tmp_path / ".jinbao" / "warehouse.db").exists()
    docs = done.stdout.split("Data Docs:")[1].split()[0]
    assert Path(docs).exists()
    status = _run(["status"], tmp_path)
    assert status.returncode == 0 and "watermark" in status.stdout
    report = done.stdout.split("report:")[1].split()[0]
    assert Path(report).exists()
    _assert_no_personal_data(tmp_path, done.stdout + done.stderr + status.stdout)


def _assert_no_personal_data(workdir: Path, printed: str) -> None:
    """Every file the pipeline wrote (reports, Data Docs, GX results, manifests, logs) and what
    it printed: no ID number from truth.csv, no stored name, nothing shaped like a number. The
    estate, the warehouse and the staged Parquet rows hold personal data by design (the
    Data Docs' vendored scripts are shipped files, not output)."""
    home = workdir / ".jinbao"
    truth = pd.read_csv(home / "estate" / "truth.csv", dtype=str, keep_default_na=False)
    with sqlite3.connect(home / "warehouse.db") as conn:
        names = {n for (n,) in conn.execute("SELECT DISTINCT name FROM source_record")
                 if n and len(n) > 1}
    numbers = set(truth["person_key"])
    texts = {"printed": printed}
    for path in home.rglob("*"):
        inside = path.relative_to(home).parts
        if (path.is_file() and inside[0] not in ("estate",) and "vendor" not in inside
                and not path.name.startswith("warehouse.db") and path.suffix != ".parquet"):
            texts[str(path.relative_to(home))] = path.read_text("utf-8", errors="ignore")
    assert len(texts) > 20  # reports, Data Docs pages, GX results, manifests
    for where, content in texts.items():
        assert not re.search(r"(?<![\d.])\d{15}", content), where  # fractions aside
        assert not [n for n in numbers if n in content], where
        assert not [n for n in names if n in content], where


def test_missing_config_is_a_clear_error(tmp_path):
    done = _run(["run", "--config", str(tmp_path / "nope.toml")], tmp_path)
    assert done.returncode == 2
    assert "nope.toml: does not exist" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_unreadable_source_names_the_source_and_loads_nothing(small_estate, tmp_path):
    cfg = fresh_config(small_estate, tmp_path / "wh")
    path = written_config(cfg, tmp_path / "jinbao.toml")
    text = path.read_text("utf-8").replace(
        cfg.sources["medical"].url, "sqlite:////nonexistent-folder/medical.db")
    path.write_text(text, "utf-8")
    done = _run(["run", "--config", str(path)], tmp_path)
    assert done.returncode == 2
    # a missing file is not an outage: no retries, the error says what is wrong
    assert "source medical: cannot be read as a medical system" in done.stderr
    assert "medical.db does not exist" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    status = _run(["status", "--config", str(path)], tmp_path)
    assert "person 0 " in status.stdout  # nothing half-loaded


def test_unknown_source_name_is_a_clear_error(small_estate, tmp_path):
    path = written_config(fresh_config(small_estate, tmp_path / "wh"), tmp_path / "j.toml")
    done = _run(["run", "--config", str(path), "--sources", "pension,dental"], tmp_path)
    assert done.returncode == 2 and "unknown source 'dental'" in done.stderr


def _broken(value: str) -> int:
    return int(value) + "1"  # a bug: int + str


def test_a_bug_in_a_worker_is_named_where_it_happened():
    """A worker's error reaches the command re-raised by the pool; the sentence names the line
    in the worker that raised it, not the pool's own."""
    from concurrent.futures import ProcessPoolExecutor

    from jinbao.cli import _failure

    with ProcessPoolExecutor(1) as pool:
        error = pool.submit(_broken, "7").exception()
    message, status = _failure(error)
    line = next(n for n, text in enumerate(Path(__file__).read_text().splitlines(), 1)
                if 'int(value) + "1"' in text)
    assert status == 1 and f"internal error (TypeError at test_cli.py:{line})" in message
