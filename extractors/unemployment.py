"""unemployment (失业参保人员, text columns). Source key: 个人编号.

The watermark 修改时间 is text 'YYYY/MM/DD HH:MM:SS', compared as text in that same form.
"""

from __future__ import annotations

import pyarrow as pa
from sqlalchemy import select

from extractors.legacy_tables import unemployment_insured
from extractors.sql import parse_moment, text_table
from jinbao.config import SourceConfig


def _legacy_text(moment: str) -> str:
    return f"{parse_moment(moment):%Y/%m/%d %H:%M:%S}"


def extract(source: SourceConfig, since: str | None, until: str | None) -> pa.Table:
    t = unemployment_insured.c
    changed = t["修改时间"]
    statement = select(*unemployment_insured.c, changed.label("_watermark"),
                       t["个人编号"].label("_source_key")).order_by(t["个人编号"])
    if since:
        statement = statement.where(changed > _legacy_text(since))
    if until:
        statement = statement.where(changed <= _legacy_text(until))
    return text_table(source.url, statement, source.name)
