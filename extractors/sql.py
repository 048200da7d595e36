"""Shared SQL reading: a SQLAlchemy statement -> a stream of Arrow batches of text columns.

SQLAlchemy builds the statement (and renders it for the source's dialect); the rows travel on
the Arrow-native path of each engine: ADBC for PostgreSQL and SQLite, connectorx for
MySQL/MariaDB, SQLAlchemy's own cursor for anything else. Every column is cast to text in the
query itself, so each engine hands over the same shape and legacy values are repaired later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlencode

import pyarrow as pa
from sqlalchemy import ColumnElement, Select, Table, Text, cast, create_engine, make_url, select
from sqlalchemy.exc import SQLAlchemyError

from extractors.settings import SourceSettings
from jinbao.errors import SourceBroken, SourceUnavailable

__all__ = ["SourceBroken", "SourceUnavailable", "text_batches", "single_table", "windowed"]

BATCH_ROWS = 200_000

# what the drivers say when the server, not the query, is the problem (connectorx raises plain
# RuntimeErrors, so its messages are all there is to go on)
CONNECTION_TROUBLE = (
    "connection refused", "could not connect", "can't connect", "connection reset",
    "connection timed out", "timed out", "timeout", "server closed the connection",
    "terminating connection", "gone away", "lost connection", "broken pipe",
    "too many connections", "the database system is starting up",
    "the database system is shutting down", "no route to host", "connection to server",
    "unexpected eof", "server has gone", "closed the connection", "connection is closed",
    "could not receive data", "could not send data",
    # a table locked by someone else, or a read that ran too long: try again later
    "lock timeout", "statement timeout", "canceling statement", "max_statement_time",
    "lock wait timeout", "database is locked", "database table is locked",
)


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


def as_text(column: ColumnElement, name: str) -> ColumnElement:
    return cast(column, Text).label(name)


def single_table(source: SourceSettings, table: Table, changed: str, key: str, since: str | None,
                 until: str | None, bound: Callable[[str], object] = parse_moment
                 ) -> Iterator[pa.Table]:
    """A one-table system: every column, plus _watermark and _source_key, in key order."""
    c = table.c
    statement = select(*(as_text(col, col.name) for col in table.c),
                       as_text(c[changed], "_watermark"), as_text(c[key], "_source_key"))
    statement = windowed(statement.order_by(c[key]), c[changed], since, until, bound)
    return text_batches(source, statement)


def _adbc_postgres(url, sql: str, batch_rows: int, source: SourceSettings
                   ) -> Iterator[pa.RecordBatch]:
    import adbc_driver_postgresql.dbapi as adbc

    options = f"-c lock_timeout={int(source.connect_timeout * 1000)}"
    if source.statement_timeout:
        options += f" -c statement_timeout={int(source.statement_timeout * 1000)}"
    query = {**url.query, "connect_timeout": str(max(1, int(source.connect_timeout))),
             "options": options}
    # libpq reads %20, not '+', as a space: the query is encoded here, not by SQLAlchemy
    base = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    uri = f"{base}?{urlencode(query, quote_via=quote)}"
    with adbc.connect(uri) as conn, conn.cursor() as cursor:
        cursor.adbc_statement.set_options(**{
            "adbc.postgresql.batch_size_hint_bytes": str(batch_rows * 200)})
        cursor.execute(sql)
        yield from cursor.fetch_record_batch()


def _adbc_sqlite(url, sql: str, batch_rows: int, source: SourceSettings
                 ) -> Iterator[pa.RecordBatch]:
    import adbc_driver_sqlite.dbapi as adbc

    path = Path(url.database or "")
    if not path.is_file():  # never create an empty database where a legacy one should be
        raise OSError(f"SQLite database {path} does not exist")
    with adbc.connect(f"file:{path}?mode=ro") as conn, conn.cursor() as cursor:
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
        cursor.execute(sql)
        yield from cursor.fetch_record_batch()


def _connectorx(url, sql: str, batch_rows: int, source: SourceSettings
                ) -> Iterator[pa.RecordBatch]:
    import connectorx

    uri = url.set(drivername="mysql", query={}).render_as_string(hide_password=False)
    # MariaDB's per-statement settings: no session to set them in over connectorx
    limits = [f"lock_wait_timeout={max(1, int(source.connect_timeout))}"]
    if source.statement_timeout:
        limits.append(f"max_statement_time={source.statement_timeout:g}")
    sql = f"SET STATEMENT {', '.join(limits)} FOR {sql}"
    yield from connectorx.read_sql(uri, sql, return_type="arrow_stream", batch_size=batch_rows)


def _sqlalchemy(url, statement: Select, batch_rows: int, source: SourceSettings
                ) -> Iterator[pa.RecordBatch]:
    engine = create_engine(url, pool_timeout=source.connect_timeout)
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(statement)
            names = list(result.keys())
            for rows in result.partitions(batch_rows):
                columns = list(zip(*rows, strict=True))
                yield pa.record_batch([pa.array(col, pa.string()) for col in columns], names=names)
    finally:
        engine.dispose()


READERS = {"postgresql": _adbc_postgres, "sqlite": _adbc_sqlite, "mysql": _connectorx,
           "mariadb": _connectorx}


def reason(error: BaseException) -> str:
    """The first line of a driver's message (SQLAlchemy wraps it in `orig`), for one-line errors."""
    lines = str(getattr(error, "orig", None) or error).strip().splitlines()
    return lines[0][:300] if lines else type(error).__name__


def _driver_errors() -> tuple[type[BaseException], ...]:
    import adbc_driver_manager

    return (SQLAlchemyError, adbc_driver_manager.Error, RuntimeError, OSError)


def is_transient(error: BaseException) -> bool:
    """Would the same read succeed later? Yes when the server could not be reached or dropped
    the connection; no when it answered with an error about the query (a missing table or
    column) or a SQLite file is missing: those need a person, not a retry."""
    from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(error, FileNotFoundError) or "does not exist" in str(error):
        return False
    if isinstance(error, ConnectionError | TimeoutError | DisconnectionError | PoolTimeout):
        return True
    message = str(getattr(error, "orig", None) or error).lower()
    if isinstance(error, OperationalError | InterfaceError):
        return "no such table" not in message and "no such column" not in message
    return any(marker in message for marker in CONNECTION_TROUBLE)


def text_batches(source: SourceSettings, statement: Select,
                 batch_rows: int | None = None) -> Iterator[pa.Table]:
    """Stream `statement`'s rows from `source` as Arrow tables of text, `batch_rows` (default
    BATCH_ROWS) at a time."""
    batch_rows = batch_rows or BATCH_ROWS
    url = make_url(source.url)
    backend = url.get_backend_name()
    names = [c.name for c in statement.selected_columns]
    schema = pa.schema([(n, pa.string()) for n in names])
    if backend in READERS:
        sql = str(statement.compile(dialect=url.get_dialect()(),
                                    compile_kwargs={"literal_binds": True}))
        batches = READERS[backend](url, sql, batch_rows, source)
    else:
        batches = _sqlalchemy(url, statement, batch_rows, source)
    try:
        empty = True
        for batch in batches:
            empty = False
            yield pa.Table.from_batches([pa.RecordBatch.from_arrays(
                [col.cast(pa.string()) for col in batch.columns], schema=schema)])
        if empty:
            yield schema.empty_table()
    except _driver_errors() as error:
        if is_transient(error):
            raise SourceUnavailable(f"source {source.name}: cannot read ({reason(error)})") from None
        raise SourceBroken(f"source {source.name}: cannot be read as a {source.system} system "
                           f"({reason(error)})") from None
