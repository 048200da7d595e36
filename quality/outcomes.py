"""Rule evaluation: every standardised row becomes accepted, or quarantined under named rules."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa

from quality.masking import masked_ids
from schemas.rules import EXTRACT_RULES, RULES, RULES_BY_NAME


def failed_rules(rows: pd.DataFrame) -> pd.DataFrame:
    """One boolean column per rule: True where the row breaks it.

    A row the extractor could not read whole (a broken CSV line) fails only its extraction rule:
    its other values are misaligned, so judging them would only add noise.
    """
    failures = pd.DataFrame({rule.name: rule.fails(rows).astype(bool).to_numpy()
                             for rule in RULES}, index=rows.index)
    unreadable = rows["_extract_rule"].notna().to_numpy()
    other = [r.name for r in RULES if r.name not in EXTRACT_RULES]
    failures.loc[unreadable, other] = False
    return failures


def rule_lists(failures: pd.DataFrame) -> pd.Series:
    """The names of the rules each row failed, comma-separated ('' for an accepted row)."""
    flags = failures.to_numpy()
    failed = flags.any(axis=1)  # few rows: the lists are built for them alone
    text = np.full(int(failed.sum()), "", dtype=object)
    for name, column in zip(failures.columns, flags[failed].T, strict=True):
        text = np.where(column, text + name + ",", text)
    out = np.full(len(failures), "", dtype=object)
    out[failed] = [t.rstrip(",") for t in text]
    return pd.Series(out, index=failures.index, dtype="string")


def quarantine_rows(rows: pd.DataFrame, failures: pd.DataFrame, raw: pa.Table) -> pd.DataFrame:
    """(source_key, rule, detail, raw_row) for every failed rule of every quarantined row.

    `raw` is the extract the rows came from (same order); only quarantined rows are serialised.
    The detail names the rule and shows the ID number masked; the raw row stays in the warehouse.
    """
    flags = failures.to_numpy()
    row_pos, rule_pos = np.nonzero(flags)
    if len(row_pos) == 0:
        return pd.DataFrame(columns=["source_key", "rule", "detail", "raw_row"], dtype="string")
    wanted = np.unique(row_pos)
    legacy = [c for c in raw.column_names if not c.startswith("_")]
    raw_rows = raw.select(legacy).take(pa.array(wanted)).to_pylist()
    raw_text = dict(zip(wanted.tolist(),
                        (json.dumps(r, ensure_ascii=False) for r in raw_rows), strict=True))
    names = np.array(failures.columns)[rule_pos]
    masked = masked_ids(rows["id_raw"].iloc[row_pos].astype("string").str.strip())
    detail = [f"{RULES_BY_NAME[n].description}; id {m or '(empty)'}"
              for n, m in zip(names, masked, strict=True)]
    return pd.DataFrame({
        "source_key": rows["_source_key"].iloc[row_pos].to_numpy(),
        "rule": names,
        "detail": detail,
        "raw_row": [raw_text[p] for p in row_pos.tolist()],
    }).astype("string")
