"""Which extractor reads which legacy system."""

from __future__ import annotations

from importlib import import_module

import pyarrow as pa

from jinbao.config import SourceConfig


def extract(source: SourceConfig, since: str | None = None, until: str | None = None) -> pa.Table:
    """Raw rows of `source` changed in (since, until], as text, with _source_key and _watermark."""
    return import_module(f"extractors.{source.system}").extract(source, since, until)
