"""Survivorship: each golden attribute comes from the row the rules pick, and says which."""

from __future__ import annotations

import pandas as pd
import pytest

from transforms.cases import attribute_conflicts, duplicate_enrollments
from transforms.reconcile import golden_persons
from transforms.survivorship import Survivorship

A = "310112198504095227"  # female, born 1985-04-09


def _rows(*specs: dict) -> pd.DataFrame:
    base = {"id_number": A, "name": "黄晨秀", "sex": "2", "ethnicity": "01",
            "birth_date": pd.Timestamp("1985-04-09"), "updated_at": pd.Timestamp("2024-01-01")}
    frame = pd.DataFrame([{**base, **spec} for spec in specs])
    for column in ("id_number", "name", "sex", "ethnicity", "source_system", "source_key"):
        frame[column] = frame[column].astype("string")
    return frame


def test_agreeing_with_the_id_beats_the_latest_row():
    rows = _rows({"source_system": "pension", "source_key": "1", "sex": "2"},
                 {"source_system": "medical", "source_key": "M1", "sex": "1",
                  "birth_date": pd.Timestamp("1985-04-10"), "updated_at": pd.Timestamp("2025-01-01")})
    golden = golden_persons(rows).iloc[0]
    assert (golden["sex"], golden["sex_source"]) == ("2", "pension|1")
    assert golden["birth_date"] == pd.Timestamp("1985-04-09")
    assert golden["birth_date_source"] == "pension|1"


def test_the_id_itself_supplies_what_no_row_states_rightly():
    rows = _rows({"source_system": "medical", "source_key": "M1", "sex": "0",
                  "birth_date": pd.Timestamp("1990-01-01")})
    golden = golden_persons(rows).iloc[0]
    assert (golden["sex"], golden["sex_source"]) == ("2", "id_number")  # 0 = unknown
    assert golden["birth_date"] == pd.Timestamp("1985-04-09")
    assert golden["birth_date_source"] == "id_number"


def test_latest_row_then_source_priority():
    rows = _rows({"source_system": "pension", "source_key": "1", "ethnicity": "01"},
                 {"source_system": "medical", "source_key": "M1", "ethnicity": "03"})
    pension_first = Survivorship(source_priority=("pension", "medical"))
    assert golden_persons(rows, pension_first).iloc[0]["ethnicity_source"] == "pension|1"
    assert golden_persons(rows).iloc[0]["ethnicity"] == "03"  # no priority: name order
    later = rows.assign(updated_at=[pd.Timestamp("2023-01-01"), pd.Timestamp("2024-01-01")])
    assert golden_persons(later, pension_first).iloc[0]["ethnicity"] == "03"


def test_most_common_name_counts_traditional_spellings_as_one():
    rows = _rows({"source_system": "pension", "source_key": "1", "name": "张伟",
                  "updated_at": pd.Timestamp("2020-01-01")},
                 {"source_system": "medical", "source_key": "M1", "name": "張偉"},
                 {"source_system": "injury", "source_key": "x", "name": "张玮",
                  "updated_at": pd.Timestamp("2025-01-01")})
    golden = golden_persons(rows).iloc[0]
    assert golden["name"] in ("张伟", "張偉") and golden["name_source"] != "injury|x"
    latest = Survivorship(rules={"name": ("most_recent",)})
    assert golden_persons(rows, latest).iloc[0]["name"] == "张玮"


def test_unknown_rules_are_refused():
    with pytest.raises(ValueError, match="unknown rule 'newest'"):
        Survivorship(rules={"name": ("newest",)})


def test_attribute_conflicts_compare_what_matters():
    rows = _rows({"source_system": "pension", "source_key": "1", "name": "张伟"},
                 {"source_system": "medical", "source_key": "M1", "name": "張偉", "sex": "0"},
                 {"source_system": "injury", "source_key": "x", "name": "张伟",
                  "birth_date": pd.Timestamp("1985-05-09")})
    cases, case_rows = attribute_conflicts(rows)
    assert cases["attribute"].tolist() == ["birth_date"]  # script and unknown sex are no conflict
    assert set(case_rows["source_key"]) == {"1", "M1", "x"}
    alone = attribute_conflicts(_rows({"source_system": "pension", "source_key": "1", "sex": "1"}))
    assert alone[0]["attribute"].tolist() == ["sex"]  # one row that contradicts its own ID


def test_duplicate_enrollment_is_per_scheme_family():
    def enrollment(scheme, region, status="1", key="k"):
        return {"id_number": A, "scheme": scheme, "pooling_region": region, "status": status,
                "source_system": "s", "source_key": key + scheme + region, "enrolled_on": None}

    frame = pd.DataFrame([enrollment("310", "440100"), enrollment("390", "440300"),
                          enrollment("110", "440100"), enrollment("110", "440300", status="4"),
                          enrollment("320", "440300"), enrollment("510", "440100")])
    cases, case_rows = duplicate_enrollments(frame)
    assert cases["attribute"].tolist() == ["basic_medical"]
    assert len(case_rows) == 2


def _tied_rows(seed: int) -> pd.DataFrame:
    """Rows of a few people that tie on every rule again and again: few names (simplified and
    traditional), dates and change times, several systems, keys in no order."""
    import numpy as np

    pick = np.random.default_rng(seed).choice
    n = 600
    ids = ["310112198504095227", "110105194912310021", "44030619900101002X", "320102198001010018"]
    frame = pd.DataFrame({
        "id_number": pick(ids, n), "name": pick(["黄晨秀", "黃晨秀", "张伟", None], n),
        "sex": pick(["1", "2", "9", None], n), "ethnicity": pick(["01", "03", None], n),
        "birth_date": pd.to_datetime(pick(["1985-04-09", "1949-12-31", None], n)),
        "updated_at": pd.to_datetime(pick(["2024-01-01", "2024-06-01", None], n)),
        "source_system": pick(["pension", "medical", "injury"], n),
        "scheme": pick(["110", "310", "410"], n), "pooling_region": pick(["310100", "440300"], n),
        "status": pick(["1", "2"], n), "pay_status": None, "employer_id": pick(["E1", None], n),
        "enrolled_on": pd.NaT, "run_id": "run-1"})
    frame["source_key"] = [f"k{i}" for i in np.random.default_rng(seed + 1).permutation(n)]
    frame = frame.drop_duplicates(["source_system", "source_key"])
    for column in ("id_number", "name", "sex", "ethnicity", "source_system", "source_key"):
        frame[column] = frame[column].astype("string")
    return frame


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_golden_records_and_cases_do_not_depend_on_the_rows_order(seed):
    """Ties are broken by (source_system, source_key), never by where a row happens to be."""
    from transforms.cases import person_cases
    from transforms.reconcile import golden_enrollments

    rows = _tied_rows(seed)
    shuffled = rows.sample(frac=1, random_state=seed).reset_index(drop=True)
    policy = Survivorship(source_priority=("injury", "pension"))
    picks = pd.DataFrame({"id_number": [rows["id_number"].iloc[0]], "attribute": ["name"],
                          "source": [f"{rows['source_system'].iloc[0]}|"
                                     f"{rows['source_key'].iloc[0]}"]})
    for policy_, picks_ in ((None, None), (policy, picks)):
        pd.testing.assert_frame_equal(golden_persons(rows, policy_, picks_),
                                      golden_persons(shuffled, policy_, picks_))
    pd.testing.assert_frame_equal(golden_enrollments(rows), golden_enrollments(shuffled))
    found = [person_cases(r, golden_enrollments(r)) for r in (rows, shuffled)]
    for one, other in zip(*found, strict=True):
        pd.testing.assert_frame_equal(one.reset_index(drop=True), other.reset_index(drop=True))
    assert len(found[0][0]) > 0  # the rows do raise cases
