"""maternity (sy_cbry). Source key: grbh."""

from __future__ import annotations

import pyarrow as pa
from sqlalchemy import select

from extractors.legacy_tables import sy_cbry
from extractors.sql import parse_moment, text_table
from jinbao.config import SourceConfig


def extract(source: SourceConfig, since: str | None, until: str | None) -> pa.Table:
    t = sy_cbry.c
    statement = select(*sy_cbry.c, t.gxsj.label("_watermark"), t.grbh.label(
        "_source_key")).order_by(t.grbh)
    if since:
        statement = statement.where(t.gxsj > parse_moment(since))
    if until:
        statement = statement.where(t.gxsj <= parse_moment(until))
    return text_table(source.url, statement, source.name)
