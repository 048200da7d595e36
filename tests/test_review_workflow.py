"""The review workflow: a decision is applied at once, kept by later runs, and undone exactly."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from sqlalchemy import select, text

from jinbao.cli import main
from jinbao.runner import run_pipeline
from loaders.warehouse import warehouse_engine
from schemas.warehouse import person, review_case
from tests.conftest import fresh_config, warehouse_dump, written_config

RESTORED = ["person", "enrollment", "source_record", "quarantine"]


@pytest.fixture
def loaded(estate_2000, tmp_path):
    estate = tmp_path / "estate"
    shutil.copytree(estate_2000, estate, ignore=shutil.ignore_patterns("warehouse.db*"))
    cfg = fresh_config(estate, tmp_path / "wh")
    run_pipeline(cfg)
    return cfg, written_config(cfg, tmp_path / "jinbao.toml"), warehouse_engine(cfg.warehouse_url)


def _state(engine, hashes: bool = True) -> dict:
    """The tables a decision changes; without row hashes (the change detector a merged row's
    next extract renews) when `hashes` is false."""
    dump = warehouse_dump(engine, ignore_runs=True)
    state = {table: dump[table] for table in RESTORED}
    if not hashes:
        state["source_record"] = [row[:2] + row[3:] for row in state["source_record"]]
    return state


def _case(engine, kind: str, where: str = "1=1") -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(text(
            f"SELECT * FROM review_case WHERE kind = :k AND status = 'open' AND {where} "
            "ORDER BY case_id LIMIT 1"), {"k": kind}).mappings().one())


REVIEWER = "caseworker.li"


def _review(config, *args) -> int:
    who = ["--by", REVIEWER] if args[0] in ("resolve", "undo") else []
    return main(["review", *args, *who, "--config", str(config)])


def test_merge_is_kept_by_reruns_and_undone_exactly(loaded, capsys):
    cfg, config, engine = loaded
    before = _state(engine)
    case = _case(engine, "suspected_duplicate", "evidence LIKE '%|%'")  # a person and a row
    person_id = json.loads(case["id_numbers"])[0]
    row = next(e for e in json.loads(case["evidence"])["entities"] if "|" in e)
    keep = json.loads(case["evidence"])["entities"].index(person_id) + 1

    def owner() -> tuple:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT outcome, id_number FROM source_record WHERE source_system || '|' || "
                "source_key = :r"), {"r": row}).one()

    # a merge is never implied: without --keep (or without a reviewer's name) nothing happens
    capsys.readouterr()
    assert main(["review", "resolve", case["case_id"], "merge", "--by", REVIEWER,
                 "--config", str(config)]) == 2
    assert "merge needs --keep N" in capsys.readouterr().err
    assert main(["review", "resolve", case["case_id"], "merge", "--keep", str(keep),
                 "--config", str(config)]) == 2
    assert "who decides? give --by NAME" in capsys.readouterr().err
    assert _state(engine) == before
    assert _review(config, "resolve", case["case_id"], "merge", "--keep", str(keep)) == 0
    assert tuple(owner()) == ("accepted", person_id)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT decided_by FROM review_decision")).scalars().all() == [
            REVIEWER]
    merged = _state(engine, hashes=False)
    run_pipeline(cfg, since="1900-01-01")  # the whole estate read again: the merge holds
    assert tuple(owner()) == ("accepted", person_id)
    assert _state(engine, hashes=False) == merged
    with engine.connect() as conn:
        status = conn.execute(select(review_case.c.status).where(
            review_case.c.case_id == case["case_id"])).scalar_one()
    assert status == "resolved"

    assert _review(config, "undo", case["case_id"]) == 0
    assert _state(engine) == before
    run_pipeline(cfg, since="1900-01-01")
    assert _state(engine) == before
    assert _case(engine, "suspected_duplicate", f"case_id = '{case['case_id']}'")
    capsys.readouterr()


def test_pick_sets_the_attribute_until_undone(loaded):
    cfg, config, engine = loaded
    case = _case(engine, "attribute_conflict", "attribute = 'sex'")
    evidence = json.loads(case["evidence"])
    wrong = next(v for v in evidence["values"] if v["value"] != evidence["id_says"])
    chosen = wrong["rows"][0]

    def golden() -> tuple:
        with engine.connect() as conn:
            return conn.execute(select(person.c.sex, person.c.sex_source).where(
                person.c.id_number == case["id_number"])).one()

    before = golden()
    assert before[0] == evidence["id_says"]
    assert _review(config, "resolve", case["case_id"], "pick", "--row", chosen) == 0
    assert tuple(golden()) == (wrong["value"], chosen)
    run_pipeline(cfg, since="1900-01-01")
    assert tuple(golden()) == (wrong["value"], chosen)
    assert _review(config, "undo", case["case_id"]) == 0
    assert golden() == before


def test_keep_apart_stays_decided_and_mistakes_are_named(loaded, capsys):
    cfg, config, engine = loaded
    case = _case(engine, "suspected_duplicate")
    assert _review(config, "resolve", case["case_id"], "keep_apart", "--note", "twins") == 0
    run_pipeline(cfg, since="1900-01-01")
    with engine.connect() as conn:
        cases = pd.read_sql(select(review_case), conn)
    assert cases.set_index("case_id").loc[case["case_id"], "status"] == "resolved"
    capsys.readouterr()
    assert _review(config, "resolve", case["case_id"], "merge", "--keep", "1") == 2  # decided
    assert _review(config, "resolve", "no-such-case", "dismiss") == 2
    other = _case(engine, "duplicate_enrollment")
    assert _review(config, "resolve", other["case_id"], "merge", "--keep", "1") == 2  # wrong kind
    assert "takes confirm | dismiss" in capsys.readouterr().err


def test_review_output_masks_numbers_and_names(loaded, capsys, estate_2000):
    _, config, engine = loaded
    truth = pd.read_csv(estate_2000 / "truth.csv", dtype=str, keep_default_na=False)
    with engine.connect() as conn:
        names = set(pd.read_sql("SELECT name FROM person", conn)["name"])
        cases = pd.read_sql("SELECT case_id FROM review_case", conn)["case_id"]
    capsys.readouterr()
    _review(config, "list", "--limit", "50")
    for case_id in cases.sample(40, random_state=1):
        _review(config, "show", case_id)
    shown = capsys.readouterr().out
    assert "source rows" in shown
    assert not [n for n in set(truth["person_key"]) if n in shown]
    assert not [n for n in names if len(n) > 1 and n in shown]


def test_a_merge_reveals_the_duplicate_enrollment_a_damaged_number_hid(loaded):
    """A second file quarantined for its number hides a 重复参保 until a reviewer merges it."""
    from transforms.cases import ACTIVE, SCHEME_FAMILY

    _, config, engine = loaded
    with engine.connect() as conn:
        cases = pd.read_sql(text("SELECT * FROM review_case WHERE kind = 'suspected_duplicate' "
                                 "AND status = 'open' AND evidence LIKE '%|%'"), conn)
        rows = pd.read_sql(text("SELECT source_system, source_key, id_number, scheme, "
                                "pooling_region, status FROM source_record"), conn)
        enrolled = pd.read_sql(text("SELECT id_number, scheme, pooling_region, status "
                                    "FROM enrollment"), conn)
    rows["key"] = rows["source_system"] + "|" + rows["source_key"]
    active = enrolled[enrolled["status"] == ACTIVE]
    for case in cases.itertuples():
        if not json.loads(case.id_numbers):  # rows alone, no person: nothing to reveal
            continue
        person_id = json.loads(case.id_numbers)[0]
        entities = json.loads(case.evidence)["entities"]
        row = rows.set_index("key").loc[next(e for e in entities if "|" in e)]
        mine = active[active["id_number"] == person_id]
        family = SCHEME_FAMILY.get(row["scheme"])
        if row["status"] == ACTIVE and family and any(
                SCHEME_FAMILY.get(s) == family and r != row["pooling_region"]
                for s, r in zip(mine["scheme"], mine["pooling_region"], strict=True)):
            break
    else:
        pytest.fail("the reference estate should hide a duplicate enrollment behind a bad number")
    keep = str(entities.index(person_id) + 1)
    assert _review(config, "resolve", case.case_id, "merge", "--keep", keep) == 0
    with engine.connect() as conn:
        found = conn.execute(text(
            "SELECT count(*) FROM review_case WHERE kind = 'duplicate_enrollment' AND "
            "id_number = :i AND attribute = :f AND status = 'open'"),
            {"i": person_id, "f": family}).scalar_one()
    assert found == 1
