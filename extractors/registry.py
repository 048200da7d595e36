"""Which extractor reads which legacy system; every extract carries the same lineage columns, and
every row that cannot be taken as it stands is named here, never dropped.

    text_invalid_encoding   a value that is not valid text in its encoding (kept, bytes escaped)
    field_oversized         a value longer than any legacy field holds (kept, cut short)
    source_key_missing      a row without its key (old tables often have no constraint): it
                            gets a key made from its content
    duplicate_source_key    a key on several rows that differ: each gets the key and a digest
                            of its content, since which one is the record cannot be told
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from importlib import import_module

import pyarrow as pa
import pyarrow.compute as pc

from extractors.settings import SourceSettings
from extractors.sql import BATCH_ROWS

LINEAGE = ("_source_name", "_source_key", "_run_id", "_watermark")
RULE = "_extract_rule"
INVALID_TEXT = "text_invalid_encoding"
OVERSIZED = "field_oversized"
KEY_MISSING = "source_key_missing"
DUPLICATE_KEY = "duplicate_source_key"
MAX_FIELD = 4096
"""Characters a legacy value may hold; longer ones are cut here (the row is quarantined)."""
SORTED_BY_KEY = ("pension", "medical", "unemployment", "maternity")
"""Systems whose extract comes ordered by source key (equal keys adjacent)."""


def coalesced(tables: Iterator[pa.Table], rows: int) -> Iterator[pa.Table]:
    """Small tables (one export file each, say) gathered into batches of about `rows`."""
    pending, count = [], 0
    for table in tables:
        pending.append(table)
        count += table.num_rows
        if count >= rows:
            yield pa.concat_tables(pending)
            pending, count = [], 0
    if pending:
        yield pa.concat_tables(pending)


def _legacy(table: pa.Table) -> list[str]:
    return [n for n in table.column_names if not n.startswith("_")]


def _with_rule(table: pa.Table, mask: pa.Array, rule: str) -> pa.Table:
    """`rule` on the rows of `mask` that have no rule yet."""
    current = table[RULE]
    ruled = pc.if_else(pc.and_(mask, pc.is_null(current)), pa.scalar(rule), current)
    return table.set_column(table.schema.get_field_index(RULE), RULE, ruled)


def _decoded(column: pa.ChunkedArray) -> tuple[pa.ChunkedArray, pa.Array] | None:
    """None if every value is valid UTF-8; else the column with invalid bytes escaped
    ('\\xff') and the mask of the rows that had them. Slow, and only for a broken column."""
    try:
        for chunk in column.chunks:
            chunk.validate(full=True)
        return None
    except pa.ArrowInvalid:
        pass
    raw = pc.cast(column, pa.binary()) if column.type != pa.binary() else column
    values, bad = [], []
    for value in raw.to_pylist():
        if value is None:
            values.append(None)
            bad.append(False)
            continue
        try:
            values.append(value.decode("utf-8"))
            bad.append(False)
        except UnicodeDecodeError:
            values.append(value.decode("utf-8", "backslashreplace"))
            bad.append(True)
    return pa.chunked_array([pa.array(values, pa.string())]), pa.array(bad)


def named_damage(table: pa.Table) -> pa.Table:
    """The extract with invalid text escaped and oversized values cut, each such row named in
    _extract_rule (added, empty, where the extractor has none)."""
    if RULE not in table.column_names:
        table = table.append_column(RULE, pa.nulls(table.num_rows, pa.string()))
    for name in _legacy(table) + ["_source_key", "_watermark"]:
        index = table.schema.get_field_index(name)
        fixed = _decoded(table[name])
        if fixed is not None:
            table = _with_rule(table.set_column(index, name, fixed[0]), fixed[1], INVALID_TEXT)
        if name.startswith("_"):
            continue
        long = pc.fill_null(pc.greater(pc.utf8_length(table[name]), MAX_FIELD), False)
        if pc.any(long).as_py():
            cut = pc.if_else(long, pc.binary_join_element_wise(
                pc.utf8_slice_codeunits(table[name], 0, MAX_FIELD), pa.scalar("…(cut)"), ""),
                table[name])
            table = _with_rule(table.set_column(index, name, cut), long, OVERSIZED)
    return table


def _digest(row: dict) -> str:
    return hashlib.sha1(json.dumps(row, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:12]


class KeyRepair:
    """Source keys made unique across an extract ordered by key: a missing key becomes
    `#nokey-<digest>`, a key shared by differing rows `<key>#dup-<digest>` (exact copies also
    get `-<n>`). Rows whose key equals a batch's last key wait for the next batch, so a
    group is never split."""

    def __init__(self) -> None:
        self.pending: pa.Table | None = None
        self.seen: dict[str, int] = {}  # made keys so far: identical rows get -2, -3, ...

    def _unique(self, key: str) -> str:
        count = self.seen.get(key, 0) + 1
        self.seen[key] = count
        return key if count == 1 else f"{key}-{count}"

    def repaired(self, table: pa.Table) -> pa.Table:
        keys = table["_source_key"]
        missing = pc.is_null(keys)
        counts = pc.value_counts(pc.drop_null(keys))
        shared = counts.filter(pc.greater(counts.field("counts"), 1)).field("values")
        duplicated = pc.fill_null(pc.is_in(keys, value_set=shared), False)
        flagged = pc.or_(missing, duplicated)
        if not pc.any(flagged).as_py():
            return table
        positions = pc.indices_nonzero(flagged).to_pylist()
        legacy = table.select(_legacy(table)).take(positions).to_pylist()
        made = keys.to_pylist()
        for position, row in zip(positions, legacy, strict=True):
            old = made[position]
            made[position] = self._unique(f"#nokey-{_digest(row)}" if old is None
                                          else f"{old}#dup-{_digest(row)}")
        table = table.set_column(table.schema.get_field_index("_source_key"), "_source_key",
                                 pa.chunked_array([pa.array(made, pa.string())]))
        table = _with_rule(table, pc.fill_null(duplicated, False), DUPLICATE_KEY)
        return _with_rule(table, missing, KEY_MISSING)

    def feed(self, table: pa.Table) -> pa.Table:
        """This batch's rows that are complete (the last key's rows are held back)."""
        if self.pending is not None:
            table = pa.concat_tables([self.pending, table])
            self.pending = None
        if table.num_rows == 0:
            return table
        last = table["_source_key"][-1]
        if last.is_valid:
            tail = pc.equal(table["_source_key"], last)
            self.pending = table.filter(pc.fill_null(tail, False))
            table = table.filter(pc.invert(pc.fill_null(tail, False)))
        return self.repaired(table)

    def flush(self) -> pa.Table | None:
        rest, self.pending = self.pending, None
        return None if rest is None else self.repaired(rest)


def _lineage(table: pa.Table, source: SourceSettings, run_id: str) -> pa.Table:
    rows = table.num_rows
    mark = table.column("_watermark")
    index = table.schema.get_field_index("_watermark")
    table = table.set_column(index, "_watermark", pc.utf8_slice_codeunits(
        pc.replace_substring(mark, "/", "-"), 0, 19))
    table = table.append_column("_source_name", pa.repeat(pa.scalar(source.name), rows))
    return table.append_column("_run_id", pa.repeat(pa.scalar(run_id), rows))


def extract_batches(source: SourceSettings, since: str | None = None, until: str | None = None,
                    run_id: str = "", batch_rows: int = BATCH_ROWS) -> Iterator[pa.Table]:
    """Raw rows of `source` changed in (since, until], as text, in bounded batches, with the
    lineage columns: _source_name (the configured source), _source_key (as legacy-estate
    defines it, made unique), _run_id (the extraction run), _watermark (the row's change time
    as 'YYYY-MM-DD HH:MM:SS', or the export month) and _extract_rule (what is wrong with the
    row as read, if anything)."""
    tables = import_module(f"extractors.{source.system}").extract(source, since, until)
    keys = KeyRepair() if source.system in SORTED_BY_KEY else None
    for table in coalesced(tables, batch_rows):
        table = named_damage(table)
        if keys is not None:
            table = keys.feed(table)
        yield _lineage(table, source, run_id)
    rest = keys.flush() if keys is not None else None
    if rest is not None and rest.num_rows:
        yield _lineage(rest, source, run_id)


def extract_notes(source: SourceSettings, since: str | None = None,
                  until: str | None = None) -> list[str]:
    """What a source holds that its extractor does not read as data (an injury export's stray
    folders and files), each with why: the run's warnings."""
    module = import_module(f"extractors.{source.system}")
    return module.notes(source, since, until) if hasattr(module, "notes") else []


def extract(source: SourceSettings, since: str | None = None, until: str | None = None,
            run_id: str = "") -> pa.Table:
    """The whole window as one table (for tests and small sources)."""
    return pa.concat_tables(list(extract_batches(source, since, until, run_id)))
