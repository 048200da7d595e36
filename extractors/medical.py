"""medical (mi_insured, MariaDB gbk in the realistic estate). Source key: psn_no."""

from __future__ import annotations

import pyarrow as pa
from sqlalchemy import select

from extractors.legacy_tables import mi_insured
from extractors.sql import parse_moment, text_table
from jinbao.config import SourceConfig


def extract(source: SourceConfig, since: str | None, until: str | None) -> pa.Table:
    t = mi_insured.c
    statement = select(*mi_insured.c, t.updt_time.label("_watermark"), t.psn_no.label(
        "_source_key")).order_by(t.psn_no)
    if since:
        statement = statement.where(t.updt_time > parse_moment(since))
    if until:
        statement = statement.where(t.updt_time <= parse_moment(until))
    return text_table(source.url, statement, source.name)
