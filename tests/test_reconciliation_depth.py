"""Reconciliation on a 20,000-person estate: exact merges, suspected duplicates, against truth.

The seed here was never used while the matching was written, and the weights come from fixed
judgements and the estate's own name and birth-date frequencies, not from the simulator's rates.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sqlalchemy import select

from estate import build_estate
from jinbao.evaluate import pairwise_scores, suspect_scores
from jinbao.runner import run_pipeline
from loaders.warehouse import warehouse_engine
from schemas.warehouse import review_case, review_case_row
from tests.conftest import fresh_config


@pytest.fixture(scope="module")
def estate_20000(tmp_path_factory):
    folder = tmp_path_factory.mktemp("estate_20000")
    build_estate(20_000, 90210, folder)
    cfg = fresh_config(folder, folder / "work")
    run_pipeline(cfg)
    return folder, warehouse_engine(cfg.warehouse_url)


def test_exact_merges_are_precise_and_complete(estate_20000):
    folder, engine = estate_20000
    scores = pairwise_scores(engine, folder / "truth.csv")
    print(scores)
    assert scores["precision"] >= 0.999
    assert scores["recall"] >= 0.995


def test_suspected_duplicates_find_what_exact_matching_missed(estate_20000):
    folder, engine = estate_20000
    scores = suspect_scores(engine, folder / "truth.csv")
    print(scores)
    assert scores["missed_pairs"] > 1000
    assert scores["case_recall"] >= 0.90
    assert scores["false_per_true"] <= 0.10
    assert scores["proposed_f1"] > scores["exact_f1"]


def test_every_case_names_its_rows_and_numbers(estate_20000):
    _, engine = estate_20000
    with engine.connect() as conn:
        cases = pd.read_sql(select(review_case), conn)
        rows = pd.read_sql(select(review_case_row), conn)
    assert set(cases["kind"]) == {"attribute_conflict", "duplicate_enrollment",
                                  "suspected_duplicate"}
    assert set(cases["case_id"]) == set(rows["case_id"])
    suspected = cases[cases["kind"] == "suspected_duplicate"]
    for case in suspected.itertuples():
        entities = json.loads(case.evidence)["entities"]
        numbers = json.loads(case.id_numbers)
        assert numbers == [e for e in entities if "|" not in e]
        assert len(rows[rows["case_id"] == case.case_id]) >= 2
