"""maternity (sy_cbry). Source key: grbh."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from extractors.legacy_tables import sy_cbry
from extractors.settings import SourceSettings
from extractors.sql import single_table


def extract(source: SourceSettings, since: str | None, until: str | None) -> Iterator[pa.Table]:
    return single_table(source, sy_cbry, "gxsj", "grbh", since, until)
