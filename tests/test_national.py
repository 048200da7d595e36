"""The national tier over three province estates built from one population, some people living
in two provinces: one national person per citizen, cross-province duplicate enrollment found,
reruns that change nothing, provinces never written."""

from __future__ import annotations

import dataclasses
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
from jinbao import runner
from jinbao.config import load_config
from jinbao.evaluate import duplicate_enrollment_scores, pairwise_scores
from jinbao.national import load_national_config, national_run
from jinbao.runner import run_pipeline
from loaders.warehouse import warehouse_engine
from schemas.warehouse import review_case, source_record
from tests.conftest import settled, standing, warehouse_dump

PROVINCES = ("guangdong", "anhui", "sichuan")
JINBAO = str(Path(sys.executable).parent / "jinbao")


def here(root: Path):
    """The estate's national.toml with [spark] off: the tier's rules, run in this process
    (test_spark_builds_the_warehouse_the_local_engines_build holds Spark to the same)."""
    cfg = load_national_config(root / "national.toml")
    return dataclasses.replace(cfg, spark=dataclasses.replace(cfg.spark, enabled=False))


def _province_runs(root: Path, provinces=PROVINCES) -> None:
    for province in provinces:
        run_pipeline(load_config(root / province / "jinbao.toml"), workers=1)


@pytest.fixture(scope="module")
def provinces_loaded(tmp_path_factory) -> Path:
    """Three province estates of 600 persons in all (one in ten lived in two provinces), each
    consolidated into its own warehouse, with nothing national yet."""
    root = tmp_path_factory.mktemp("national")
    build_national_estates(600, 31, root, PROVINCES, movers=0.1)
    _province_runs(root)
    return root


@pytest.fixture
def national(provinces_loaded, tmp_path) -> tuple[Path, object]:
    """A copy of the loaded provinces (a test may change them) and its first national run."""
    root = tmp_path / "estates"
    shutil.copytree(provinces_loaded, root)
    summary = national_run(here(root), workers=1)
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
    """...and counts nothing again: the month's marts are kept, until a province's reviewer
    decides a case (its open cases change, in no province run): then that province's figures
    are counted again, and equal its warehouse's."""
    from jinbao import review

    root, first = national
    before = warehouse_dump(_engine(root))

    def counted_by() -> dict[str, str]:
        with _engine(root).connect() as conn:
            return dict(conn.execute(text("SELECT scope, run_id FROM mart_input")).all())

    assert set(counted_by().values()) == {first.run_id}
    again = national_run(here(root), workers=1)
    assert all(m["extracted"] == 0 for m in again.sources)
    assert all(b["persons_written"] == 0 for b in again.buckets)
    assert warehouse_dump(_engine(root)) == before
    assert set(counted_by().values()) == {first.run_id}  # nothing counted again
    anhui = load_config(root / "anhui" / "jinbao.toml")
    case = review.case_listing(anhui, "duplicate_enrollment", "open", 1)["cases"][0]["case_id"]
    review.resolve_case(anhui, case, "confirm", "clerk", 1, None, None)
    third = national_run(here(root), workers=1)
    counters = counted_by()
    assert counters.pop("progress:anhui") == third.run_id
    assert set(counters.values()) == {first.run_id}  # the other provinces, the statistics
    with _engine(root).connect() as conn:
        counted = conn.execute(text(
            "SELECT sum(value) FROM monthly_progress WHERE province = 'anhui' "
            "AND measure = 'open_cases'")).scalar_one()
    with warehouse_engine(anhui.warehouse_url).connect() as conn:
        assert counted == conn.execute(text(
            "SELECT count(*) FROM review_case WHERE status = 'open'")).scalar_one()


def test_a_change_in_one_province_touches_only_its_people(national):
    root, _ = national
    with sqlite3.connect(root / "anhui" / "pension.db") as conn:
        changed = conn.execute("UPDATE ac01 SET aac003 = aac003 || '改', "
                               "aae036 = '2025-06-01 00:00:00' WHERE aac001 % 10 = 1").rowcount
    assert changed > 0
    _province_runs(root, ["anhui"])
    before = _rows(root)
    again = national_run(here(root), workers=1)
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
    national_run(here(root), workers=1)
    assert digests() == before


def test_the_command_line_runs_the_national_tier_and_names_a_missing_province(
        provinces_loaded, tmp_path):
    root = tmp_path / "estates"
    shutil.copytree(provinces_loaded, root)
    done = subprocess.run([JINBAO, "national", "run", "--config", str(root / "national.toml")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "guangdong" in done.stdout and "persons" in done.stdout
    # a province that cannot be read is named, flagged and read next time; the others go on
    with sqlite3.connect(root / "anhui" / "pension.db") as conn:
        conn.execute("UPDATE ac01 SET aac003 = aac003 || '改', aae036 = '2025-06-01 00:00:00' "
                     "WHERE aac001 % 10 = 3")
    _province_runs(root, ["anhui"])
    (root / "sichuan" / "warehouse.db").rename(root / "sichuan" / "moved.db")
    done = subprocess.run([JINBAO, "national", "run", "--config", str(root / "national.toml")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 2
    assert "province sichuan was not read" in done.stderr and "does not exist" in done.stderr
    assert "Traceback" not in done.stderr
    engine = _engine(root)
    with engine.connect() as conn:
        marks = dict(conn.execute(text("SELECT source_name, run_id FROM watermark")).all())
        flags = pd.read_sql(text("SELECT province, text FROM monthly_progress "
                                 "WHERE measure = 'status'"), conn)
    assert marks["anhui"] != marks["sichuan"]  # anhui's moved on, sichuan's stayed
    assert dict(zip(flags["province"], flags["text"], strict=True))["sichuan"] == "unreachable"
    (root / "sichuan" / "moved.db").rename(root / "sichuan" / "warehouse.db")
    done = subprocess.run([JINBAO, "national", "run", "--config", str(root / "national.toml")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr


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


def test_the_monthly_progress_report_equals_the_warehouses_counts(national, tmp_path):
    import re

    from jinbao.stage import local_now

    root, _ = national
    cfg = load_national_config(root / "national.toml")
    month = f"{local_now(cfg.consolidation):%Y-%m}"
    out = tmp_path / "progress"
    done = subprocess.run([JINBAO, "report", "--national", "--config", str(root / "national.toml"),
                           "--month", month, "--out", str(out)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads((out / "report.json").read_text("utf-8"))
    figures = {p["province"]: p for p in data["provinces"]}
    assert set(figures) == set(PROVINCES) and not data["flagged"]
    national_engine = _engine(root)
    for province in PROVINCES:
        engine = warehouse_engine(f"sqlite:///{root / province / 'warehouse.db'}")
        with engine.connect() as conn:
            persons = conn.execute(text("SELECT count(*) FROM person")).scalar_one()
            coverage = dict(conn.execute(text(
                "SELECT scheme, count(DISTINCT id_number) FROM enrollment WHERE status = '1' "
                "GROUP BY scheme")).all())
            read, quarantined = conn.execute(text(
                "SELECT sum(extracted), sum(quarantined) FROM run_ledger")).one()
            open_cases = conn.execute(text(
                "SELECT count(*) FROM review_case WHERE status = 'open'")).scalar_one()
        engine.dispose()
        with national_engine.connect() as conn:
            national_cases = dict(conn.execute(text(
                "SELECT kind, count(*) FROM review_case WHERE status = 'open' AND case_id IN "
                "(SELECT case_id FROM review_case_row WHERE source_system LIKE :p) "
                "GROUP BY kind"), {"p": f"{province}/%"}).all())
        got = figures[province]
        assert got["status"] == "ok" and got["runs"] == 1
        assert got["persons"] == persons and got["coverage"] == coverage
        assert got["rows_read"] == read and got["rows_quarantined"] == quarantined
        assert sum(got["open_cases"].values()) == open_cases
        assert got["national_cases"] == national_cases and national_cases
    # counts only: no ID number, no name of any person
    page = (out / "report.html").read_text("utf-8") + (out / "report.json").read_text("utf-8")
    assert not re.search(r"\d{17}[\dXx]", page)
    with national_engine.connect() as conn:
        names = [n for (n,) in conn.execute(text("SELECT name FROM person")) if n and len(n) > 1]
    assert names and not [n for n in names if n in page]


def test_the_insured_statistics_count_active_enrollments_with_their_changes(national):
    from jinbao.marts import store_insured_stats
    from jinbao.stage import local_now

    root, _ = national
    engine = _engine(root)
    month = f"{local_now(load_national_config(root / 'national.toml').consolidation):%Y-%m}"
    with engine.connect() as conn:
        stats = pd.read_sql(text("SELECT * FROM insured_stats WHERE month = :m"), conn,
                            params={"m": month})
        direct = dict(conn.execute(text(
            "SELECT province || '|' || scheme, count(*) FROM enrollment WHERE status = '1' "
            "GROUP BY province, scheme")).all())
    assert stats["change"].isna().all()  # the first month has nothing to compare with
    summed = stats.groupby(stats["province"] + "|" + stats["scheme"])["persons"].sum()
    assert summed.to_dict() == direct
    assert set(stats["age_band"]) <= {"<18", "18-29", "30-39", "40-49", "50-59", "60-69", "70+",
                                      "unknown"}
    # two later months of one year (ages by year stay): nobody changed, then one region's
    # enrollments end
    with engine.begin() as conn:
        store_insured_stats(conn, "2999-01", "later")
        store_insured_stats(conn, "2999-02", "later")
        same = pd.read_sql(text("SELECT * FROM insured_stats WHERE month = '2999-02'"), conn)
        conn.execute(text("UPDATE enrollment SET status = '2' WHERE pooling_region = '340100'"))
        store_insured_stats(conn, "2999-03", "later")
        after = pd.read_sql(text("SELECT * FROM insured_stats WHERE month = '2999-03' "
                                 "AND pooling_region = '340100'"), conn)
    assert len(same) and (same["change"] == 0).all()
    assert same["persons"].sum() == stats["persons"].sum()
    assert len(after) and (after["persons"] == 0).all() and (after["change"] < 0).all()


def test_national_cases_reach_the_province_and_a_national_merge_stays(national):
    """The province sees the national cases about its people (review list --national); a merge
    decided at the national tier is visible there, and later national runs keep it."""
    from jinbao import review

    root, _ = national
    anhui = root / "anhui" / "jinbao.toml"
    anhui.write_text(anhui.read_text("utf-8") + f'\n[national]\nwarehouse = "sqlite:///'
                     f'{root / "national.db"}"\nprovince = "anhui"\n', encoding="utf-8")
    national_toml = str(root / "national.toml")

    def listing(*args: str) -> dict:
        done = subprocess.run([JINBAO, "review", "list", "--json", "--limit", "1000", *args],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    seen = listing("--national", "--config", str(anhui))
    with _engine(root).connect() as conn:
        about_anhui = set(conn.execute(text(
            "SELECT DISTINCT case_id FROM review_case_row WHERE source_system LIKE 'anhui/%'"))
            .scalars())
    assert {c["case_id"] for c in seen["cases"]} == about_anhui and about_anhui
    assert not any(re_full_id(c["person"]) for c in seen["cases"])  # masked
    # a decision from the province, recorded at the national tier: both see it
    enrollments = [c["case_id"] for c in seen["cases"] if c["kind"] == "duplicate_enrollment"]
    assert enrollments
    done = subprocess.run([JINBAO, "review", "resolve", enrollments[0], "confirm", "--national",
                           "--by", "clerk", "--config", str(anhui)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    ministry = load_national_config(national_toml).consolidation
    with _engine(root).connect() as conn:
        decided = conn.execute(text("SELECT decided_by FROM review_decision WHERE case_id = :c"),
                               {"c": enrollments[0]}).scalar_one()
    assert decided == "anhui:clerk"
    assert {c["case_id"]: c["status"] for c in review.case_listing(
        ministry, None, None, 1000)["cases"]}[enrollments[0]] == "resolved"
    refused = subprocess.run([JINBAO, "review", "resolve", enrollments[-1], "merge", "--keep", "1",
                              "--national", "--by", "clerk", "--config", str(anhui)],
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "the national tier's decision" in refused.stderr
    suspects = [c for c in review.case_listing(ministry, "suspected_duplicate", "open", 1000)[
        "cases"] if c["case_id"] in about_anhui]
    if not suspects:
        pytest.skip("no cross-province suspected duplicate about anhui in this estate")
    case = suspects[0]["case_id"]
    review.resolve_case(ministry, case, "merge", "ministry-reviewer", 1, None, None)
    province_view = dataclasses.replace(load_config(anhui), warehouse_url=str(
        load_config(anhui).national_url))
    after = {c["case_id"]: c["status"] for c in review.case_listing(
        province_view, None, None, 1000, "anhui")["cases"]}
    assert after[case] == "resolved"
    with _engine(root).connect() as conn:
        moved = conn.execute(text("SELECT source_system, source_key, id_number FROM "
                                  "identity_override")).all()
    assert moved
    # the merged rows change in their legacy systems; the provinces and the nation run again:
    # the new versions (new row hashes, the old numbers) keep the national merge
    touched = set()
    for system_, key, _ in moved:
        province, system = system_.split("/", 1)
        if system not in CHANGES:
            continue
        statement, changed_at = CHANGES[system]
        with sqlite3.connect(root / province / f"{system}.db") as conn:
            touched.add(province) if conn.execute(statement, (changed_at, key)).rowcount else None
    if not touched:
        pytest.skip("the merged rows are all injury exports")
    before = {(s, k): h for s, k, h in national_rows(root, "row_hash")}
    _province_runs(root, sorted(touched))
    national_run(here(root), workers=1)
    now = {(s, k): n for s, k, n in national_rows(root, "id_number")}
    after = {(s, k): h for s, k, h in national_rows(root, "row_hash")}
    assert any(after[(s, k)] != before[(s, k)] for s, k, _ in moved)  # rewritten
    assert all(now[(s, k)] == n for s, k, n in moved)


CHANGES = {  # a new name and change time for a row of each database system, by its key
    "pension": ("UPDATE ac01 SET aac003 = aac003 || '改', aae036 = ? WHERE aac001 = ?",
                "2025-06-01 00:00:00"),
    "medical": ("UPDATE mi_insured SET psn_name = psn_name || '改', updt_time = ? "
                "WHERE psn_no = ?", "2025-06-01 00:00:00"),
    "unemployment": ("UPDATE 失业参保人员 SET 姓名 = 姓名 || '改', 修改时间 = ? WHERE 个人编号 = ?",
                     "2025/06/01 00:00:00"),
    "maternity": ("UPDATE sy_cbry SET xm = xm || '改', gxsj = ? WHERE grbh = ?",
                  "2025-06-01 00:00:00"),
}


def national_rows(root: Path, column: str) -> list[tuple]:
    with _engine(root).connect() as conn:
        return conn.execute(text(f"SELECT source_system, source_key, {column} "
                                 "FROM source_record")).all()


def re_full_id(text_: str | None) -> bool:
    import re

    return bool(text_) and re.fullmatch(r"\d{17}[\dXx]", text_) is not None


@pytest.mark.postgres
def test_spark_builds_the_warehouse_the_local_engines_build(provinces_loaded, tmp_path,
                                                            monkeypatch, pg_url):
    """A first national load reconciled on Spark and matched there ([spark], local[*]), into
    a PostgreSQL warehouse, gives the warehouse the province tier's engines give into SQLite,
    table by table; the runs after it, which bring a few changed rows, never start Spark, and
    stay equal too."""
    import jinbao.spark
    from loaders.reconciled import has_bucket

    roots = {}
    for engine in ("spark", "here"):
        roots[engine] = tmp_path / engine
        shutil.copytree(provinces_loaded, roots[engine])
    spark_cfg = load_national_config(roots["spark"] / "national.toml")
    assert spark_cfg.spark.enabled and spark_cfg.spark.master == "local[*]"  # the default
    spark_cfg = dataclasses.replace(spark_cfg, consolidation=dataclasses.replace(
        spark_cfg.consolidation, warehouse_url=pg_url))
    reconciled = []
    real = runner.load_reconciled
    monkeypatch.setattr(runner, "load_reconciled", lambda *a: reconciled.append(a[2]) or real(*a))
    first = national_run(spark_cfg, workers=1)
    national_run(here(roots["here"]), workers=1)
    assert "prepare_loads" in first.timings and sorted(reconciled) == list(
        range(spark_cfg.consolidation.buckets))  # every bucket written as Spark computed it
    assert first.matching["entities"] > 0 and first.matching["model"] == 1

    def dumps() -> tuple[dict, dict]:
        return (warehouse_dump(warehouse_engine(pg_url), ignore_runs=True),
                warehouse_dump(_engine(roots["here"]), ignore_runs=True))

    on_spark, here_ = dumps()
    assert on_spark == here_
    assert on_spark["review_case"] and on_spark["person"]
    # later runs: a few changed rows, bucket by bucket, matched against the index
    monkeypatch.setattr(jinbao.spark, "start_session", lambda *a, **k: pytest.fail(
        "a run of a few changed rows started Spark"))
    for root in roots.values():
        with sqlite3.connect(root / "anhui" / "pension.db") as conn:
            conn.execute("UPDATE ac01 SET aac003 = aac003 || '改', "
                         "aae036 = '2025-06-01 00:00:00' WHERE aac001 % 10 = 1")
        _province_runs(root, ["anhui"])
    national_run(spark_cfg, workers=1)
    national_run(here(roots["here"]), workers=1)
    on_spark, here_ = dumps()
    for dump in (on_spark, here_):  # anhui's two runs committed at two moments
        dump.pop("watermark")
    assert on_spark == here_
    assert not has_bucket(roots["spark"] / "national_staging", 0)


def test_spark_asked_for_without_pyspark_says_what_to_do(provinces_loaded, tmp_path,
                                                         monkeypatch):
    import importlib.util

    from jinbao.errors import ConfigError

    root = tmp_path / "estates"
    shutil.copytree(provinces_loaded, root)
    found = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyspark" else found(name, *a))
    with pytest.raises(ConfigError, match=r"PySpark is not installed: install it with pip "
                                          r"install 'jinbao\[spark\]', or set \[spark\] enabled"):
        national_run(load_national_config(root / "national.toml"), workers=1)
    assert not (root / "national_staging").exists() and not (root / "national.db").exists()


def test_a_provinces_merge_and_its_undo_reach_the_national_tier_without_a_province_run(
        national, tmp_path):
    """A province's merge moves rows in place, in no run: the next national run reads those
    rows (and none other), and gives the national warehouse a national build from scratch
    over the provinces as they now stand gives; undone, the rows move back."""


    from jinbao import review

    root, _ = national
    province = None
    for name in PROVINCES:
        cfg = load_config(root / name / "jinbao.toml")
        for case in review.case_listing(cfg, "suspected_duplicate", "open", 1000)["cases"]:
            with warehouse_engine(cfg.warehouse_url).connect() as conn:
                evidence = json.loads(conn.execute(text(
                    "SELECT evidence FROM review_case WHERE case_id = :c"),
                    {"c": case["case_id"]}).scalar_one())
            people = [i for i, e in enumerate(evidence["entities"], 1) if "|" not in e]
            if people:
                province, chosen, keep = name, case["case_id"], people[0]
                break
        if province:
            break
    assert province, "no province case with a person to keep"
    cfg = load_config(root / province / "jinbao.toml")
    before = {(s, k): (n, o) for s, k, n, o in national_rows_of(root, province)}
    decided = review.resolve_case(cfg, chosen, "merge", "clerk", keep, None, None)
    moved = [(f"{province}/{r['source_system']}", r["source_key"])
             for r in json.loads(decided["detail"])["rows"]]
    assert moved
    with warehouse_engine(cfg.warehouse_url).connect() as conn:
        now = {(f"{province}/{s}", k): (n, o) for s, k, n, o in conn.execute(text(
            "SELECT source_system, source_key, id_number, outcome FROM source_record")).all()}
    after = national_run(here(root), workers=1)
    read = {m["source_name"]: (m["extracted"], m["province_runs"]) for m in after.sources}
    assert read[province] == (len(moved), 0) and all(
        read[p] == (0, 0) for p in PROVINCES if p != province)
    national_now = {(s, k): (n, o) for s, k, n, o in national_rows_of(root, province)}
    assert all(national_now[key] == now[key] != before[key] for key in moved)
    # the same warehouse a national build from scratch gives over the provinces as they are
    fresh = tmp_path / "fresh"
    shutil.copytree(root, fresh, ignore=shutil.ignore_patterns("national.db*",
                                                                "national_staging"))
    national_run(here(fresh), workers=1)
    dumps = []
    for engine in (_engine(root), _engine(fresh)):
        settled(engine)  # one model for both: each trained its first on other rows
        dumps.append(standing(warehouse_dump(engine, ignore_runs=True)))
        dumps[-1].pop("watermark")
    assert dumps[0] == dumps[1]
    # undone at the province: the rows move back at the next national run
    review.undo_case(cfg, chosen, "clerk")
    national_run(here(root), workers=1)
    national_now = {(s, k): (n, o) for s, k, n, o in national_rows_of(root, province)}
    assert all(national_now[key] == before[key] for key in moved)


def national_rows_of(root: Path, province: str) -> list[tuple]:
    with _engine(root).connect() as conn:
        return conn.execute(text("SELECT source_system, source_key, id_number, outcome FROM "
                                 "source_record WHERE province = :p"), {"p": province}).all()


def test_the_12333_look_up_over_the_national_warehouse_answers_every_province(national):
    """`jinbao serve --config national.toml` serves the nation's warehouse: a person who lived
    in two provinces is answered with the enrollments of both."""
    from fastapi.testclient import TestClient

    from jinbao.config import served_config
    from service import accounts
    from service.app import create_app

    root, _ = national
    cfg = served_config(root / "national.toml")
    engine = _engine(root)
    with engine.begin() as conn:
        accounts.add_user(conn, "hotline", "operator", "a long enough secret")
        mover = conn.execute(text(
            "SELECT id_number FROM enrollment GROUP BY id_number "
            "HAVING count(DISTINCT province) > 1 ORDER BY id_number LIMIT 1")).scalar_one()
    with TestClient(create_app(cfg)) as client:
        login = client.post("/api/v1/token", data={"username": "hotline",
                                                   "password": "a long enough secret"})
        answer = client.get(f"/api/v1/persons/{mover.lower()}", headers={
            "Authorization": f"Bearer {login.json()['access_token']}"})
    assert answer.status_code == 200, answer.text
    assert len({e["province"] for e in answer.json()["enrollments"]}) > 1
