"""Review cases on the 2,000-person reference estate: what the simulator injected is found, and
a rerun finds the same cases again, keeping their ids and opening runs."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select

from jinbao.runner import run_pipeline
from loaders.warehouse import warehouse_engine
from schemas.warehouse import review_case, review_case_row, source_record
from tests.conftest import fresh_config
from transforms.cases import ACTIVE, SCHEME_FAMILY


@pytest.fixture(scope="module")
def loaded(estate_2000, tmp_path_factory):
    cfg = fresh_config(estate_2000, tmp_path_factory.mktemp("cases"))
    run_pipeline(cfg)
    engine = warehouse_engine(cfg.warehouse_url)
    with engine.connect() as conn:
        tables = {t.name: pd.read_sql(select(t), conn)
                  for t in (review_case, review_case_row, source_record)}
    truth = pd.read_csv(estate_2000 / "truth.csv", dtype=str, keep_default_na=False)
    damage = pd.read_csv(estate_2000 / "damage.csv", dtype=str, keep_default_na=False)
    return cfg, engine, tables, truth, damage


def test_every_injected_duplicate_enrollment_is_found(loaded):
    _, _, tables, truth, damage = loaded
    records = tables["source_record"].merge(truth, on=["source_system", "source_key"])
    active = records[(records["outcome"] == "accepted") & (records["status"] == ACTIVE)].assign(
        family=lambda f: f["scheme"].map(SCHEME_FAMILY))
    files = active.groupby(["person_key", "family"]).size()
    injected = damage[damage["damage"] == "duplicate_enrollment"].merge(
        active, on=["source_system", "source_key"])
    both_loaded = injected[[files.get((p, f), 0) > 1 for p, f in
                            zip(injected["person_key"], injected["family"], strict=True)]]
    assert len(both_loaded) > 20
    cases = tables["review_case"]
    found = set(zip(cases["id_number"], cases["attribute"], strict=True))
    missed = [(p, f) for p, f in zip(both_loaded["person_key"], both_loaded["family"],
                                     strict=True) if (p, f) not in found]
    assert not missed
    raised = cases[cases["kind"] == "duplicate_enrollment"]
    assert set(raised["id_number"]) <= set(injected["person_key"])  # and nothing else


def test_rows_contradicting_their_id_open_attribute_conflicts(loaded):
    _, _, tables, _, damage = loaded
    rows = tables["review_case_row"].merge(tables["review_case"], on="case_id")
    conflicts = rows[rows["kind"] == "attribute_conflict"]
    records = tables["source_record"]
    for kind, attribute in (("sex_disagrees_with_id", "sex"),
                            ("birth_disagrees_with_id", "birth_date")):
        hit = damage[damage["damage"] == kind].merge(records, on=["source_system", "source_key"])
        hit = hit[(hit["outcome"] == "accepted") & hit[attribute].notna()]
        assert len(hit) > 10, kind
        flagged = conflicts[conflicts["attribute"] == attribute]
        keys = set(zip(flagged["source_system"], flagged["source_key"], strict=True))
        assert all(k in keys for k in zip(hit["source_system"], hit["source_key"], strict=True))


def test_golden_attributes_name_their_source_rows(loaded):
    _, engine, tables, _, _ = loaded
    with engine.connect() as conn:
        people = pd.read_sql("SELECT * FROM person", conn)
    keys = set(tables["source_record"]["source_system"] + "|" + tables["source_record"]["source_key"])
    for attribute in ("name", "sex", "birth_date"):
        sources = people[f"{attribute}_source"]
        assert sources.notna().all(), attribute
        assert sources[sources != "id_number"].isin(keys).all(), attribute


def test_a_rerun_keeps_the_cases(loaded):
    cfg, engine, tables, _, _ = loaded
    run_pipeline(cfg, since="1900-01-01")
    with engine.connect() as conn:
        again = pd.read_sql(select(review_case), conn)
    before = tables["review_case"].sort_values("case_id").reset_index(drop=True)
    assert again.sort_values("case_id").reset_index(drop=True).equals(before)
