"""Reconciliation by normalised ID number: golden persons and enrollments from source rows.

The golden record is a pure function of a person's current accepted source rows, so it can be
recomputed for any set of people, in any order, with the same result.
"""

from __future__ import annotations

import pandas as pd

from transforms.survivorship import ORDER, PERSON, Survivorship, prepared, survivors


def bucket_of(id_numbers: pd.Series, buckets: int) -> pd.Series:
    """Stable person bucket: the first 17 digits as a number, modulo the bucket count."""
    return (pd.to_numeric(id_numbers.str.slice(0, 17), errors="coerce") % buckets).astype("int64")


PERSON_COLUMNS = ["id_number", "name", "sex", "ethnicity", "birth_date", "birth_region",
                  "source_rows", "name_source", "sex_source", "ethnicity_source",
                  "birth_date_source"]


def golden_persons(rows: pd.DataFrame, policy: Survivorship | None = None,
                   picks: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per id_number: each attribute chosen by the survivorship rules (after any
    reviewer's pick: id_number, attribute, source), with the source row that supplied it;
    birth region as the ID number encodes it."""
    if rows.empty:
        return pd.DataFrame(columns=PERSON_COLUMNS)
    policy = policy or Survivorship()
    rows = prepared(rows)
    ids = pd.Series(sorted(rows["id_number"].unique()), dtype="string")
    golden = pd.DataFrame({"id_number": ids, "birth_region": ids.str.slice(0, 6)})
    golden["source_rows"] = rows.groupby("id_number").size().reindex(ids).to_numpy()
    for attribute in ("name", "sex", "ethnicity", "birth_date"):
        picked = None
        if picks is not None and not picks.empty:
            mine = picks[picks["attribute"] == attribute]
            picked = pd.Series(mine["source"].to_numpy(), index=mine["id_number"].to_numpy())
        chosen = survivors(rows, attribute, policy, picked).reindex(ids)
        golden[attribute] = chosen["value"].to_numpy()
        golden[f"{attribute}_source"] = chosen["source"].to_numpy()
    return golden[PERSON_COLUMNS]


ENROLLMENT_KEY = ["id_number", "scheme", "pooling_region"]


def golden_enrollments(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per person, scheme and pooling region: the most recently updated source row.
    `source_rows` counts the files merged into it (一人多档 in one system and region)."""
    columns = [*ENROLLMENT_KEY, "status", "pay_status", "employer_id", "enrolled_on",
               "updated_at", "source_system", "source_key", "source_rows", "run_id",
               *(["province"] if "province" in rows.columns else [])]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    kept = [c for c in columns if c != "source_rows"]
    rows = prepared(rows)[[*kept, PERSON, ORDER]]  # only what is kept is reordered
    key = [PERSON, "scheme", "pooling_region"]  # PERSON: the ID, as a number in ID order
    # latest update first; ties in (source_system, source_key) order within a person
    ordered = rows.sort_values(["updated_at", ORDER], ascending=[False, True],
                               na_position="last", kind="stable")
    counts = ordered.groupby(key).size().rename("source_rows")
    latest = ordered.drop_duplicates(key).join(counts, on=key).sort_values(key)
    return latest[columns].reset_index(drop=True)
