"""The national tier over three province estates built from one population, some people living
in two provinces: one national person per citizen, cross-province duplicate enrollment found,
reruns that change nothing, provinces never written."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select, text

from estate.national import build_national_estates
from jinbao.config import load_config
from jinbao.evaluate import duplicate_enrollment_scores, pairwise_scores
from jinbao.national import load_national_config, national_run
from jinbao.runner import run_pipeline
from loaders.warehouse import warehouse_engine
from schemas.warehouse import review_case, source_record
from tests.conftest import warehouse_dump

PROVINCES = ("guangdong", "anhui", "sichuan")
JINBAO = str(Path(sys.executable).parent / "jinbao")


def _province_runs(root: Path, provinces=PROVINCES) -> None:
    for province in provinces:
        run_pipeline(load_config(root / province / "jinbao.toml"), workers=1)


@pytest.fixture(scope="module")
def provinces_loaded(tmp_path_factory) -> Path:
    """Three province estates of 900 persons in all (one in ten lived in two provinces), each
    consolidated into its own warehouse, with nothing national yet."""
    root = tmp_path_factory.mktemp("national")
    build_national_estates(900, 31, root, PROVINCES, movers=0.1)
    _province_runs(root)
    return root


@pytest.fixture
def national(provinces_loaded, tmp_path) -> tuple[Path, object]:
    """A copy of the loaded provinces (a test may change them) and its first national run."""
    root = tmp_path / "estates"
    shutil.copytree(provinces_loaded, root)
    summary = national_run(load_national_config(root / "national.toml"), workers=1)
    return root, summary


def _engine(root: Path):
    return warehouse_engine(f"sqlite:///{root / 'national.db'}")


def _rows(root: Path) -> pd.DataFrame:
    with _engine(root).connect() as conn:
        return pd.read_sql(select(source_record), conn)


def test_one_national_person_per_citizen_across_provinces(national):
    root, summary = national
    truth = pd.read_csv(root / "truth.csv", dtype=str, keep_default_na=False)
    rows = _rows(root)
    # every province row arrived, named by province, and the ledger balances per province
    assert len(rows) == len(truth)
    assert set(rows["province"]) == set(PROVINCES)
    for m in summary.sources:
        assert m["extracted"] == m["accepted"] + m["quarantined"] > 0
    scores = pairwise_scores(_engine(root), root / "truth.csv")
    assert scores["precision"] >= 0.999, scores
    # the movers: a citizen whose rows carry his true number in two provinces is one person
    accepted = rows[rows["outcome"] == "accepted"].merge(truth, on=["source_system",
                                                                    "source_key"])
    exact = accepted[accepted["id_number"] == accepted["person_key"]]
    movers = exact.groupby("person_key")["province"].nunique()
    assert (movers > 1).sum() >= 20
    national_spread = accepted.groupby("id_number")["province"].nunique()
    assert set(movers[movers > 1].index) <= set(national_spread[national_spread > 1].index)


def test_cross_province_duplicate_enrollments_are_found(national):
    root, _ = national
    scores = duplicate_enrollment_scores(_engine(root), root / "truth.csv")
    assert scores["findable"] >= 5, scores
    assert scores["recall"] == 1.0 and scores["precision"] >= 0.95, scores
    with _engine(root).connect() as conn:
        cases = pd.read_sql(select(review_case).where(
            review_case.c.kind == "duplicate_enrollment"), conn)
    for evidence in cases["evidence"]:  # each names the two provinces, never one alone
        found = json.loads(evidence)
        assert len(found["provinces"]) >= 2
        assert {e["province"] for e in found["enrollments"]} == set(found["provinces"])


def test_a_national_rerun_with_nothing_changed_changes_nothing(national):
    root, _ = national
    before = warehouse_dump(_engine(root))
    again = national_run(load_national_config(root / "national.toml"), workers=1)
    assert all(m["extracted"] == 0 for m in again.sources)
    assert all(b["persons_written"] == 0 for b in again.buckets)
    assert warehouse_dump(_engine(root)) == before


def test_a_change_in_one_province_touches_only_its_people(national):
    root, _ = national
    with sqlite3.connect(root / "anhui" / "pension.db") as conn:
        changed = conn.execute("UPDATE ac01 SET aac003 = aac003 || '改', "
                               "aae036 = '2025-06-01 00:00:00' WHERE aac001 % 10 = 1").rowcount
    assert changed > 0
    _province_runs(root, ["anhui"])
    before = _rows(root)
    again = national_run(load_national_config(root / "national.toml"), workers=1)
    read = {m["source_name"]: m["extracted"] for m in again.sources}
    assert read["anhui"] >= changed and read["guangdong"] == read["sichuan"] == 0
    after = _rows(root)
    merged = after.merge(before, on=["source_system", "source_key"], suffixes=("", "_old"))
    moved = merged[merged["row_hash"] != merged["row_hash_old"]]
    assert len(moved) == changed and set(moved["province"]) == {"anhui"}
    with _engine(root).connect() as conn:
        written = pd.read_sql(text("SELECT id_number FROM person WHERE updated_run = :run"),
                              conn, params={"run": again.run_id})["id_number"]
    anhui_people = set(after.loc[after["province"] == "anhui", "id_number"].dropna())
    assert len(written) > 0 and set(written) <= anhui_people


def test_province_warehouses_are_read_and_never_written(provinces_loaded, tmp_path):
    root = tmp_path / "estates"
    shutil.copytree(provinces_loaded, root)

    def digests() -> dict[str, str]:
        return {p: hashlib.sha256((root / p / "warehouse.db").read_bytes()).hexdigest()
                for p in PROVINCES}

    before = digests()
    national_run(load_national_config(root / "national.toml"), workers=1)
    assert digests() == before


def test_the_command_line_runs_the_national_tier_and_names_a_missing_province(
        provinces_loaded, tmp_path):
    root = tmp_path / "estates"
    shutil.copytree(provinces_loaded, root)
    done = subprocess.run([JINBAO, "national", "run", "--config", str(root / "national.toml")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "guangdong" in done.stdout and "persons" in done.stdout
    (root / "sichuan" / "warehouse.db").unlink()
    done = subprocess.run([JINBAO, "national", "run", "--config", str(root / "national.toml")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 2
    assert "sichuan" in done.stderr and "does not exist" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_national_file_with_mistakes_lists_them_all(tmp_path):
    from jinbao.errors import ConfigError

    path = tmp_path / "national.toml"
    path.write_text('[warehouse]\nurl = "sqlite:///n.db"\n[provinces."../etc"]\n'
                    'warehouse = "sqlite:///a.db"\n[provinces.anhui]\nwarehose = "x"\n',
                    encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_national_config(path)
    said = str(raised.value)
    assert "3 problems" in said and "province name '../etc' may hold only" in said
    assert "[provinces.anhui] warehouse is required" in said
    assert "warehose is not a key jinbao knows; did you mean warehouse?" in said
