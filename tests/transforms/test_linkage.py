"""The linkage package without a warehouse: entities, the comparisons' levels, clusters and
cases, the threshold rule, and what a retrained model reports."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from stdnum.cn import ric

from transforms.linkage import decide, model
from transforms.linkage.entities import entity_frame


def _number(body: str) -> str:
    return body + ric.calc_check_digit(body)


A = _number("11010519900307123")  # a valid number, and damaged forms of it
A_SWAPPED = A[:14] + A[15] + A[14] + A[16:]
A_TWO = A[:8] + str((int(A[8]) + 1) % 10) + A[9:12] + str((int(A[12]) + 3) % 10) + A[13:]
B = _number("44030019851111456")


def _persons(rows: list[dict]) -> pd.DataFrame:
    base = {"id_number": None, "name": None, "sex": None, "birth_date": None, "region": None,
            "employer": None}
    return pd.DataFrame([{**base, **r} for r in rows], columns=list(base))


def _loose(rows: list[dict]) -> pd.DataFrame:
    base = {"source_system": "pension", "source_key": None, "claimed_id": None, "name": None,
            "sex": None, "birth_date": None, "pooling_region": None, "employer_id": None}
    return pd.DataFrame([{**base, **r} for r in rows], columns=list(base))


NO_LOOSE = _loose([]).astype("string")


def test_entities_repair_what_the_field_misplaced():
    loose = _loose([
        {"source_key": "1", "claimed_id": "", "name": f" {A} ", "birth_date": "1990-03-07"},
        {"source_key": "2", "claimed_id": "000000000000000000", "name": "张伟"},
        {"source_key": "3", "claimed_id": A_SWAPPED, "name": "买买提·阿依古丽", "sex": "9"},
    ])
    people = _persons([{"id_number": B, "name": "張偉", "sex": "1", "birth_date": "1985-11-11"}])
    found = entity_frame(people, loose).set_index("unique_id")
    assert found.loc["pension|1", "id_number"] == A  # the number written in the name field
    assert pd.isna(found.loc["pension|1", "name_key"])
    assert pd.isna(found.loc["pension|2", "id_number"])  # a placeholder says nothing
    assert found.loc[B, "name_key"] == "张伟"  # traditional script folded
    assert found.loc[B, "name_pinyin"] == "zhang wei"
    assert found.loc[B, "surname_pinyin"] == "zhang"
    assert found.loc[B, "birth"] == "19851111"
    assert found.loc[B, "id_birth"] == "19851111" and found.loc[B, "id_area"] == "440300"
    assert found.loc["pension|3", "name_tokens"] == " ".join(sorted(["买买提", "阿依古丽"]))
    assert pd.isna(found.loc["pension|3", "sex"])  # only 1 and 2 are sexes


def _levels(left: dict, right: dict) -> dict[str, str]:
    """The level label of each comparison for one pair of rows, scored by the settings with
    Splink's default weights and even prior odds (the levels are what is tested here)."""
    frame = entity_frame(_persons([]), _loose([{"source_key": "l", **left},
                                               {"source_key": "r", **right}]))
    untrained = model.settings().get_settings("duckdb").as_dict()
    untrained["probability_two_random_records_match"] = 0.5
    untrained["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": "1 = 1", "sql_dialect": "duckdb"}]  # every pair
    pair = next(model.scored(frame, untrained).itertuples(index=False))
    names = model.levels(untrained)
    return {c: names[c][int(getattr(pair, f"gamma_{c}"))] for c in names}


@pytest.mark.parametrize(("left", "right", "comparison", "level"), [
    ({"claimed_id": A}, {"claimed_id": A_SWAPPED}, "id_number",
     "one digit mistyped, or two adjacent digits swapped"),
    ({"claimed_id": A}, {"claimed_id": A_TWO}, "id_number", "two edits apart"),
    ({"claimed_id": A}, {"claimed_id": A[:14] + "9" + A[15:17] + "X"}, "id_number",
     "two edits apart"),
    ({"name": "张伟"}, {"name": "章伟"}, "name", "the same pinyin (homophones)"),
    ({"name": "张伟"}, {"name": "張偉"}, "name", "the same name in simplified script"),
    ({"name": "张小明"}, {"name": "张大明"}, "name",
     "same family name, one given character different"),
    ({"name": "JOHN SMITH"}, {"name": "SMITH JOHN"}, "name", "the same words in another order"),
    ({"birth_date": "1990-03-07"}, {"birth_date": "1990-07-03"}, "birth",
     "day and month swapped"),
    ({"birth_date": "1990-03-07"}, {"birth_date": "1990-03-08"}, "birth",
     "one digit different, or two adjacent digits swapped"),
    ({"birth_date": "1990-03-07"}, {"birth_date": "1990-03-27"}, "birth",
     "one digit different, or two adjacent digits swapped"),
    ({"birth_date": "1990-03-07"}, {"birth_date": "1990-03-19"}, "birth", "same year and month"),
    ({"birth_date": "1990-03-07"}, {"birth_date": "1989-11-30"}, "birth", "within a year"),
    ({"claimed_id": A, "birth_date": "1970-01-01"}, {"birth_date": "1990-03-07"}, "birth_vs_id",
     "a stated date is the date in the other's number"),
])
def test_comparisons_grade_the_damage_the_field_knows(left, right, comparison, level):
    assert _levels(left, right)[comparison] == level


def test_a_cluster_is_one_case_whatever_order_found_it():
    edges = pd.DataFrame({"unique_id_l": [A, "pension|9", B],
                          "unique_id_r": ["pension|9", "medical|4", "injury|7"],
                          "match_probability": [0.99, 0.98, 0.97],
                          "match_weight": [9.0, 8.0, 7.0]})
    groups = decide.clusters(edges)
    assert sorted(map(len, groups)) == [2, 3]
    trio = next(g for g in groups if len(g) == 3)
    assert decide.case_id(trio) == decide.case_id(list(reversed(trio)))
    assert decide.case_id(trio) != decide.case_id(trio[:2])


def test_kept_apart_pairs_are_no_links():
    pairs = pd.DataFrame({"unique_id_l": ["a", "a"], "unique_id_r": ["b", "c"],
                          "match_probability": [0.999, 0.4], "match_weight": [10.0, -1.0]})
    assert decide.links(pairs, 0.9).shape[0] == 1
    assert decide.links(pairs, 0.9, {frozenset(("b", "a"))}).empty


def test_threshold_follows_the_models_own_error_estimate():
    sure = pd.Series([0.9999] * 990 + [0.6] * 10)
    # expected false share over all pairs = (990 * 0.0001 + 10 * 0.4) / 1000 = 0.0041 <= 1%
    assert model.threshold_of(sure) == pytest.approx(0.6)
    doubtful = pd.Series([0.9999] * 900 + [0.6] * 100)  # 4% expected false if all are cases
    assert model.threshold_of(doubtful) == pytest.approx(0.9999)
    assert model.threshold_of(pd.Series([0.2, 0.3])) == 0.5  # never below even odds


def test_case_evidence_has_every_comparisons_level_and_weight():
    settings = model.settings().get_settings("duckdb").as_dict()
    settings["probability_two_random_records_match"] = 1e-4
    names = model.levels(settings)
    comparisons = [c["output_column_name"] for c in settings["comparisons"]]
    pair = {"unique_id_l": A, "unique_id_r": "pension|1", "match_probability": 0.97,
            "match_weight": 5.0, **{f"gamma_{c}": 0 for c in comparisons},
            **{f"mw_{c}": 0.5 for c in comparisons}}
    edges = pd.DataFrame([pair])
    rows = pd.DataFrame({"id_number": [A, A], "source_system": ["pension", "medical"],
                         "source_key": ["7", "8"]})
    cases, case_rows = decide.case_frames([[A, "pension|1"]], edges, settings, 3, 0.9, rows)
    evidence = json.loads(cases.loc[0, "evidence"])
    assert evidence["entities"] == [A, "pension|1"] and evidence["model"] == 3
    assert evidence["probability"] == 0.97 and evidence["threshold"] == 0.9
    listed = evidence["pairs"][0]["comparisons"]
    assert [c["comparison"] for c in listed] == comparisons
    assert all(c["level"] == names[c["comparison"]][0] and c["weight"] == 0.5 for c in listed)
    assert set(zip(case_rows["source_system"], case_rows["source_key"], strict=True)) == {
        ("pension", "7"), ("medical", "8"), ("pension", "1")}


def test_a_clusters_case_is_the_same_whatever_order_the_scorer_returned_its_pairs_in():
    settings = model.settings().get_settings("duckdb").as_dict()
    settings["probability_two_random_records_match"] = 1e-4
    comparisons = [c["output_column_name"] for c in settings["comparisons"]]
    entities = [A, *(f"injury|{k}" for k in range(1, 7))]  # 21 pairs, more than are shown
    pairs = pd.DataFrame([{"unique_id_l": a, "unique_id_r": b, "match_probability": 0.97,
                           "match_weight": 5.0, **{f"gamma_{c}": 1 for c in comparisons},
                           **{f"mw_{c}": 0.5 for c in comparisons}}
                          for i, a in enumerate(entities) for b in entities[i + 1:]])
    rows = pd.DataFrame({"id_number": [A], "source_system": ["pension"], "source_key": ["7"]})
    cases = [decide.case_frames([sorted(entities)], pairs.sample(frac=1, random_state=seed),
                                settings, 3, 0.9, rows)[0] for seed in range(4)]
    assert len(json.loads(cases[0].loc[0, "evidence"])["pairs"]) == decide.MAX_PAIRS_SHOWN
    assert all(c.equals(cases[0]) for c in cases[1:])


def test_training_samples_the_entities_when_a_block_outgrows_its_budget():
    entities = pd.DataFrame({"unique_id": [f"pension|{i}" for i in range(4000)],
                             "name_key": ["王伟", "李娜"] * 2000, "birth": ["1990-01-01"] * 4000})
    assert model.training_sample(entities, budget=1e7) is entities  # 8 million pairs: all
    sample = model.training_sample(entities, budget=8e5)
    assert model.block_pairs(sample, "birth") == pytest.approx(8e5, rel=0.1)
    assert sample["name_key"].value_counts().min() > 550  # uniform: about 632 of each name
    assert sample.equals(model.training_sample(entities.iloc[::-1], budget=8e5).sort_index())


def test_a_retrained_model_reports_the_weights_that_moved():
    old = model.settings().get_settings("duckdb").as_dict()
    old["probability_two_random_records_match"] = 1e-4
    new = json.loads(json.dumps(old))
    level = new["comparisons"][0]["comparison_levels"][2]
    level["m_probability"], level["u_probability"] = 0.8, 0.001
    moved = model.changes(old, new)
    assert moved[0]["comparison"] == "prior"
    assert [(r["comparison"], r["level"]) for r in moved[1:]] == [
        ("id_number", level["label_for_charts"])]
    assert moved[1]["after"] == pytest.approx(9.644, abs=1e-3) and moved[1]["learnt_after"]


def test_training_on_a_few_distinct_entities_still_gives_a_model():
    loose = _loose([{"source_key": str(i), "claimed_id": _number(f"1101051990030{i:04d}"),
                     "name": name, "birth_date": f"1990-03-{i + 1:02d}", "sex": "1"}
                    for i, name in enumerate(["张伟", "李娜", "王芳", "刘洋", "陈静"])])
    trained, threshold = model.trained(entity_frame(_persons([]), loose))
    assert 0 < trained["probability_two_random_records_match"] < 1  # the rule found no pair
    assert 0.5 <= threshold <= 1


def test_every_blocking_key_is_an_index_of_the_stored_entities():
    from schemas.warehouse import match_entity

    indexed = {tuple(c.name for c in index.columns) for index in match_entity.indexes}
    assert set(model.BLOCK_KEYS) <= indexed  # an incremental match joins on each
