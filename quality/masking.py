"""Masking of personal data for anything that leaves the warehouse (reports, logs, errors)."""

from __future__ import annotations

import pandas as pd


def masked_id(value: str | None) -> str:
    """An ID number as its first six and last four characters: 110105********002X."""
    if value is None or value != value:  # None or NaN
        return ""
    text = str(value)
    if len(text) <= 10:
        return "*" * len(text)
    return text[:6] + "*" * (len(text) - 10) + text[-4:]


def masked_name(value: str | None) -> str:
    """A name as its first character and asterisks: 张**."""
    if value is None or value != value:
        return ""
    text = str(value)
    return text[:1] + "*" * (len(text) - 1)


def masked_ids(values: pd.Series) -> pd.Series:
    """Vectorised masked_id."""
    text = values.astype("string")
    long = text.str.len() > 10
    middle = text.str.len().sub(10).clip(lower=0).map(lambda n: "*" * n)
    masked = text.str.slice(0, 6) + middle + text.str.slice(-4)
    short = text.str.replace(r".", "*", regex=True)
    return masked.where(long, short).fillna("")


def masked_key(key: str | None) -> str:
    """A source key ('injury|440100|<the file's ID number>') with every part that holds fifteen
    or more digits (an ID number, old or new, however damaged) masked like one: injury keys embed
    the number as the file holds it. Other keys (M44010000000188) stay readable."""
    if key is None or key != key:
        return ""
    parts = str(key).split("|")
    return "|".join(masked_id(p.strip()) if sum(c.isdigit() for c in p) >= 15 else p
                    for p in parts)
