"""injury: monthly GB18030 CSV snapshots, <root>/<YYYY-MM>/<city>.csv.

Source key: `city|证件号码` as the file holds it, or `city|序号|YYYY-MM` where 证件号码 is empty or
the row is broken. A key seen in several months is one source row: the latest month in the window
wins. The month of a file is its watermark.

Exports are read line by line, so that damage costs what it damaged and no more:
    csv_field_count       a line with the wrong number of fields (broken, or cut short)
    csv_unbalanced_quote  a line whose quote never closes: it alone is the broken row (a quoted
                          field may span at most MAX_SPAN lines, and must give a whole record)
    duplicate_source_key  a second row with the same key in one file (its key gets `#L<line>`)
    text_invalid_encoding bytes that are not GB18030 (kept, escaped)
Folders that are not months and files that are not .csv (any case) are never read as data:
`export_files` names them, and the stage reports them as warnings and in the ledger.
"""

from __future__ import annotations

import calendar
import csv
import re
import sys
from collections import deque
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from extractors.legacy_tables import INJURY_COLUMNS
from extractors.settings import SourceSettings

CHUNK_ROWS = 50_000
MAX_SPAN = 4
"""Physical lines one record may span (a quoted field holding a line break or two)."""
FIELD_COUNT = "csv_field_count"
UNBALANCED = "csv_unbalanced_quote"
DUPLICATE_KEY = "duplicate_source_key"
INVALID_TEXT = "text_invalid_encoding"
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_ESCAPED = re.compile(r"[\udc80-\udcff]")

csv.field_size_limit(sys.maxsize)  # an oversized field is a quarantined row, not a crash


class ExportFormatError(ValueError):
    """An export file is not in the contract's format at all (not a damaged row)."""


def month_end(text: str) -> datetime:
    """The snapshot moment of a month ('YYYY-MM'), or a moment given in full."""
    if len(text) == 7:
        year, month = int(text[:4]), int(text[5:])
        return datetime(year, month, calendar.monthrange(year, month)[1], 23, 59, 59)
    return datetime.fromisoformat(text)


def export_files(root: Path, since: str | None, until: str | None
                 ) -> tuple[list[tuple[str, Path]], list[str]]:
    """(month, file) of every export in the window (months whose snapshot moment lies in
    (since, until]), and what was found but is not an export, each with why."""
    low = month_end(since) if since else None
    high = month_end(until) if until else None
    files, skipped = [], []
    for entry in sorted(root.iterdir()):
        if not entry.is_dir():
            skipped.append(f"{entry.name}: not a month folder (YYYY-MM), not read")
            continue
        if not MONTH.match(entry.name):
            skipped.append(f"{entry.name}/: not a month folder (YYYY-MM), not read")
            continue
        moment = month_end(entry.name)
        if (low is not None and moment <= low) or (high is not None and moment > high):
            continue
        for path in sorted(entry.iterdir()):
            if path.is_file() and path.suffix.lower() == ".csv":
                files.append((entry.name, path))
            else:
                skipped.append(f"{entry.name}/{path.name}: not a .csv export, not read")
    return files, skipped


def records(lines: Iterator[str]) -> Iterator[tuple[int, str, str | None]]:
    """(line number, text, rule) of each record: balanced lines, joined while a quoted field
    is open (at most MAX_SPAN lines, and only into a whole record); a line whose quote never
    closes is a record of its own, broken."""
    pending: deque[tuple[int, str]] = deque()
    numbered = enumerate(lines, start=1)

    def refill() -> bool:
        item = next(numbered, None)
        if item is None:
            return False
        pending.append(item)
        return True

    while pending or refill():
        first, text = pending[0]
        if text.count('"') % 2 == 0:
            pending.popleft()
            yield first, text, None
            continue
        joined, used = text, 1
        while joined.count('"') % 2 == 1 and used < MAX_SPAN:
            if used == len(pending) and not refill():
                break
            joined += pending[used][1]
            used += 1
        if joined.count('"') % 2 == 0 and len(_fields(joined)) == len(INJURY_COLUMNS):
            for _ in range(used):
                pending.popleft()
            yield first, joined, None
        else:  # the quote on this line never closes: this line alone is the damage
            pending.popleft()
            yield first, text, UNBALANCED


def _fields(text: str) -> list[str]:
    return next(csv.reader([text.rstrip("\r\n")]), [])


def file_rows(path: Path, month: str, source_name: str,
              chunk_rows: int = CHUNK_ROWS) -> Iterator[list[dict]]:
    """Every record of one export file, keyed, `chunk_rows` at a time; broken records are kept
    and marked."""
    city = path.stem
    with path.open(encoding="gb18030", errors="surrogateescape", newline="") as handle:
        header = handle.readline()
        if not header:
            return
        names = tuple(h.strip().lstrip("\ufeff") for h in _fields(header))
        if names != INJURY_COLUMNS:
            raise ExportFormatError(
                f"source {source_name}: {path} has header {','.join(names)[:200]!r}; expected "
                f"{','.join(INJURY_COLUMNS)}")
        rows, seen = [], set()
        for line, text, broken in records(iter(handle)):
            if not text.strip():
                continue
            rule = broken
            if _ESCAPED.search(text):  # bytes that are not GB18030, kept as \xNN text
                text = _ESCAPED.sub(lambda m: f"\\x{ord(m.group(0)) - 0xDC00:02x}", text)
                rule = rule or INVALID_TEXT
            fields = _fields(text)
            row = dict(zip(INJURY_COLUMNS, fields, strict=False))
            row.update(city=city, month=month, _watermark=month)
            seq = fields[0] if fields and fields[0] else f"line{line + 1}"
            number = row.get("证件号码", "")
            if rule is None and len(fields) != len(INJURY_COLUMNS):
                rule = FIELD_COUNT
            key = f"{city}|{seq}|{month}" if rule in (FIELD_COUNT, UNBALANCED) or not number \
                else f"{city}|{number}"
            if key in seen:
                rule, key = rule or DUPLICATE_KEY, f"{key}#L{line + 1}"
            seen.add(key)
            row["_extract_rule"], row["_source_key"] = rule, key
            rows.append(row)
            if len(rows) >= chunk_rows:
                yield rows
                rows = []
    if rows:
        yield rows


COLUMNS = (*INJURY_COLUMNS, "city", "month", "_watermark", "_extract_rule", "_source_key")
SCHEMA = pa.schema([(c, pa.string()) for c in COLUMNS])


def notes(source: SourceSettings, since: str | None, until: str | None) -> list[str]:
    """What the export folder holds that is not read (for the run's warnings and ledger)."""
    root = Path(source.path)
    return export_files(root, since, until)[1] if root.is_dir() else []


def extract(source: SourceSettings, since: str | None, until: str | None) -> Iterator[pa.Table]:
    """Tables of at most CHUNK_ROWS rows, newest month first; a key already read from a later
    month is skipped (the latest month wins), so memory holds one chunk and the set of keys."""
    root = Path(source.path)
    if not root.is_dir():
        raise ExportFormatError(f"source {source.name}: export folder {root} does not exist")
    files, _ = export_files(root, since, until)
    seen: set[str] = set()
    if not files:
        yield SCHEMA.empty_table()
    for month, path in sorted(files, key=lambda f: f[0], reverse=True):
        for chunk in file_rows(path, month, source.name):  # keys never repeat within a month
            rows = [r for r in chunk if r["_source_key"] not in seen]
            seen.update(r["_source_key"] for r in rows)
            yield pa.Table.from_pylist(rows, schema=SCHEMA)
