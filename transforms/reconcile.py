"""Reconciliation by normalised ID number: golden persons and enrollments from source rows.

The golden record is a pure function of a person's current accepted source rows, so it can be
recomputed for any set of people, in any order, with the same result.
"""

from __future__ import annotations

import pandas as pd

from transforms.identity import birth_date_from_id, sex_from_id

TIE_BREAK = ["source_system", "source_key"]


def bucket_of(id_numbers: pd.Series, buckets: int) -> pd.Series:
    """Stable person bucket: the first 17 digits as a number, modulo the bucket count."""
    return (pd.to_numeric(id_numbers.str.slice(0, 17), errors="coerce") % buckets).astype("int64")


def _latest_first(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.sort_values(["updated_at", *TIE_BREAK], ascending=[False, True, True],
                            na_position="last", kind="stable")


def golden_persons(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per id_number: the name most rows agree on (ties: most recently updated), the
    latest stated ethnicity, and sex, birth date and birth region as the ID number encodes them."""
    if rows.empty:
        return pd.DataFrame(columns=["id_number", "name", "sex", "ethnicity", "birth_date",
                                     "birth_region", "source_rows", "name_source"])
    ordered = _latest_first(rows)
    votes = ordered.groupby(["id_number", "name"], sort=False).size().rename("votes")
    ordered = ordered.join(votes, on=["id_number", "name"])
    ordered["_rank"] = range(len(ordered))
    named = (ordered.sort_values(["votes", "_rank"], ascending=[False, True], kind="stable")
             .drop_duplicates("id_number").set_index("id_number"))
    ethnicity = (ordered[ordered["ethnicity"].notna()].drop_duplicates("id_number")
                 .set_index("id_number")["ethnicity"])
    ids = pd.Series(named.index, index=named.index)
    return pd.DataFrame({
        "id_number": ids,
        "name": named["name"],
        "sex": sex_from_id(ids),
        "ethnicity": ethnicity.reindex(named.index),
        "birth_date": birth_date_from_id(ids).dt.date,
        "birth_region": ids.str.slice(0, 6),
        "source_rows": rows.groupby("id_number").size().reindex(named.index),
        "name_source": named["source_system"] + "|" + named["source_key"],
    }).sort_index().reset_index(drop=True)


ENROLLMENT_KEY = ["id_number", "scheme", "pooling_region"]


def golden_enrollments(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per person, scheme and pooling region: the most recently updated source row."""
    columns = [*ENROLLMENT_KEY, "status", "pay_status", "employer_id", "enrolled_on",
               "updated_at", "source_system", "source_key", "run_id"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    latest = _latest_first(rows).drop_duplicates(ENROLLMENT_KEY)
    return latest[columns].sort_values(ENROLLMENT_KEY).reset_index(drop=True)
