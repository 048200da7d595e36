"""Bulk writes: SQLite's fast path stores exactly what SQLAlchemy's own insert stores."""

from datetime import date, datetime

import pandas as pd
from sqlalchemy import create_engine, text

from loaders.bulk import copy_into, temp_table
from schemas.warehouse import source_record


def _stored(frame: pd.DataFrame, fast: bool, tmp_path) -> list[tuple]:
    engine = create_engine(f"sqlite:///{tmp_path / f'{fast}.db'}")
    with engine.begin() as conn:
        table = temp_table(conn, "t", source_record, list(frame.columns))
        if fast:
            copy_into(conn, table, frame)
        else:
            conn.execute(table.insert(), frame.astype(object).where(frame.notna(), None)
                         .to_dict("records"))
        found = conn.execute(text(  # the raw text and types SQLite holds
            "SELECT " + ", ".join(f"{c}, typeof({c})" for c in frame.columns) + " FROM t "
            "ORDER BY source_key")).all()
    engine.dispose()
    return found


def test_sqlite_fast_path_stores_what_sqlalchemy_stores(tmp_path):
    frame = pd.DataFrame({
        "source_key": ["1", "2", "3"],
        "name": ["张伟", None, "NULL"],
        "row_hash": pd.array([-9_000_000_000_000_000_000, 0, None], dtype="Int64"),
        "bucket": [1, 2, 3],
        "updated_at": pd.to_datetime(["2024-01-02 03:04:05.123456", None,
                                      "1970-01-01 00:00:00"], format="ISO8601"),
        "birth_date": [date(1990, 3, 7), None, date(1949, 12, 31)],
    })
    assert _stored(frame, True, tmp_path) == _stored(frame, False, tmp_path)
    objects = frame.assign(updated_at=[datetime(2024, 1, 2), None, datetime(2000, 2, 29, 1)])
    assert _stored(objects, True, tmp_path) == _stored(objects, False, tmp_path)
