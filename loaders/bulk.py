"""Bulk paths per dialect: temporary tables, COPY in and out for PostgreSQL, executemany elsewhere.

PostgreSQL gets CSV COPY in both directions on the transaction's own connection (pyarrow writes
and parses the CSV in C++); other dialects (SQLite, the embedded default) use SQLAlchemy's
executemany and pandas.read_sql. Everything else the loader does is set-based SQL that any
dialect runs.
"""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    Select,
    Table,
    text,
)

DATE_COLUMNS = ("birth_date", "enrolled_on")  # DATE columns: SQLAlchemy wants date, not datetime


def temp_table(conn: Connection, name: str, like: Table, columns: list[str] | None = None,
               key: tuple[str, ...] = (), extra: tuple[Column, ...] = ()) -> Table:
    """A temporary table with `like`'s columns (or those named) and `extra`, primary key `key`."""
    conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
    chosen = [Column(c.name, c.type, primary_key=c.name in key) for c in like.columns
              if columns is None or c.name in columns]
    table = Table(name, MetaData(), *chosen, *extra, prefixes=["TEMPORARY"])
    table.create(conn)
    return table


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts of plain Python values (None for missing, date for date columns)."""
    out = frame.copy()
    for column in out.columns:
        if column in DATE_COLUMNS and pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.date
    out = out.astype(object).where(out.notna(), None)
    return out.to_dict("records")


def _without_nul(table: pa.Table) -> pa.Table:
    """PostgreSQL text cannot hold NUL: it becomes U+FFFD (the raw row keeps it, escaped)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            table = table.set_column(i, field.name, pc.replace_substring(
                table.column(i), "\x00", "\ufffd"))
    return table


SQLITE_FORMATS = {DateTime: "%Y-%m-%d %H:%M:%S", Date: "%Y-%m-%d"}
"""How SQLAlchemy's SQLite types store dates and times as text (%S of a microsecond timestamp
carries its six decimals, as SQLAlchemy writes them)."""


def _sqlite_rows(table: Table, frame: pd.DataFrame) -> list[tuple] | None:
    """The frame's rows as tuples of the values SQLAlchemy would store in SQLite, converted
    per column by pyarrow (None when pyarrow cannot read a column: the caller falls back)."""
    try:
        arrow = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    columns = []
    for name in frame.columns:
        values = arrow.column(name)
        kind = type(table.c[name].type)
        form = next((f for t, f in SQLITE_FORMATS.items() if issubclass(kind, t)), None)
        if form and pa.types.is_timestamp(values.type):
            values = pc.strftime(values.cast(pa.timestamp("us")), form)
        elif form and pa.types.is_date(values.type):
            values = pc.strftime(values, form)
        elif form and not pa.types.is_null(values.type):
            return None  # text or numbers in a date column: SQLAlchemy's own checks decide
        columns.append(values.to_pylist())
    return list(zip(*columns, strict=True))


def copy_into(conn: Connection, table: Table, frame: pd.DataFrame) -> None:
    """Append `frame`'s rows (columns matched by name) to `table` in the open transaction."""
    if frame.empty:
        return
    columns = [c.name for c in table.columns if c.name in frame.columns]
    if conn.dialect.name == "sqlite":
        rows = _sqlite_rows(table, frame[columns])
        if rows is not None:  # the driver's executemany on tuples: no per-row dicts
            quote = conn.dialect.identifier_preparer.quote
            conn.exec_driver_sql(
                f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})", rows)
            return
    if conn.dialect.name != "postgresql":
        conn.execute(table.insert(), records(frame[columns]))
        return
    arrow = _without_nul(pa.Table.from_pandas(frame[columns], preserve_index=False))
    buffer = io.BytesIO()
    pacsv.write_csv(arrow, buffer, pacsv.WriteOptions(include_header=False,
                                                      quoting_style="needed"))
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    cursor = conn.connection.dbapi_connection.cursor()
    with cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN (FORMAT csv)") as copy:
        copy.write(buffer.getvalue())


def arrow_type(column) -> pa.DataType:
    """The Arrow type a warehouse column is read and written as."""
    kind = column.type
    if isinstance(kind, DateTime):
        return pa.timestamp("us")
    if isinstance(kind, Date):
        return pa.date32()
    if isinstance(kind, BigInteger | Integer):
        return pa.int64()
    if isinstance(kind, Float):
        return pa.float64()
    return pa.string()


def advisory_lock(conn: Connection, kind: int, key: int = 0) -> None:
    """Hold (kind, key) until the transaction ends (PostgreSQL advisory lock); a no-op on SQLite,
    which has one writer at a time already."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:kind, :key)"),
                     {"kind": kind, "key": int(key)})


def read_frame(conn: Connection, statement: Select) -> pd.DataFrame:
    """The rows of `statement` as a DataFrame (COPY TO for PostgreSQL)."""
    if conn.dialect.name != "postgresql":
        return pd.read_sql(statement, conn)
    sql = statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    cursor = conn.connection.dbapi_connection.cursor()
    buffer = io.BytesIO()
    with cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv, HEADER)") as copy:
        for chunk in copy:
            buffer.write(chunk)
    columns = list(statement.selected_columns)
    types = {c.name: arrow_type(c) for c in columns}
    # COPY writes NULL as an unquoted empty field and '' as "": nothing else is null (a name
    # that is the word NULL or NA stays a name)
    options = pacsv.ConvertOptions(column_types=types, null_values=[""], strings_can_be_null=True,
                                   quoted_strings_can_be_null=False)
    if buffer.tell() == 0:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in types})
    buffer.seek(0)
    table = pacsv.read_csv(buffer, convert_options=options)
    return table.to_pandas()
