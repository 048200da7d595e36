"""The whole pipeline on the 2,000-person reference estate: every row accounted for, the
reconciliation measured against truth.csv, reruns idempotent, every ID damage handled."""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from datetime import datetime

import pandas as pd
import pytest
from sqlalchemy import select, text

from jinbao.evaluate import pairwise_scores
from jinbao.runner import run_pipeline
from loaders.warehouse import warehouse_engine
from schemas.warehouse import quarantine, run_ledger, source_record
from tests.conftest import DUMPED, fresh_config, warehouse_dump


def dump(engine) -> dict[str, list[tuple]]:
    return warehouse_dump(engine)


@pytest.fixture(scope="module")
def loaded(estate_2000, tmp_path_factory):
    cfg = fresh_config(estate_2000, tmp_path_factory.mktemp("wh"))
    summary = run_pipeline(cfg)
    return cfg, summary, warehouse_engine(cfg.warehouse_url)


def test_every_source_row_is_accounted_for(loaded, estate_2000):
    cfg, summary, engine = loaded
    truth = pd.read_csv(estate_2000 / "truth.csv", dtype=str, keep_default_na=False)
    with engine.connect() as conn:
        records = pd.read_sql(select(source_record), conn)
        rules = pd.read_sql(select(quarantine), conn)
        ledger = pd.read_sql(select(run_ledger).where(run_ledger.c.run_id == summary.run_id),
                             conn)
    for m in summary.sources:
        assert m["extracted"] == m["accepted"] + m["quarantined"], m["source_name"]
        assert m["extracted"] == (truth["source_system"] == m["source_name"]).sum()
    assert (ledger["extracted"] == ledger["accepted"] + ledger["quarantined"]).all()
    assert len(ledger) == 5
    keys = records[["source_system", "source_key"]]
    assert not keys.duplicated().any()
    assert len(keys.merge(truth, on=["source_system", "source_key"])) == len(truth) == len(keys)
    quarantined = records[records["outcome"] == "quarantined"]
    assert quarantined["id_number"].isna().all()
    ruled = set(zip(rules["source_system"], rules["source_key"], strict=True))
    assert ruled == set(zip(quarantined["source_system"], quarantined["source_key"], strict=True))
    assert (rules["rule"].str.len() > 0).all()


def test_reconciliation_against_truth(loaded, estate_2000):
    _, _, engine = loaded
    scores = pairwise_scores(engine, estate_2000 / "truth.csv")
    print(scores)
    assert scores["precision"] >= 0.999
    assert scores["recall"] >= 0.95
    assert scores["accepted_rows"] > 0.9 * scores["truth_rows"]


def test_repairable_id_damage_lands_on_the_true_person(loaded, estate_2000):
    """Rows whose only ID damage is repairable are accepted under the true number; rows with a
    mistyped or swapped digit in an 18-digit number are quarantined as id_checksum."""
    _, _, engine = loaded
    truth = pd.read_csv(estate_2000 / "truth.csv", dtype=str, keep_default_na=False)
    damage = pd.read_csv(estate_2000 / "damage.csv", dtype=str, keep_default_na=False)
    with engine.connect() as conn:
        records = pd.read_sql(select(source_record), conn)
    rows = records.merge(truth, on=["source_system", "source_key"])
    kinds = damage.groupby(["source_system", "source_key"])["damage"].agg(set).rename("damage")
    rows = rows.join(kinds, on=["source_system", "source_key"])
    rows["damage"] = rows["damage"].apply(lambda d: d if isinstance(d, set) else set())
    blocking = {"id_missing", "id_placeholder", "id_typo", "id_swap", "row_empty",
                "non_resident_cert", "enrolled_in_future", "enrolled_before_birth",
                "name_hostile", "name_gbk_lost", "csv_broken_row", "csv_truncated_line"}
    for kind in ("id_lowercase_x", "id_fullwidth", "id_spaces", "id_trailing_junk", "id_15_digit"):
        clean = rows[rows["damage"].apply(lambda d, k=kind: k in d and not d & blocking)]
        assert len(clean) > 0, kind
        assert (clean["outcome"] == "accepted").all(), kind
        assert (clean["id_number"] == clean["person_key"]).all(), kind
    for kind in ("id_typo", "id_swap"):
        hit = rows[rows["damage"].apply(lambda d, k=kind: k in d and "id_15_digit" not in d)]
        assert len(hit) > 0, kind
        assert (hit["outcome"] == "quarantined").all(), kind


def test_hostile_names_are_stored_verbatim(loaded, estate_2000):
    _, _, engine = loaded
    damage = pd.read_csv(estate_2000 / "damage.csv", dtype=str, keep_default_na=False)
    hostile = damage[damage["damage"] == "name_hostile"]
    assert len(hostile) > 0
    with engine.connect() as conn:
        for row in hostile.itertuples():
            stored = conn.execute(select(source_record.c.name, source_record.c.outcome).where(
                source_record.c.source_system == row.source_system,
                source_record.c.source_key == row.source_key)).one()
            raw = conn.execute(select(quarantine.c.raw_row).where(
                quarantine.c.source_system == row.source_system,
                quarantine.c.source_key == row.source_key)).scalars().first()
            assert any(m in (stored.name or "") + (raw or "") for m in
                       ("DROP TABLE", 'OR "1"="1', "\x1b", "DELETE FROM", "<script>", "quoted"))
        # and the warehouse is intact: no fragment was ever executed
        assert conn.execute(text("SELECT count(*) FROM person")).scalar_one() > 0


def test_rerun_leaves_the_warehouse_identical(loaded):
    cfg, _, engine = loaded
    before = dump(engine)
    incremental = run_pipeline(cfg)  # from the watermarks: nothing new
    assert sum(m["extracted"] for m in incremental.sources) == 0
    assert dump(engine) == before
    full = run_pipeline(cfg, since="1900-01-01")  # the whole estate again
    assert sum(m["extracted"] for m in full.sources) > 0
    assert all(b["changed"] == 0 for b in full.buckets)
    assert dump(engine) == before


def test_changed_source_row_updates_person_and_history(small_estate, tmp_path):
    estate = tmp_path / "estate"
    shutil.copytree(small_estate, estate, ignore=shutil.ignore_patterns("warehouse.db*"))
    cfg = fresh_config(estate, tmp_path / "wh")
    run_pipeline(cfg)
    engine = warehouse_engine(cfg.warehouse_url)
    with engine.connect() as conn:
        target = conn.execute(text(
            "SELECT source_key, id_number FROM source_record WHERE source_system='maternity' "
            "AND outcome='accepted' AND id_number IN (SELECT id_number FROM person "
            "WHERE source_rows = 1) LIMIT 1")).one()
    with sqlite3.connect(estate / "maternity.db") as legacy:
        legacy.execute("UPDATE sy_cbry SET xm = '改名测试', cbzt = '0', "
                       "gxsj = '2025-06-01 00:00:00.000000' WHERE grbh = ?", (target.source_key,))
    summary = run_pipeline(cfg)
    assert [m["extracted"] for m in summary.sources if m["source_name"] == "maternity"] == [1]
    with engine.connect() as conn:  # the ledger says what the load did with it
        assert tuple(conn.execute(text(
            "SELECT new_rows, changed_rows FROM run_ledger WHERE run_id = :r AND "
            "source_name = 'maternity'"), {"r": summary.run_id}).one()) == (0, 1)
    with engine.connect() as conn:
        name = conn.execute(text("SELECT name FROM person WHERE id_number = :i"),
                            {"i": target.id_number}).scalar_one()
        status = conn.execute(text("SELECT status FROM enrollment WHERE id_number = :i "
                                   "AND scheme = '510'"), {"i": target.id_number}).scalar_one()
        history = conn.execute(text("SELECT count(*) FROM person_history WHERE id_number = :i"),
                               {"i": target.id_number}).scalar_one()
    assert (name, status, history) == ("改名测试", "4", 1)


@pytest.mark.postgres
def test_postgres_warehouse_equals_the_sqlite_one(estate_2000, tmp_path, pg_url):
    """The COPY path and the embedded path load the very same warehouse."""
    started = datetime(2026, 1, 1)
    dumps = []
    for name, url in (("sqlite", None), ("postgres", pg_url)):
        cfg = fresh_config(estate_2000, tmp_path / name)
        if url:
            cfg = dataclasses.replace(cfg, warehouse_url=url)
        run_pipeline(cfg, started=started, run_id="same-run")
        engine = warehouse_engine(cfg.warehouse_url)
        dumps.append(dump(engine))
        engine.dispose()
    for table in DUMPED:
        only_sqlite = [r for r in dumps[0][table] if r not in set(dumps[1][table])]
        only_postgres = [r for r in dumps[1][table] if r not in set(dumps[0][table])]
        assert dumps[0][table] == dumps[1][table], (table, only_sqlite[:2], only_postgres[:2])


@pytest.mark.parametrize("warehouse", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_first_load_fast_path_equals_the_general_path(small_estate, tmp_path, monkeypatch,
                                                      warehouse, request):
    """A bucket's first load skips the compare-and-merge; the warehouse must be the same as
    when every row goes through it."""
    from jinbao import runner

    started = datetime(2026, 1, 1)
    dumps, fast_calls = [], []
    real_fast = runner.load_first_rows
    monkeypatch.setattr(runner, "load_first_rows",
                        lambda *a, **k: fast_calls.append(1) or real_fast(*a, **k))
    for general in (False, True):
        cfg = fresh_config(small_estate, tmp_path / f"general-{general}")
        if warehouse == "postgres":
            cfg = dataclasses.replace(cfg, warehouse_url=request.getfixturevalue("pg_url"))
        if general:
            monkeypatch.setattr(runner, "is_first_load", lambda *a: False)
        run_pipeline(cfg, started=started, run_id="same-run", workers=1)
        engine = warehouse_engine(cfg.warehouse_url)
        dumps.append(dump(engine))
        if warehouse == "postgres":
            with engine.begin() as conn:
                for table in reversed(DUMPED + ["dirty_person", "run_ledger"]):
                    conn.execute(text(f"DELETE FROM {table}"))
        engine.dispose()
    assert fast_calls, "the first run took the fast path"
    for table in DUMPED:
        assert dumps[0][table] == dumps[1][table], table
