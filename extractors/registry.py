"""Which extractor reads which legacy system; every extract carries the same lineage columns."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module

import pyarrow as pa
import pyarrow.compute as pc

from extractors.settings import SourceSettings
from extractors.sql import BATCH_ROWS

LINEAGE = ("_source_name", "_source_key", "_run_id", "_watermark")


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


def extract_batches(source: SourceSettings, since: str | None = None, until: str | None = None,
                    run_id: str = "", batch_rows: int = BATCH_ROWS) -> Iterator[pa.Table]:
    """Raw rows of `source` changed in (since, until], as text, in bounded batches, with the
    lineage columns: _source_name (the configured source), _source_key (as legacy-estate
    defines it), _run_id (the extraction run) and _watermark (the row's change time as
    'YYYY-MM-DD HH:MM:SS', or the export month)."""
    tables = import_module(f"extractors.{source.system}").extract(source, since, until)
    for table in coalesced(tables, batch_rows):
        rows = table.num_rows
        mark = table.column("_watermark")
        index = table.schema.get_field_index("_watermark")
        table = table.set_column(index, "_watermark", pc.utf8_slice_codeunits(
            pc.replace_substring(mark, "/", "-"), 0, 19))
        table = table.append_column("_source_name", pa.repeat(pa.scalar(source.name), rows))
        yield table.append_column("_run_id", pa.repeat(pa.scalar(run_id), rows))


def extract(source: SourceSettings, since: str | None = None, until: str | None = None,
            run_id: str = "") -> pa.Table:
    """The whole window as one table (for tests and small sources)."""
    return pa.concat_tables(list(extract_batches(source, since, until, run_id)))
