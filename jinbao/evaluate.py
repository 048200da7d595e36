"""Reconciliation quality against an estate's truth.csv: pairwise precision and recall."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select

from schemas.warehouse import source_record


def _pairs(sizes: pd.Series) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def pairwise_scores(engine: Engine, truth_csv: Path) -> dict[str, float | int]:
    """Precision and recall of "these two accepted rows are the same person".

    Predicted: two accepted source rows share an id_number. True: they share a person_key in
    truth.csv. Rows are matched to truth by (source_system, source_key).
    """
    truth = pd.read_csv(truth_csv, dtype=str, keep_default_na=False)
    with engine.connect() as conn:
        rows = pd.read_sql(select(source_record.c.source_system, source_record.c.source_key,
                                  source_record.c.id_number, source_record.c.outcome), conn)
    joined = rows.merge(truth, on=["source_system", "source_key"], how="inner")
    accepted = joined[joined["outcome"] == "accepted"]
    predicted = _pairs(accepted.groupby("id_number").size())
    actual = _pairs(accepted.groupby("person_key").size())
    both = _pairs(accepted.groupby(["id_number", "person_key"]).size())
    return {
        "truth_rows": len(truth), "rows_matched_to_truth": len(joined),
        "accepted_rows": len(accepted),
        "predicted_pairs": predicted, "true_pairs": actual, "true_positive_pairs": both,
        "precision": both / predicted if predicted else 1.0,
        "recall": both / actual if actual else 1.0,
    }
