"""Row-by-row comparison of stored and recomputed frames (what changed, so only it is written)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def same_values(now: pd.DataFrame, before: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Row by row (the frames aligned by position), whether `columns` hold the same values in
    both, compared as text; missing equals missing."""
    same = np.ones(len(now), dtype=bool)
    for column in columns:
        same &= (now[column].astype("string").fillna("\0").to_numpy()
                 == before[column].astype("string").fillna("\0").to_numpy())
    return same
