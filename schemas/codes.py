"""Unified code tables (GB/T 2261.1, GB/T 3304, AAE140, AAC008, AAC031) and GB/T 2260 area codes."""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

TABLES = ("sex", "ethnicity", "scheme", "enrollment_status", "pay_status", "province")


@cache
def code_table(name: str, label: str = "label_zh") -> dict[str, str]:
    """Code -> label (Chinese; `label="label_en"`: English) for one unified code table."""
    if name not in TABLES:
        raise KeyError(f"unknown code table {name!r}; known: {', '.join(TABLES)}")
    text = resources.files("schemas").joinpath("codes", f"{name}.csv").read_text("utf-8")
    return {row["code"]: row[label] for row in csv.DictReader(text.splitlines())}


@cache
def ethnicity_by_name() -> dict[str, str]:
    """Chinese ethnicity name ('汉族', also without the 族 suffix) -> two-digit code."""
    names = {}
    for code, label in code_table("ethnicity").items():
        names[label] = code
        if label.endswith("族") and len(label) > 2:
            names[label[:-1]] = code
    return names


@cache
def area_codes() -> frozenset[str]:
    """Every six-digit GB/T 2260 code ever assigned, from python-stdnum's table.

    Numbers were issued with the codes current at issue time, so a code retired since, or created
    after the birth year, is normal: the standard asks for "ever assigned", not "valid that year".
    """
    from stdnum import numdb

    codes = set()
    for _, province, _, _, counties in numdb.get("cn/loc").prefixes:
        for _, low, high, _, _ in counties:
            if low == high:
                codes.add(province + low)
            else:  # a range of county codes in one line
                codes.update(f"{province}{n:04d}" for n in range(int(low), int(high) + 1))
    return frozenset(codes)


@cache
def county_codes() -> tuple[str, ...]:
    """Area codes of counties and districts (not the province or city aggregate rows)."""
    return tuple(sorted(c for c in area_codes() if not c.endswith("00")))


@cache
def area_name(code: str) -> str:
    """The name GB/T 2260 gives a six-digit code ('440106' -> 天河区), '' if it gives none."""
    from stdnum import numdb

    found = dict(numdb.get("cn/loc").info(code)[-1][1]) if len(code) == 6 else {}
    name = found.get("county") or found.get("prefecture") or found.get("province") or ""
    return name.split("]")[-1]  # '[1985-]天河区': the years the code was valid, then the name


@cache
def _value_set(codes: frozenset[str]) -> pa.Array:
    return pa.array(sorted(codes), pa.string())


def in_codes(values: pd.Series, codes: frozenset[str]) -> pd.Series:
    """Whether each value is one of `codes` (False for a missing value). pandas' isin on Arrow
    strings converts the codes to Python objects on every call: 40 ms for the area codes, per
    batch, whatever its size."""
    found = pc.is_in(pa.array(values, pa.string(), from_pandas=True), value_set=_value_set(codes))
    return pd.Series(found.to_numpy(zero_copy_only=False), index=values.index, dtype=bool)
