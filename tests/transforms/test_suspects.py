"""Suspected duplicates: the blocks find the near misses, the weights keep twins apart."""

from __future__ import annotations

import pandas as pd

from transforms.suspects import checksum_neighbours, old15_pairs, suspected_duplicates

GOOD = "310112198504095227"


def test_every_single_typo_and_adjacent_swap_leads_back_to_the_number():
    damaged = {}
    for i in range(18):
        for d in "0123456789":
            if d != GOOD[i]:
                damaged[f"t{i}{d}"] = GOOD[:i] + d + GOOD[i + 1:]
    for i in range(17):
        if GOOD[i] != GOOD[i + 1]:
            damaged[f"s{i}"] = GOOD[:i] + GOOD[i + 1] + GOOD[i] + GOOD[i + 2:]
    claimed = pd.Series(damaged)
    neighbours = checksum_neighbours(claimed)
    found = set(neighbours.loc[neighbours["candidate"] == GOOD, "index"])
    assert found == set(claimed.index)
    assert neighbours.groupby("index").size().max() <= 36  # the block stays small


def test_old_numbers_one_digit_apart_are_paired():
    persons = pd.DataFrame({"id_number": [GOOD, "310112198504095251", "110105194912310011"],
                            "from_15": [False, True, False]})
    pairs = old15_pairs(persons)
    assert pairs[["left", "right"]].values.tolist() == [[0, 1]]


def _persons(*rows):
    frame = pd.DataFrame(rows, columns=["id_number", "name", "sex", "birth_date", "from_15"])
    frame["birth_date"] = pd.to_datetime(frame["birth_date"])
    return frame


def _loose(*rows):
    return pd.DataFrame(rows, columns=["source_system", "source_key", "claimed_id", "name", "sex",
                                       "birth_date"])


FILLER = [(f"4401011990{m:02d}{d:02d}{s:03d}X", f"路人{m}{d}{s}", "1", f"1990-{m:02d}-{d:02d}", False)
          for m in range(1, 13) for d in range(1, 28) for s in range(3)]


def test_a_typo_with_the_same_name_is_suspected_and_twins_are_not():
    twin = "310112198504095235"  # next sequence number, other check character: a real number
    persons = _persons((GOOD, "黄晨秀", "2", "1985-04-09", False),
                       (twin, "黄晨丽", "2", "1985-04-09", True), *FILLER)
    typo = GOOD[:10] + "9" + GOOD[11:]
    loose = _loose(("medical", "M1", typo, "黄晨秀", "2", "1985-04-09"),
                   ("pension", "7", None, "黃晨秀", "2", "1985-04-09"),  # no number, same person
                   ("pension", "8", None, "黄晨秀", None, None))  # a name alone is not enough
    kept, stats = suspected_duplicates(persons, loose)
    pairs = {frozenset((r.left_key, r.right_key)) for r in kept.itertuples()}
    assert frozenset((GOOD, "medical|M1")) in pairs
    assert frozenset((GOOD, "pension|7")) in pairs
    assert not any("pension|8" in p for p in pairs)
    assert not any(twin in p for p in pairs)
    assert stats["comparisons"] < 20
