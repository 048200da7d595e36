"""The records linkage compares: entities, each a golden person (its ID number) or a source row
quarantined for its ID number (it has no person), with the columns the comparisons and the
blocking rules read. Derived once per entity, vectorised or once per distinct value.

    unique_id       the person's number, or source_system|source_key of the row
    is_person       1 for a person, 0 for a row
    id_number       the 18 characters the entity has, or claims (NULL: none readable)
    id_area, id_birth, id_tail   digits 1-6, 7-14 and 15-17 of it
    name_key        the name in simplified characters, without dots and spaces
    name_pinyin     its toneless pinyin ('zhang wei'), per character
    surname, given  the first character of the key, and the rest
    surname_pinyin  the pinyin of the first character
    name_tokens     the name's words in sorted order ('买买提 阿依古丽'), for names written in
                    another order
    name_chars      the key's characters in sorted order (a given name written first)
    birth           the birth date as 'YYYYMMDD'
    birth_ym, birth_yd  two of its three parts: 'YYYYMM' and 'YYYYDD'
    sex             '1' | '2' (anything else: NULL)
    region, employer  the pooling region and employer of the entity's latest row
    changed         1 when the run being matched added or changed the entity
"""

from __future__ import annotations

from functools import cache

import pandas as pd
import pyarrow as pa

from transforms.names import name_keys

STRING = pd.StringDtype("pyarrow")
COLUMNS = ("unique_id", "is_person", "id_number", "id_area", "id_birth", "id_tail", "name_key",
           "name_pinyin", "surname", "given", "surname_pinyin", "name_tokens", "name_chars", "birth",
           "birth_ym", "birth_yd", "sex", "region", "employer", "changed")


@cache
def _syllable(char: str) -> str:
    from pypinyin import lazy_pinyin

    return lazy_pinyin(char)[0]


def pinyin_of(keys: pd.Series) -> pd.Series:
    """Toneless pinyin of name keys, character by character (a character's reading is looked up
    once, a name once): 'zhang wei'."""
    distinct = keys.dropna().unique()
    mapping = {k: " ".join(_syllable(c) for c in k) for k in distinct}
    return keys.map(mapping).astype(STRING)


def _sorted_chars(keys: pd.Series) -> pd.Series:
    distinct = keys.dropna().unique()
    return keys.map({k: "".join(sorted(k)) for k in distinct}).astype(STRING)


def _tokens(names: pd.Series) -> pd.Series:
    distinct = names.dropna().unique()
    mapping = {n: " ".join(sorted(t for t in n.replace("·", " ").split() if t))
               for n in distinct}
    return names.map(mapping).astype(STRING)


def _misplaced(frame: pd.DataFrame) -> pd.DataFrame:
    """Values in the wrong field, put back: a name field that holds an ID number (and an ID
    field that holds none) gives the number and no name."""
    shaped = r"\d{17}[\dXx]|\d{15}"
    in_name = frame["name"].str.strip().str.fullmatch(shaped).fillna(False).astype(bool)
    id_empty = ~frame["id_number"].str.fullmatch(shaped).fillna(False).astype(bool)
    moved = in_name & id_empty
    if moved.any():
        frame = frame.copy()
        frame.loc[moved, "id_number"] = frame.loc[moved, "name"].str.strip().str.upper()
    frame.loc[in_name, "name"] = pd.NA
    return frame


def entity_frame(persons: pd.DataFrame, loose: pd.DataFrame,
                 changed: set[str] | None = None) -> pd.DataFrame:
    """persons: id_number, name, sex, birth_date, region, employer (one row per person);
    loose: source_system, source_key, claimed_id, name, sex, birth_date, pooling_region,
    employer_id (rows quarantined for their ID). `changed`: the unique ids the current run
    added or changed (None: all of them)."""
    people = pd.DataFrame({
        "unique_id": persons["id_number"], "is_person": 1, "id_number": persons["id_number"],
        "name": persons["name"], "sex": persons["sex"], "birth_date": persons["birth_date"],
        "region": persons["region"], "employer": persons["employer"]})
    rows = pd.DataFrame({
        "unique_id": loose["source_system"] + "|" + loose["source_key"], "is_person": 0,
        "id_number": loose["claimed_id"], "name": loose["name"], "sex": loose["sex"],
        "birth_date": loose["birth_date"], "region": loose["pooling_region"],
        "employer": loose["employer_id"]})
    frame = pd.concat([people, rows], ignore_index=True)
    for column in ("unique_id", "id_number", "name", "sex", "region", "employer"):
        frame[column] = frame[column].astype(STRING)
    frame = _misplaced(frame)
    shaped = frame["id_number"].str.fullmatch(r"\d{17}[\dX]").fillna(False).astype(bool)
    placeholder = frame["id_number"].str.fullmatch(r"(\d)\1{16}.").fillna(False).astype(bool)
    number = frame["id_number"].where(shaped & ~placeholder)  # 000000000000000000 says nothing
    born = pd.to_datetime(frame["birth_date"], errors="coerce")
    key = name_keys(frame["name"]).replace("", pd.NA)
    out = pd.DataFrame({
        "unique_id": frame["unique_id"], "is_person": frame["is_person"].astype("int8"),
        "id_number": number, "id_area": number.str.slice(0, 6),
        "id_birth": number.str.slice(6, 14), "id_tail": number.str.slice(14, 17),
        "name_key": key, "name_pinyin": pinyin_of(key),
        "surname": key.str.slice(0, 1), "given": key.str.slice(1).replace("", pd.NA),
        "name_tokens": _tokens(frame["name"].str.strip()),
        "name_chars": _sorted_chars(key),
        "birth": pd.Series(born.dt.strftime("%Y%m%d"), dtype=STRING),
        "sex": frame["sex"].where(frame["sex"].isin(["1", "2"])),
        "region": frame["region"].str.strip().replace("", pd.NA),
        "employer": frame["employer"].str.strip().replace("", pd.NA)})
    out["surname_pinyin"] = pinyin_of(out["surname"])
    out["birth_ym"] = out["birth"].str.slice(0, 6)
    out["birth_yd"] = out["birth"].str.slice(0, 4) + out["birth"].str.slice(6, 8)
    out["changed"] = (1 if changed is None else
                      out["unique_id"].isin(list(changed)).astype("int8"))
    out = out.drop_duplicates("unique_id").sort_values("unique_id")  # whatever order read
    return out[list(COLUMNS)].reset_index(drop=True)


def as_arrow(entities: pd.DataFrame) -> pa.Table:
    """The entity frame as Arrow (what Splink's DuckDB backend registers)."""
    return pa.Table.from_pandas(entities, preserve_index=False)
