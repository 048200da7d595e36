"""Which extractor reads which legacy system; every extract carries the same lineage columns."""

from __future__ import annotations

from importlib import import_module

import pyarrow as pa

from jinbao.config import SourceConfig

LINEAGE = ("_source_name", "_source_key", "_run_id", "_watermark")


def extract(source: SourceConfig, since: str | None = None, until: str | None = None,
            run_id: str = "") -> pa.Table:
    """Raw rows of `source` changed in (since, until], as text, with the lineage columns:
    _source_name (the configured source), _source_key (as legacy-estate defines it), _run_id
    (the extraction run) and _watermark (the row's change time, or the export month)."""
    table = import_module(f"extractors.{source.system}").extract(source, since, until)
    rows = table.num_rows
    table = table.append_column("_source_name", pa.repeat(pa.scalar(source.name), rows))
    return table.append_column("_run_id", pa.repeat(pa.scalar(run_id), rows))
