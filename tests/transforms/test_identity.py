"""Every ID damage of the standard, table-driven; the check character agrees with python-stdnum."""

import random

import pandas as pd
import pytest
from stdnum.cn import ric

from schemas.identity import birth_date_from_id, sex_from_id
from transforms.identity import check_chars, repaired_ids

VALID = "110105194912310021"[:17] + ric.calc_check_digit("110105194912310021")
WITH_X = "11010519491231002X"  # the check character of 11010519491231002 is X

CASES = [
    # (raw value, repaired number or None, rule or None, repairs)
    ("310112850409522", "310112198504095227", None, "upgraded_15"),
    ("310112198504095227", "310112198504095227", None, ""),
    ("11010519491231002x", WITH_X, None, "lowercase_x"),
    ("３１０１１２１９８５０４０９５２２７", "310112198504095227", None, "fullwidth"),
    (" 3101121985\t04095227 ", "310112198504095227", None, "whitespace"),
    ("310112198504095227#", "310112198504095227", None, "trailing_junk"),
    ("310112198504095227(旧)", "310112198504095227", None, "trailing_junk"),
    ("310112850409522-01", "310112198504095227", None, "trailing_junk,upgraded_15"),
    ("3101 1285 0409 522", "310112198504095227", None, "whitespace,upgraded_15"),
    ("310112198504095237", None, "id_checksum", ""),  # one mistyped digit
    ("310112198504095272", None, "id_checksum", ""),  # two adjacent digits swapped
    ("301112198504095227", None, "id_checksum", ""),  # swapped at the front
    ("", None, "id_missing", ""),
    (None, None, "id_missing", ""),
    ("   ", None, "id_missing", "whitespace"),
    ("000000000000000000", None, "id_placeholder", ""),
    ("000000000000000", None, "id_placeholder", ""),
    ("12345", None, "id_malformed", ""),
    ("ABCDEFGHIJKLMNOPQR", None, "id_malformed", ""),
    ("1101051949123100", None, "id_malformed", ""),  # 16 digits
    ("990000198504095221", None, "id_checksum", ""),
]


@pytest.mark.parametrize(("raw", "number", "rule", "repairs"), CASES)
def test_repaired_ids(raw, number, rule, repairs):
    result = repaired_ids(pd.Series([raw], dtype=object)).iloc[0]
    assert (None if pd.isna(result["id_number"]) else result["id_number"]) == number
    assert (None if pd.isna(result["id_rule"]) else result["id_rule"]) == rule
    assert result["id_repairs"] == repairs


def _valid(first17: str) -> str:
    return first17 + ric.calc_check_digit(first17 + "0")


def test_unknown_area_code_is_named():
    number = _valid("99000019850409522")
    assert repaired_ids(pd.Series([number])).iloc[0]["id_rule"] == "id_area_code"


def test_retired_code_and_code_newer_than_birth_year_are_accepted():
    # 110103 (崇文区) was retired in 2010; 440104 was created after 1956: both are normal.
    numbers = pd.Series([_valid("11010319700101001"), "440104195604091237"])
    assert not ric.is_valid("440104195604091237")  # stdnum's own verdict would reject it
    assert repaired_ids(numbers)["id_rule"].isna().all()


def test_impossible_birth_date_is_named():
    number = _valid("11010519800230001")  # 1980-02-30, check character correct
    assert repaired_ids(pd.Series([number])).iloc[0]["id_rule"] == "id_birth_date"


def test_birth_date_after_record_date_is_named():
    number = _valid("11010520300101001")
    result = repaired_ids(pd.Series([number]), as_of=pd.Timestamp("2024-12-31"))
    assert result.iloc[0]["id_rule"] == "id_birth_date"


def test_check_characters_agree_with_stdnum():
    rng = random.Random(1)
    first17 = [f"{rng.randrange(10**16, 10**17):017d}" for _ in range(2000)]
    expected = [ric.calc_check_digit(n + "0") for n in first17]
    assert check_chars(pd.Series(first17)).tolist() == expected


def test_every_single_typo_and_adjacent_swap_is_caught():
    number = "310112198504095227"
    damaged = []
    for i in range(18):
        damaged += [number[:i] + d + number[i + 1:] for d in "0123456789X" if d != number[i]
                    and (d != "X" or i == 17)]
    damaged += [number[:i] + number[i + 1] + number[i] + number[i + 2:] for i in range(17)
                if number[i] != number[i + 1]]
    rules = repaired_ids(pd.Series(damaged))["id_rule"]
    assert (rules == "id_checksum").all(), rules.value_counts()


def test_sex_and_birth_date_come_from_the_number():
    ids = pd.Series(["310112198504095227", WITH_X, _valid("11010519491231001")])
    assert sex_from_id(ids).tolist() == ["2", "2", "1"]  # the 17th digit: even female, odd male
    assert birth_date_from_id(ids).dt.strftime("%Y-%m-%d").tolist() == [
        "1985-04-09", "1949-12-31", "1949-12-31"]
