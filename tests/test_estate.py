"""The simulator: deterministic per seed, the contract's tables, every damage present."""

from __future__ import annotations

import sqlite3

import pandas as pd

from estate import DAMAGE_RATES, build_estate


def _digest(folder) -> dict:
    out = {"truth": (folder / "truth.csv").read_text("utf-8")}
    for system, table in (("pension", "ac01"), ("medical", "mi_insured"),
                          ("maternity", "sy_cbry"), ("unemployment", "失业参保人员")):
        with sqlite3.connect(folder / f"{system}.db") as conn:
            out[system] = conn.execute(f'SELECT * FROM "{table}" ORDER BY 1').fetchall()
    out["injury"] = {p.relative_to(folder).as_posix(): p.read_bytes()
                     for p in sorted((folder / "injury").rglob("*.csv"))}
    return out


def test_same_seed_same_estate_other_seed_other_estate(tmp_path):
    build_estate(150, 5, tmp_path / "a")
    build_estate(150, 5, tmp_path / "b")
    build_estate(150, 6, tmp_path / "c")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a")["truth"] != _digest(tmp_path / "c")["truth"]


def test_every_damage_of_the_catalogue_is_injected(estate_2000):
    damage = pd.read_csv(estate_2000 / "damage.csv", dtype=str)
    seen = set(damage["damage"])
    expected = {"id_missing", "id_placeholder", "id_typo", "id_swap", "id_fullwidth",
                "id_spaces", "id_trailing_junk", "id_lowercase_x", "id_15_digit",
                "name_traditional", "name_fullwidth_space", "name_trailing_space",
                "name_dot_variant", "name_hostile", "name_gbk_lost", "date_zero",
                "date_impossible", "enrolled_in_future", "enrolled_before_birth", "row_empty",
                "non_resident_cert", "second_file", "duplicate_enrollment", "csv_broken_row",
                "sex_disagrees_with_id", "birth_disagrees_with_id"}
    assert expected <= seen, expected - seen
    # left_active: a mover's file in the province left, only in national estates
    assert set(DAMAGE_RATES) - {"attr_disagrees_with_id", "id_15_digit_old_system",
                                "id_15_digit_other", "csv_truncated_file", "left_active"} <= seen


def test_truth_has_one_row_per_source_row(estate_2000):
    truth = pd.read_csv(estate_2000 / "truth.csv", dtype=str, keep_default_na=False)
    assert not truth.duplicated(["source_system", "source_key"]).any()
    with sqlite3.connect(estate_2000 / "pension.db") as conn:
        keys = {str(k) for (k,) in conn.execute("SELECT aac001 FROM ac01")}
    assert keys == set(truth.loc[truth["source_system"] == "pension", "source_key"])
    assert truth["person_key"].str.fullmatch(r"\d{17}[\dX]").all()
