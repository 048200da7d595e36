"""medical (mi_insured, MariaDB gbk in the realistic estate). Source key: psn_no."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from extractors.legacy_tables import mi_insured
from extractors.settings import SourceSettings
from extractors.sql import single_table


def extract(source: SourceSettings, since: str | None, until: str | None) -> Iterator[pa.Table]:
    return single_table(source, mi_insured, "updt_time", "psn_no", since, until)
