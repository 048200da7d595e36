"""Row rules of the unified standard: each a name, what it means, and a vectorised check.

A standardised source row that fails any rule is quarantined under every rule it fails; a row
that fails none is accepted. Rules read the columns made by transforms.standardize.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from schemas.codes import area_codes, code_table, in_codes
from schemas.fields import SOURCE_ROW
from schemas.identity import ID_RULES, birth_date_from_id

Check = Callable[[pd.DataFrame], pd.Series]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    fails: Check
    """Boolean mask of the rows that break the rule."""


def _blank(values: pd.Series) -> pd.Series:
    return values.isna() | (values.astype("string").str.strip() == "")


def _id_rule(name: str) -> Check:
    return lambda df: (df["id_rule"] == name).fillna(False) & ~_row_empty(df) & ~_not_citizen(df)


def _row_empty(df: pd.DataFrame) -> pd.Series:
    return _blank(df["id_raw"]) & _blank(df["name_raw"])


def _not_citizen(df: pd.DataFrame) -> pd.Series:
    return df["cert_type"].notna() & (df["cert_type"].str.strip() != "01")


def _extract(name: str) -> Check:
    return lambda df: (df["_extract_rule"] == name).fillna(False)


def _not_in(column: str, table: str) -> Check:
    codes = frozenset(code_table(table))
    return lambda df: ~in_codes(df[column], codes)


def _enrolled_out_of_range(df: pd.DataFrame) -> pd.Series:
    bad_text = df["enrolled_on"].isna() & ~_blank(df["enrolled_on_raw"])
    birth = birth_date_from_id(df["id_number"])
    before_birth = (df["enrolled_on"] < birth).fillna(False)
    after_record = (df["enrolled_on"] > df["updated_at"]).fillna(False)
    return bad_text | before_birth | after_record


EXTRACT_RULES = ("csv_field_count", "csv_unbalanced_quote", "duplicate_source_key",
                 "source_key_missing", "text_invalid_encoding", "field_oversized")


def _too_long(name: str, length: int) -> Check:
    return lambda df: (df[name].str.len() > length).fillna(False)


def _in_future(df: pd.DataFrame) -> pd.Series:
    if "_as_of" not in df:
        return pd.Series(False, index=df.index)
    return (df["updated_at"] > df["_as_of"]).fillna(False)

RULES: tuple[Rule, ...] = (
    Rule("csv_field_count", "export row has the wrong number of fields (broken or truncated line)",
         _extract("csv_field_count")),
    Rule("csv_unbalanced_quote", "export line opens a quote that never closes (the line alone is "
         "kept as the broken row)", _extract("csv_unbalanced_quote")),
    Rule("duplicate_source_key", "another row has the same source key (in one export file, or "
         "in a legacy table without a key constraint)", _extract("duplicate_source_key")),
    Rule("source_key_missing", "the legacy row has no source key (its key is made from its "
         "content)", _extract("source_key_missing")),
    Rule("text_invalid_encoding", "a value is not valid text in its encoding (kept with the bytes "
         "escaped)", _extract("text_invalid_encoding")),
    Rule("field_oversized", "a value is longer than any legacy field holds (kept, cut short)",
         _extract("field_oversized")),
    Rule("row_empty", "neither an ID number nor a name: nothing usable", _row_empty),
    Rule("id_not_citizen", "certificate type is not a resident ID card (passport, other)",
         lambda df: _not_citizen(df) & ~_row_empty(df)),
    *(Rule(name, f"ID number: {name.removeprefix('id_').replace('_', ' ')} (GB 11643-1999)",
           _id_rule(name)) for name in ID_RULES),
    Rule("name_missing", "name is empty after normalisation",
         lambda df: _blank(df["name"]) & ~_row_empty(df)),
    Rule("name_control_chars", "name holds control characters",
         lambda df: df["name"].str.contains(r"[\x00-\x1f\x7f]", regex=True).fillna(False)),
    Rule("name_lossy_encoding", "name holds '?' or U+FFFD: a character lost in an encoding round trip",
         lambda df: df["name"].str.contains(r"[?\ufffd]", regex=True).fillna(False)),
    Rule("name_too_long", "name longer than 50 characters",
         lambda df: (df["name"].str.len() > 50).fillna(False)),
    Rule("scheme_unknown", "insurance scheme code not in AAE140", _not_in("scheme", "scheme")),
    Rule("status_unmapped", "enrollment status not in the source's code table",
         _not_in("status", "enrollment_status")),
    Rule("pay_status_unknown", "payment status not in AAC031",
         lambda df: df["pay_status"].notna() & _not_in("pay_status", "pay_status")(df)),
    Rule("pooling_region_invalid", "pooling region is not a GB/T 2260 code",
         lambda df: ~in_codes(df["pooling_region"], area_codes())),
    Rule("enrolled_on_out_of_range", "enrollment date unreadable, before birth or after the record",
         _enrolled_out_of_range),
    *(Rule(f"{f.name}_too_long", f"{f.name} longer than its {f.length} characters",
           _too_long(f.name, f.length))
      for f in SOURCE_ROW if f.kind == "varchar" and f.length and f.name != "name"),
    Rule("updated_at_invalid", "the source's last-change time is missing or unreadable",
         lambda df: df["updated_at"].isna()),
    Rule("updated_at_future", "the source's last-change time is after the run started (read "
         "again by later runs)", _in_future),
)
RULES_BY_NAME = {rule.name: rule for rule in RULES}
