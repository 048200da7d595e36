"""What a stage saw, beyond its three counts: rows per pooling region, by rule and by ID repair
(the report's breakdowns), and the newest watermark the source may advance to."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pandas as pd

from transforms.standardize import region_codes, watermark_moments


class StageStats:
    """Rows by (pooling region, measure, item), summed over a stage's batches."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str]] = Counter()

    def add(self, record: pd.DataFrame, failures: pd.DataFrame) -> None:
        region = region_codes(record["pooling_region"])
        accepted = (record["outcome"] == "accepted").to_numpy()
        for measure, mask in (("extracted", None), ("accepted", accepted),
                              ("quarantined", ~accepted)):
            chosen = region if mask is None else region[mask]
            for code, rows in chosen.value_counts().items():
                self.counts[(code, measure, "")] += int(rows)
        for rule in failures.columns:
            hit = failures[rule].to_numpy()
            if hit.any():
                for code, rows in region[hit].value_counts().items():
                    self.counts[(code, "rule", rule)] += int(rows)
        repairs = record.loc[accepted, "id_repairs"].fillna("").astype(str)
        repairs = repairs[repairs != ""]  # most rows were not repaired
        tags = repairs.str.split(",").explode()
        tags = tags[tags != ""]
        if len(tags):
            pairs = pd.DataFrame({"region": region[accepted].reindex(tags.index), "tag": tags})
            for (code, tag), rows in pairs.value_counts().items():
                self.counts[(code, "repair", tag)] += int(rows)

    def rows(self) -> list[list]:
        """[[pooling_region, measure, item, rows], ...] in a stable order (the manifest's)."""
        return [[*key, n] for key, n in sorted(self.counts.items())]

    def repairs(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for (_, measure, item), n in self.counts.items():
            if measure == "repair":
                totals[item] += n
        return dict(sorted(totals.items()))


def newest_watermark(marks: pd.Series, as_of: datetime) -> tuple[str | None, int]:
    """(the newest watermark not later than `as_of`, rows whose watermark is unreadable or
    later). A source's watermark never moves past a row it could not place in time: such rows
    stay in every later window, quarantined until their change time is real."""
    moments = watermark_moments(marks)
    usable = moments.notna() & (moments <= pd.Timestamp(as_of))
    beyond = int((~usable).sum())
    if not usable.any():
        return None, beyond
    newest = moments[usable].idxmax()
    text = str(marks[newest])
    return (text if len(text) == 7 else f"{moments[newest]:%Y-%m-%d %H:%M:%S}"), beyond


def later(a: str | None, b: str | None) -> str | None:
    """The later of two watermarks (either may be None)."""
    if a is None or b is None:
        return a or b
    moments = watermark_moments(pd.Series([a, b], dtype="string"))
    return a if moments[0] >= moments[1] else b
