"""`jinbao doctor` and `jinbao db`: a configuration checked end to end, each finding with what to
fix; the warehouse's schema revision shown and upgraded."""

from __future__ import annotations

import sqlite3

from jinbao.cli import main
from tests.conftest import fresh_config, written_config


def test_a_healthy_configuration_passes(small_estate, tmp_path, capsys):
    config = written_config(fresh_config(small_estate, tmp_path / "wh"), tmp_path / "j.toml")
    assert main(["doctor", "--no-airflow", "--config", str(config)]) == 0
    shown = capsys.readouterr().out
    assert "0 problem(s)" in shown
    assert "tables and columns of a pension system" in shown
    assert "empty: the first run creates it" in shown


def test_every_problem_is_named_with_what_to_do(small_estate, tmp_path, capsys):
    cfg = fresh_config(small_estate, tmp_path / "wh")
    config = written_config(cfg, tmp_path / "j.toml")
    broken = tmp_path / "broken.db"
    with sqlite3.connect(broken) as conn:
        conn.execute("CREATE TABLE ac01 (aac001 INTEGER)")  # columns and ac02 missing
    text = config.read_text("utf-8").replace(cfg.sources["pension"].url, f"sqlite:///{broken}")
    text = text.replace(str(cfg.sources["injury"].path), str(tmp_path / "no-exports"))
    text = text.replace(cfg.sources["medical"].url, "postgresql+psycopg://postgres@127.0.0.1:1/m")
    config.write_text(text, "utf-8")
    assert main(["doctor", "--no-airflow", "--config", str(config)]) == 2
    shown = capsys.readouterr().out
    assert "3 problem(s)" in shown
    assert "table ac02 is missing" in shown and "ac01 lacks aac002" in shown
    assert "no-exports does not exist" in shown
    assert "cannot be reached" in shown


def test_db_current_and_upgrade(small_estate, tmp_path, capsys):
    config = written_config(fresh_config(small_estate, tmp_path / "wh"), tmp_path / "j.toml")
    assert main(["db", "current", "--config", str(config)]) == 0
    assert "schema revision - (empty)" in capsys.readouterr().out
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    assert "(created)" in capsys.readouterr().out
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    assert "(already current)" in capsys.readouterr().out
    assert main(["db", "current", "--config", str(config)]) == 0
    assert "(current)" in capsys.readouterr().out
