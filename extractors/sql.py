"""Shared SQL reading: a SQLAlchemy statement -> an Arrow table of text columns."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pyarrow as pa
from sqlalchemy import ColumnElement, Select, Table, create_engine, select
from sqlalchemy.exc import SQLAlchemyError

from jinbao.config import SourceConfig


class SourceUnavailable(RuntimeError):
    """A legacy database could not be read (refused, down, or died mid-read)."""


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def text_table(url: str, statement: Select, source_name: str, batch_rows: int = 50_000) -> pa.Table:
    """Run `statement` and return every column as text (legacy values are repaired later)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(statement)
            names = list(result.keys())
            batches = []
            for rows in result.partitions(batch_rows):
                columns = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
                batches.append(pa.record_batch(
                    [pa.array([_text(v) for v in col], pa.string()) for col in columns],
                    names=names))
    except SQLAlchemyError as error:
        reason = str(error.orig if getattr(error, "orig", None) else error).splitlines()[0]
        raise SourceUnavailable(f"source {source_name}: cannot read ({reason})") from None
    finally:
        engine.dispose()
    schema = pa.schema([(n, pa.string()) for n in names])
    return pa.Table.from_batches(batches, schema=schema)


def parse_moment(text: str | None) -> datetime | None:
    """A window bound given as 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS'."""
    return None if text is None else datetime.fromisoformat(text)


def windowed(statement: Select, changed: ColumnElement, since: str | None, until: str | None,
             bound: Callable[[str], object] = parse_moment) -> Select:
    """`statement` limited to rows whose `changed` value lies in (since, until]."""
    if since:
        statement = statement.where(changed > bound(since))
    if until:
        statement = statement.where(changed <= bound(until))
    return statement


def single_table(source: SourceConfig, table: Table, changed: str, key: str, since: str | None,
                 until: str | None, bound: Callable[[str], object] = parse_moment) -> pa.Table:
    """A one-table system: every column, plus _watermark and _source_key, in key order."""
    c = table.c
    statement = select(*table.c, c[changed].label("_watermark"), c[key].label("_source_key"))
    statement = windowed(statement.order_by(c[key]), c[changed], since, until, bound)
    return text_table(source.url, statement, source.name)
