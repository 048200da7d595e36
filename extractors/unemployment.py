"""unemployment (失业参保人员, text columns). Source key: 个人编号.

The watermark 修改时间 is text 'YYYY/MM/DD HH:MM:SS', compared as text in that same form.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from extractors.legacy_tables import unemployment_insured
from extractors.settings import SourceSettings
from extractors.sql import parse_moment, single_table


def legacy_text(moment: str) -> str:
    """A window bound in the system's own timestamp text."""
    return f"{parse_moment(moment):%Y/%m/%d %H:%M:%S}"


def extract(source: SourceSettings, since: str | None, until: str | None) -> Iterator[pa.Table]:
    return single_table(source, unemployment_insured, "修改时间", "个人编号", since, until,
                        bound=legacy_text)
