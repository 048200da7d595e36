"""Review cases a person's own rows raise: attribute conflicts and duplicate enrollments.

Both are pure functions of one person's current rows (like the golden record), so they are
recomputed with it for any set of people. A case's id is a hash of its kind and subject, so a
rerun finds the same case again (and a human decision on it stays attached).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from itertools import groupby

import pandas as pd

from transforms.survivorship import NAME_KEY, id_values, prepared, stated

CASE_COLUMNS = ["case_id", "kind", "id_number", "id_numbers", "attribute", "score", "evidence"]
CASE_ROW_COLUMNS = ["case_id", "source_system", "source_key", "id_number"]
ACTIVE = "1"  # codes/enrollment_status.csv: 正常参保
# A person may hold one basic pension and one basic medical insurance, whichever scheme and
# region (enterprise 110, institution 120 or resident 170 pension; employee 310 or resident 390
# medical), and each other scheme in one region; supplementary medical schemes (320-370) stack.
SCHEME_FAMILY = {"110": "basic_pension", "120": "basic_pension", "170": "basic_pension",
                 "310": "basic_medical", "390": "basic_medical", "210": "unemployment",
                 "410": "work_injury", "510": "maternity"}
CONFLICT_ATTRIBUTES = ("name", "sex", "birth_date")


def case_id(kind: str, *parts: str) -> str:
    digest = hashlib.sha1("|".join([kind, *parts]).encode()).hexdigest()[:16]
    return f"{kind}-{digest}"


def _empty() -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.DataFrame(columns=CASE_COLUMNS), pd.DataFrame(columns=CASE_ROW_COLUMNS)


def _frames(cases: list[dict], rows: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    if not cases:
        return _empty()
    return (pd.DataFrame(cases, columns=CASE_COLUMNS),
            pd.DataFrame(rows, columns=CASE_ROW_COLUMNS).drop_duplicates())


def _statements(rows: pd.DataFrame, attribute: str) -> pd.DataFrame:
    """Rows stating `attribute`: value, compared form, and what the ID says (NA for names)."""
    rows = rows[stated(rows[attribute], attribute)]
    value = rows[attribute]
    statements = rows[["id_number", "source_system", "source_key"]]
    if attribute == "name":
        compared = rows[NAME_KEY]
        id_says = pd.Series(pd.NA, index=rows.index, dtype="string")
    else:
        compared = value.astype("string")
        id_says = id_values(rows["id_number"], attribute).astype("string")
    # prepared: in (id_number, source_system, source_key) order already
    return statements.assign(value=value.astype("string"), compared=compared, id_says=id_says)


def _records_by(frame: pd.DataFrame, keys: list[str]) -> Iterator[tuple[tuple, list[dict]]]:
    """Plain-Python groups of a sorted frame's records (for the few rows that open cases;
    pandas group objects cost more per group than these whole loops)."""
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return ((key, list(group)) for key, group in
            groupby(records, key=lambda r: tuple(r[k] for k in keys)))


def national(rows: pd.DataFrame) -> bool:
    """Whether these are the national tier's rows (they name their province): its cases are
    those between provinces, each province's own being the province's."""
    return "province" in rows.columns and bool(rows["province"].notna().any())


def attribute_conflicts(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cases for people whose rows disagree on name, sex or birth date, among themselves or
    with what the ID number encodes; names are compared by name key (张偉 = 张伟). At the
    national tier: rows of two provinces that disagree."""
    cases, case_rows = [], []
    rows = prepared(rows)
    across = national(rows)
    for attribute in CONFLICT_ATTRIBUTES:
        stated = _statements(rows, attribute)
        by_person = stated.groupby("id_number")
        disagree = by_person["compared"].nunique() > 1
        if across:  # two values and two provinces: some two rows of two provinces disagree
            provinces = rows.loc[stated.index, "province"].groupby(stated["id_number"]).nunique()
            conflicted = disagree.index[disagree & (provinces.reindex(disagree.index) > 1)]
        else:
            contradicts = (stated["id_says"].notna() & (stated["compared"] != stated["id_says"])
                           ).groupby(stated["id_number"]).any()
            conflicted = disagree.index[disagree | contradicts.reindex(disagree.index)]
        for (id_number,), group in _records_by(stated[stated["id_number"].isin(conflicted)],
                                               ["id_number"]):
            values: dict[str, dict] = {}
            for row in group:
                entry = values.setdefault(row["compared"], {"value": row["value"], "rows": []})
                entry["rows"].append(f"{row['source_system']}|{row['source_key']}")
            evidence = {"attribute": attribute,
                        "values": sorted(values.values(), key=lambda v: v["value"])}
            if attribute != "name":
                evidence["id_says"] = group[0]["id_says"]
            cid = case_id("attribute_conflict", id_number, attribute)
            cases.append({"case_id": cid, "kind": "attribute_conflict", "id_number": id_number,
                          "id_numbers": json.dumps([id_number]), "attribute": attribute,
                          "score": None, "evidence": json.dumps(evidence, ensure_ascii=False)})
            case_rows += [{"case_id": cid, "source_system": r["source_system"],
                           "source_key": r["source_key"], "id_number": id_number}
                          for r in group]
    return _frames(cases, case_rows)


def duplicate_enrollments(enrollments: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cases for people with two or more active enrollments in one scheme family (重复参保):
    the same scheme in two pooling regions, or two basic pension or basic medical schemes. At
    the national tier: active in one family in two provinces (the evidence names both)."""
    active = enrollments[enrollments["status"] == ACTIVE].assign(
        family=enrollments["scheme"].map(SCHEME_FAMILY))
    active = active[active["family"].notna()]
    across = national(enrollments)
    grouped = active.groupby(["id_number", "family"])
    doubled = (grouped["province"].transform("nunique") if across
               else grouped["scheme"].transform("size")) > 1
    if not doubled.any():
        return _empty()
    chosen = active.loc[doubled, ["id_number", "family", "scheme", "pooling_region",
                                  "source_system", "source_key", "enrolled_on",
                                  *(["province"] if across else [])]]
    chosen = chosen.assign(enrolled_on=chosen["enrolled_on"].astype("string").str.slice(0, 10))
    chosen = chosen.sort_values(["id_number", "family", "scheme", "pooling_region"])
    cases, case_rows = [], []
    for (id_number, family), group in _records_by(chosen, ["id_number", "family"]):
        cid = case_id("duplicate_enrollment", id_number, family)
        evidence = {"scheme_family": family, "enrollments": [
            {"scheme": r["scheme"], "pooling_region": r["pooling_region"],
             "source": f"{r['source_system']}|{r['source_key']}",
             "enrolled_on": r["enrolled_on"], **({"province": r["province"]} if across else {})}
            for r in group]}
        if across:
            evidence["provinces"] = sorted({r["province"] for r in group})
        cases.append({"case_id": cid, "kind": "duplicate_enrollment", "id_number": id_number,
                      "id_numbers": json.dumps([id_number]), "attribute": family, "score": None,
                      "evidence": json.dumps(evidence, ensure_ascii=False)})
        case_rows += [{"case_id": cid, "source_system": r["source_system"],
                       "source_key": r["source_key"], "id_number": id_number} for r in group]
    return _frames(cases, case_rows)


def person_cases(rows: pd.DataFrame, enrollments: pd.DataFrame
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every case the given people's own rows raise."""
    found = [attribute_conflicts(rows), duplicate_enrollments(enrollments)]
    found = [f for f in found if not f[0].empty]
    if not found:
        return _empty()
    return (pd.concat([f[0] for f in found], ignore_index=True),
            pd.concat([f[1] for f in found], ignore_index=True))
