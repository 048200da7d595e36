"""The one-number repair (the service's look-up) gives what the vectorised repair gives: over
every raw ID value of a damaged estate (the damage catalogue and the independent corruptor),
and over generated damage."""

from __future__ import annotations

import sqlite3

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from estate import build_estate
from transforms.identity import repaired_id, repaired_ids

VALID = ["110105194912310021", "11010519491231002X", "440106198001010019", "522635197001010013"]


def _both(values: list[str]) -> None:
    vectorised = repaired_ids(pd.Series(values, dtype="string"))
    for value, (_, row) in zip(values, vectorised.iterrows(), strict=True):
        number = None if pd.isna(row["id_number"]) else str(row["id_number"])
        rule = None if pd.isna(row["id_rule"]) else str(row["id_rule"])
        assert repaired_id(value) == (number, rule), repr(value)


def test_every_raw_number_of_a_damaged_estate(tmp_path):
    values = []
    for damage in ("catalogue", "corruptor"):
        folder = tmp_path / damage
        build_estate(400, 5, folder, damage=damage)
        with sqlite3.connect(folder / "pension.db") as conn:
            values += [v for (v,) in conn.execute("SELECT aac002 FROM ac01") if v is not None]
        with sqlite3.connect(folder / "maternity.db") as conn:
            values += [v for (v,) in conn.execute("SELECT sfzh FROM sy_cbry") if v is not None]
    assert len(set(values)) > 500
    _both(values)


def test_hand_picked_forms():
    _both(["", " ", "0", "000000000000000000", "11010519491231002x", "110105 19491231 002X",
           "１１０１０５１９４９１２３１００２Ｘ", "110105\u300019491231002X", "110105491231002",
           "110105491231002 ", "110105491231002X", "11010519491231002X0", "110105194912310022",
           "110105194902300021", "000105194912310021", "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X",
           "11010518791231002X", "abc", "11010519491231002X\t"])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(VALID), st.lists(st.tuples(st.integers(0, 19), st.sampled_from(
    list("0123456789Xx ０１Ｘ\u3000\t-"))), max_size=3), st.booleans())
def test_generated_damage(number, edits, fifteen):
    text = number[:6] + number[8:17] if fifteen else number
    chars = list(text)
    for place, char in edits:
        if place < len(chars):
            chars[place] = char
        else:
            chars.append(char)
    _both(["".join(chars)])
