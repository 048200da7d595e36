"""Suspected duplicates: entities whose ID numbers differ but which are probably one person.

An entity is a golden person (its ID number), or a source row quarantined for its ID number
(checksum, missing, placeholder, malformed, impossible birth date or area code). Candidate pairs
come from three blocks, each near-linear in the number of entities:

    checksum   a row whose 18 characters fail the check: every number one substitution or one
               adjacent swap away that passes it (at most ~35), looked up among the persons
    old15      a person whose number was upgraded from 15 digits (a typo there still passes the
               check): persons whose 15-digit forms differ in one digit or one adjacent swap
    name_born  the same name key and birth date (rows without a usable number)

Two numbers that both pass the check and came as 18 digits are never paired by number: MOD 11-2
catches every single typo and adjacent swap, so they are two people (twins differ by one).

Pairs are scored Fellegi-Sunter style: the sum of log2(m/u) over the comparisons, where m is the
chance of the observed agreement for one person and u for two different people. The m values are
fixed judgements about clerical error (below); the u values of names and birth dates are their
frequencies among the persons (a common name is weak evidence). A pair becomes a case when its
weight reaches log2(persons): even odds that it is a match, for a prior of one true partner among
all persons. Nothing here merges anyone: cases wait for a reviewer.
"""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd

from schemas.identity import CHECK_CHARS, WEIGHTS
from transforms.names import name_keys, pinyin_keys

# m: P(agreement level | same person); u: P(level | different people), where not from the data.
M_ONE_EDIT, U_ONE_EDIT = 0.9, 1e-4  # a typo'd number lands next to its own; rarely next to a stranger's
M_FAR_IDS = 0.1  # both numbers present, more than one edit apart
M_NAME_SAME, M_NAME_SOUND, M_NAME_OTHER = 0.9, 0.05, 0.05
M_BIRTH_SAME, M_BIRTH_OTHER = 0.95, 0.05
M_SEX_SAME, U_SEX_SAME = 0.97, 0.5

CASE_KIND = "suspected_duplicate"


def _digits(numbers: pd.Series, width: int = 17) -> np.ndarray:
    """Digit strings of one width as an (n, width) array of digits."""
    return np.frombuffer("".join(numbers).encode(), dtype=np.uint8).reshape(-1, width) - 48


CHECK_BYTES = np.frombuffer("".join(CHECK_CHARS).encode(), dtype=np.uint8)


def checksum_neighbours(claimed: pd.Series) -> pd.DataFrame:
    """For 18-character numbers that fail the check: every number one substitution or one
    adjacent swap away that passes it. Columns: index (of `claimed`), candidate, edit."""
    ok = claimed.str.fullmatch(r"\d{17}[\dX]").fillna(False).astype(bool)
    numbers = claimed[ok]
    if numbers.empty:
        return pd.DataFrame(columns=["index", "candidate", "edit"])
    chars = np.frombuffer("".join(numbers).encode(), dtype=np.uint8).reshape(-1, 18)
    digits = chars[:, :17].astype(np.int64) - 48
    weights = np.array(WEIGHTS, dtype=np.int64)
    sums = digits @ weights
    given = chars[:, 17]
    index = numbers.index.to_numpy()
    out = []

    def emit(rows: np.ndarray, edited: np.ndarray, edit: str) -> None:
        texts = np.ascontiguousarray(edited).view("S18").ravel().astype(str)
        out.append(pd.DataFrame({"index": index[rows], "candidate": texts, "edit": edit}))

    def swapped(rows: np.ndarray, i: int) -> np.ndarray:
        edited = chars[rows].copy()
        edited[:, [i, i + 1]] = edited[:, [i + 1, i]]
        return edited

    for i in range(17):  # one digit mistyped
        for d in range(10):
            new = sums + weights[i] * (d - digits[:, i])
            hit = np.nonzero((digits[:, i] != d) & (CHECK_BYTES[new % 11] == given))[0]
            if len(hit):
                edited = chars[hit].copy()
                edited[:, i] = 48 + d
                emit(hit, edited, f"digit{i + 1}")
    edited = chars.copy()  # the check character itself mistyped
    edited[:, 17] = CHECK_BYTES[sums % 11]
    emit(np.arange(len(numbers)), edited, "digit18")
    for i in range(16):  # two adjacent digits swapped
        a, b = digits[:, i], digits[:, i + 1]
        new = sums + weights[i] * (b - a) + weights[i + 1] * (a - b)
        hit = np.nonzero((a != b) & (CHECK_BYTES[new % 11] == given))[0]
        if len(hit):
            emit(hit, swapped(hit, i), f"swap{i + 1}")
    # the 17th digit swapped with a check character that is a digit
    movable = (given != ord("X")) & (given != chars[:, 16])
    moved = given.astype(np.int64) - 48
    new = sums + weights[16] * (moved - digits[:, 16])
    hit = np.nonzero(movable & (CHECK_BYTES[new % 11] == chars[:, 16]))[0]
    if len(hit):
        emit(hit, swapped(hit, 16), "swap17")
    return pd.concat(out, ignore_index=True)


def _form15(id_numbers: pd.Series) -> np.ndarray:
    """The 15-digit form (area, YYMMDD, sequence) of 19xx numbers, as digit rows."""
    return _digits(id_numbers.str.slice(0, 6) + id_numbers.str.slice(8, 17), 15)


def old15_pairs(persons: pd.DataFrame) -> pd.DataFrame:
    """Pairs (left, right: person row positions) whose 15-digit forms differ by one digit or
    one adjacent swap, at least one of them upgraded from 15 digits."""
    born19 = persons["id_number"].str.slice(6, 8) == "19"
    ids = persons.loc[born19, "id_number"]
    if ids.empty:
        return pd.DataFrame(columns=["left", "right", "edit"])
    digits = _form15(ids).astype(np.int64)
    positions = np.nonzero(born19.to_numpy())[0]
    probe = persons.loc[born19, "from_15"].to_numpy()
    powers = 10 ** np.arange(14, -1, -1, dtype=np.int64)
    value = digits @ powers
    found = []
    for i in range(15):
        key = value - digits[:, i] * powers[i]
        found.append(_same_key(key, probe, positions, f"digit{i + 1}"))
    for i in range(14):
        low, high = np.minimum(digits[:, i], digits[:, i + 1]), np.maximum(digits[:, i],
                                                                            digits[:, i + 1])
        key = (value - digits[:, i] * powers[i] - digits[:, i + 1] * powers[i + 1]
               + low * powers[i] + high * powers[i + 1])
        found.append(_same_key(key, probe, positions, f"swap{i + 1}"))
    pairs = pd.concat(found, ignore_index=True)
    return pairs.drop_duplicates(["left", "right"])


def _same_key(key: np.ndarray, probe: np.ndarray, positions: np.ndarray, edit: str
              ) -> pd.DataFrame:
    frame = pd.DataFrame({"key": key, "pos": positions, "probe": probe})
    return _pairs_sharing(frame, ["key"], edit)


def _pairs_sharing(frame: pd.DataFrame, on: list[str], edit) -> pd.DataFrame:
    """Pairs (left < right) of `pos` values whose rows share the `on` columns, at least one of
    them a `probe` row."""
    joined = frame[frame["probe"]].merge(frame, on=on, suffixes=("_p", ""))
    joined = joined[joined["pos_p"] != joined["pos"]]
    return pd.DataFrame({"left": np.minimum(joined["pos_p"], joined["pos"]).to_numpy(),
                         "right": np.maximum(joined["pos_p"], joined["pos"]).to_numpy(),
                         "edit": edit})


def _frequency(values: pd.Series, population: pd.Series) -> pd.Series:
    """How often each value occurs among the persons (at least once: a value of one)."""
    counts = population.value_counts()
    total = max(len(population), 1)
    return values.map(counts).fillna(1).clip(lower=1).astype(float) / total


def scored(pairs: pd.DataFrame, entities: pd.DataFrame, persons: pd.DataFrame) -> pd.DataFrame:
    """Weights of candidate pairs (left, right: entity positions; edit: how their numbers
    differ, or NA). Adds the comparison levels and the total `weight`."""
    left = entities.iloc[pairs["left"].to_numpy()].reset_index(drop=True)
    right = entities.iloc[pairs["right"].to_numpy()].reset_index(drop=True)
    out = pairs.reset_index(drop=True).copy()
    edit = out["edit"].notna().to_numpy()
    both_ids = (left["number"].notna() & right["number"].notna()).to_numpy()
    out["w_id"] = np.where(edit, math.log2(M_ONE_EDIT / U_ONE_EDIT),
                           np.where(both_ids, math.log2(M_FAR_IDS), 0.0))

    same_name = (left["name_key"] == right["name_key"]).fillna(False).to_numpy()
    # pinyin only where the names differ (it costs ~30 us a name); a homophone is taken to be
    # as common as the name itself, a conservative u
    differ = ~same_name
    same_sound = np.zeros(len(out), dtype=bool)
    if differ.any():
        same_sound[differ] = (pinyin_keys(left["name_key"][differ])
                              == pinyin_keys(right["name_key"][differ])).fillna(False).to_numpy()
    u_name = _frequency(left["name_key"], persons["name_key"]).to_numpy()
    u_sound = u_name
    known = (left["name_key"].notna() & right["name_key"].notna()).to_numpy()
    out["name"] = np.where(same_name, "same", np.where(same_sound, "sound", "other"))
    out["w_name"] = np.where(~known, 0.0, np.where(
        same_name, np.log2(M_NAME_SAME / u_name),
        np.where(same_sound, np.log2(M_NAME_SOUND / u_sound), math.log2(M_NAME_OTHER))))

    # a number one edit away already carries birth date and sex: count them once
    born_known = (left["birth_date"].notna() & right["birth_date"].notna()).to_numpy() & ~edit
    same_born = (left["birth_date"] == right["birth_date"]).fillna(False).to_numpy()
    u_born = _frequency(left["birth_date"], persons["birth_date"]).to_numpy()
    out["w_birth"] = np.where(~born_known, 0.0, np.where(
        same_born, np.log2(M_BIRTH_SAME / u_born), math.log2(M_BIRTH_OTHER)))
    sex_known = (left["sex"].notna() & right["sex"].notna()).to_numpy() & ~edit
    same_sex = (left["sex"] == right["sex"]).fillna(False).to_numpy()
    out["w_sex"] = np.where(~sex_known, 0.0, np.where(
        same_sex, math.log2(M_SEX_SAME / U_SEX_SAME), math.log2((1 - M_SEX_SAME) / U_SEX_SAME)))
    out["weight"] = out[["w_id", "w_name", "w_birth", "w_sex"]].sum(axis=1)
    return out


def entities_of(persons: pd.DataFrame, loose: pd.DataFrame) -> pd.DataFrame:
    """Persons then loose rows, with comparison columns: key, number (a usable ID or NA),
    name_key, birth_date, sex."""
    people = pd.DataFrame({
        "key": persons["id_number"], "number": persons["id_number"], "name": persons["name"],
        "birth_date": persons["birth_date"], "sex": persons["sex"], "person": True})
    rows = pd.DataFrame({
        "key": loose["source_system"] + "|" + loose["source_key"], "number": loose["claimed_id"],
        "name": loose["name"], "birth_date": loose["birth_date"], "sex": loose["sex"],
        "person": False})
    entities = pd.concat([people, rows], ignore_index=True)
    entities["birth_date"] = pd.to_datetime(entities["birth_date"], errors="coerce")
    entities["sex"] = entities["sex"].where(entities["sex"].isin(["1", "2"]))
    entities["name_key"] = name_keys(entities["name"])
    return entities


def candidate_pairs(persons: pd.DataFrame, entities: pd.DataFrame) -> pd.DataFrame:
    """Candidate pairs of entity positions (left < right) from the three blocks."""
    n_persons = len(persons)
    found = []
    position = pd.Series(np.arange(n_persons), index=pd.Index(
        persons["id_number"].to_numpy(dtype=object)))
    loose = entities.iloc[n_persons:]
    neighbours = checksum_neighbours(loose["number"].dropna())
    hit = neighbours[position.index.get_indexer(neighbours["candidate"]) >= 0]
    found.append(pd.DataFrame({"left": position[hit["candidate"]].to_numpy(),
                               "right": hit["index"].to_numpy(), "edit": hit["edit"].to_numpy()}))
    found.append(old15_pairs(persons))
    named = entities[entities["name_key"].notna() & entities["birth_date"].notna()]
    block = pd.DataFrame({"pos": named.index.to_numpy(), "name_key": named["name_key"].to_numpy(),
                          "born": named["birth_date"].to_numpy(),
                          "probe": ~named["person"].to_numpy()})  # rows without a number
    found.append(_pairs_sharing(block, ["name_key", "born"], pd.NA))
    found = [f for f in found if not f.empty]
    if not found:
        return pd.DataFrame(columns=["left", "right", "edit"])
    pairs = pd.concat(found, ignore_index=True)
    # a pair found by number keeps its edit; by name and birth date only, none
    pairs = pairs.sort_values("edit", na_position="last").drop_duplicates(["left", "right"])
    return pairs.reset_index(drop=True)


def suspected_duplicates(persons: pd.DataFrame, loose: pd.DataFrame
                         ) -> tuple[pd.DataFrame, dict]:
    """Scored candidate pairs at or above the threshold, and the blocking statistics.

    persons: id_number, name, sex, birth_date, from_15 (any row's number was 15 digits).
    loose: source rows quarantined for their ID: source_system, source_key, claimed_id, name,
    sex, birth_date."""
    persons = persons.reset_index(drop=True)
    entities = entities_of(persons, loose)
    persons = persons.assign(name_key=entities["name_key"].iloc[:len(persons)].to_numpy(),
                             birth_date=entities["birth_date"].iloc[:len(persons)].to_numpy())
    pairs = candidate_pairs(persons, entities)
    threshold = math.log2(max(len(persons), 2))
    weights = scored(pairs, entities, persons) if not pairs.empty else pairs.assign(weight=[])
    kept = weights[weights["weight"] >= threshold].copy()
    kept["left_key"] = entities["key"].iloc[kept["left"].to_numpy()].to_numpy()
    kept["right_key"] = entities["key"].iloc[kept["right"].to_numpy()].to_numpy()
    kept["left_person"] = entities["person"].iloc[kept["left"].to_numpy()].to_numpy()
    kept["right_person"] = entities["person"].iloc[kept["right"].to_numpy()].to_numpy()
    stats = {"entities": len(entities), "persons": len(persons), "comparisons": len(pairs),
             "cases": len(kept), "threshold": round(threshold, 2)}
    return kept, stats


def case_frames(kept: pd.DataFrame, rows_of: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """review_case and review_case_row frames of the kept pairs. rows_of: the accepted rows of
    the persons concerned (id_number, source_system, source_key)."""
    columns = ["case_id", "kind", "id_number", "id_numbers", "attribute", "score", "evidence"]
    if kept.empty:
        return (pd.DataFrame(columns=columns),
                pd.DataFrame(columns=["case_id", "source_system", "source_key", "id_number"]))
    swap = (kept["left_key"] > kept["right_key"]).to_numpy()
    first = np.where(swap, kept["right_key"], kept["left_key"])
    second = np.where(swap, kept["left_key"], kept["right_key"])
    first_person = np.where(swap, kept["right_person"], kept["left_person"]).astype(bool)
    second_person = np.where(swap, kept["left_person"], kept["right_person"]).astype(bool)
    case_ids = [CASE_KIND + "-" + hashlib.sha1(f"{a}|{b}".encode()).hexdigest()[:16]
                for a, b in zip(first, second, strict=True)]
    ids = [[k for k, is_person in ((a, pa), (b, pb)) if is_person]
           for a, b, pa, pb in zip(first, second, first_person, second_person, strict=True)]
    weights = kept[["w_id", "w_name", "w_birth", "w_sex"]].round(2).to_dict("records")
    evidence = [json.dumps({"entities": [a, b], "number_edit": None if pd.isna(e) else e,
                            "name": n, "weights": w}, ensure_ascii=False)
                for a, b, e, n, w in zip(first, second, kept["edit"], kept["name"], weights,
                                         strict=True)]
    cases = pd.DataFrame({
        "case_id": case_ids, "kind": CASE_KIND,
        "id_number": [i[0] if i else None for i in ids],
        "id_numbers": [json.dumps(i) for i in ids], "attribute": None,
        "score": kept["weight"].round(2).to_numpy(), "evidence": evidence})
    ends = pd.DataFrame({"case_id": case_ids * 2, "key": np.concatenate([first, second]),
                         "person": np.concatenate([first_person, second_person])})
    people = ends[ends["person"]].merge(rows_of, left_on="key", right_on="id_number")
    rows = ends[~ends["person"]]
    split = rows["key"].str.split("|", n=1, expand=True)
    loose = pd.DataFrame({"case_id": rows["case_id"].to_numpy(),
                          "source_system": split[0].to_numpy() if len(rows) else [],
                          "source_key": split[1].to_numpy() if len(rows) else [],
                          "id_number": None})
    case_rows = pd.concat([people[["case_id", "source_system", "source_key", "id_number"]],
                           loose], ignore_index=True).drop_duplicates()
    return cases[columns], case_rows
