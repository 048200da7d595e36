"""injury: monthly GB18030 CSV snapshots, <root>/<YYYY-MM>/<city>.csv.

Source key: `city|证件号码` as the file holds it, or `city|序号|YYYY-MM` where 证件号码 is empty or
the row is broken (wrong field count). A key seen in several months is one source row: the latest
month in the window wins. The month of a file is its watermark.
"""

from __future__ import annotations

import calendar
import csv
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from extractors.legacy_tables import INJURY_COLUMNS
from extractors.settings import SourceSettings

CHUNK_ROWS = 50_000
FIELD_COUNT = "csv_field_count"
DUPLICATE_KEY = "duplicate_source_key"


class ExportFormatError(ValueError):
    """An export file is not in the contract's format at all (not a damaged row)."""


def month_end(text: str) -> datetime:
    """The snapshot moment of a month ('YYYY-MM'), or a moment given in full."""
    if len(text) == 7:
        year, month = int(text[:4]), int(text[5:])
        return datetime(year, month, calendar.monthrange(year, month)[1], 23, 59, 59)
    return datetime.fromisoformat(text)


def months_in_window(root: Path, since: str | None, until: str | None) -> list[str]:
    """Month folders whose snapshot moment lies in (since, until]."""
    months = sorted(p.name for p in root.iterdir() if p.is_dir() and len(p.name) == 7)
    low = month_end(since) if since else None
    high = month_end(until) if until else None
    return [m for m in months if (low is None or month_end(m) > low)
            and (high is None or month_end(m) <= high)]


def file_rows(path: Path, month: str, source_name: str,
              chunk_rows: int = CHUNK_ROWS) -> Iterator[list[dict]]:
    """Every record of one export file, keyed, `chunk_rows` at a time; broken records are kept
    and marked."""
    city = path.stem
    with path.open(encoding="gb18030", errors="replace", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return
        if tuple(h.strip().lstrip("\ufeff") for h in header) != INJURY_COLUMNS:
            raise ExportFormatError(
                f"source {source_name}: {path} has header {header!r}; expected "
                f"{','.join(INJURY_COLUMNS)}")
        rows, seen = [], set()
        for fields in reader:
            if not fields:
                continue
            row = dict(zip(INJURY_COLUMNS, fields, strict=False))
            row.update(city=city, month=month, _watermark=month, _extract_rule=None)
            seq = fields[0] or f"line{reader.line_num}"
            number = row.get("证件号码", "")
            if len(fields) != len(INJURY_COLUMNS):
                row["_extract_rule"], key = FIELD_COUNT, f"{city}|{seq}|{month}"
            elif not number:
                key = f"{city}|{seq}|{month}"
            else:
                key = f"{city}|{number}"
                if key in seen:
                    row["_extract_rule"], key = DUPLICATE_KEY, f"{city}|{seq}|{month}"
            seen.add(key)
            row["_source_key"] = key
            rows.append(row)
            if len(rows) >= chunk_rows:
                yield rows
                rows = []
    if rows:
        yield rows


COLUMNS = (*INJURY_COLUMNS, "city", "month", "_watermark", "_extract_rule", "_source_key")
SCHEMA = pa.schema([(c, pa.string()) for c in COLUMNS])


def extract(source: SourceSettings, since: str | None, until: str | None) -> Iterator[pa.Table]:
    """Tables of at most CHUNK_ROWS rows, newest month first; a key already read from a later
    month is skipped (the latest month wins), so memory holds one chunk and the set of keys."""
    root = Path(source.path)
    if not root.is_dir():
        raise ExportFormatError(f"source {source.name}: export folder {root} does not exist")
    seen: set[str] = set()
    paths = [(month, path) for month in reversed(months_in_window(root, since, until))
             for path in sorted((root / month).glob("*.csv"))]
    if not paths:
        yield SCHEMA.empty_table()
    for month, path in paths:
        for chunk in file_rows(path, month, source.name):  # keys never repeat within a month
            rows = [r for r in chunk if r["_source_key"] not in seen]
            seen.update(r["_source_key"] for r in rows)
            yield pa.Table.from_pylist(rows, schema=SCHEMA)
