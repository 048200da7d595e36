"""The loader: idempotent keyed writes, dirty people recomputed, history kept, moves handled."""

from datetime import datetime

import pandas as pd
import pytest
from sqlalchemy import func, select

from jinbao.stage import RECORD_COLUMNS, row_hashes
from loaders.schema import ensure_schema
from loaders.warehouse import load_source_rows, recompute_dirty, warehouse_engine
from schemas.warehouse import dirty_person, enrollment, person, person_history, source_record
from transforms.reconcile import bucket_of

A = "310112198504095227"
B = "110105194912310011"
BUCKETS = 4


def _rows(specs: list[tuple[str, str, str, str]], run_id: str = "r1") -> pd.DataFrame:
    """(source_system, source_key, id_number, name) -> source_record rows."""
    frame = pd.DataFrame([{
        "source_system": system, "source_key": key, "outcome": "accepted", "id_number": number,
        "claimed_id": number, "id_repairs": "",
        "name": name, "sex": "2", "ethnicity": "01", "birth_date": None, "scheme": "310",
        "pooling_region": "440100", "status": "1", "pay_status": None, "employer_id": "E1",
        "enrolled_on": None, "updated_at": pd.Timestamp("2024-01-01") + pd.Timedelta(days=i),
        "watermark": "2024-01-01 00:00:00", "run_id": run_id, "province": None,
    } for i, (system, key, number, name) in enumerate(specs)])
    frame["row_hash"] = row_hashes(frame)
    frame["bucket"] = bucket_of(frame["id_number"], BUCKETS)
    return frame[RECORD_COLUMNS]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path):
    """The same tests on the embedded default and on PostgreSQL (the COPY path)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'w.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = warehouse_engine(url)
    ensure_schema(engine)
    yield engine
    engine.dispose()


def _load(engine, rows, run_id):
    with engine.begin() as conn:
        changed = load_source_rows(conn, rows, BUCKETS)
        recompute_dirty(conn, run_id, datetime(2025, 1, 1), BUCKETS)
    return changed


def _table(engine, table):
    with engine.connect() as conn:
        return pd.read_sql(select(table), conn)


def test_load_is_idempotent(engine):
    rows = _rows([("medical", "M1", A, "黄晨秀"), ("pension", "1", A, "黄晨秀")])
    assert _load(engine, rows, "r1") == 2
    before = _table(engine, person)
    assert before["source_rows"].tolist() == [2]
    assert _load(engine, _rows([("medical", "M1", A, "黄晨秀"), ("pension", "1", A, "黄晨秀")],
                               "r2"), "r2") == 0
    after = _table(engine, person)
    pd.testing.assert_frame_equal(before, after)
    assert after["updated_run"].tolist() == ["r1"]


def test_golden_name_change_keeps_history(engine):
    _load(engine, _rows([("medical", "M1", A, "黄晨秀")]), "r1")
    _load(engine, _rows([("medical", "M1", A, "黃晨秀")]), "r2")
    assert _table(engine, person)["name"].tolist() == ["黃晨秀"]
    history = _table(engine, person_history)
    assert history["name"].tolist() == ["黄晨秀"]
    assert history["run_id"].tolist() == ["r2"]


def test_row_moving_to_another_id_updates_both_people(engine):
    assert bucket_of(pd.Series([A]), BUCKETS)[0] != bucket_of(pd.Series([B]), BUCKETS)[0]
    _load(engine, _rows([("medical", "M1", A, "张三"), ("pension", "1", A, "张三")]), "r1")
    _load(engine, _rows([("medical", "M1", B, "张三")]), "r2")
    people = _table(engine, person).set_index("id_number")["source_rows"].to_dict()
    assert people == {A: 1, B: 1}
    enrollments = _table(engine, enrollment)
    assert sorted(enrollments["id_number"]) == sorted([A, B])
    _load(engine, _rows([("pension", "1", B, "张三")]), "r3")
    assert _table(engine, person)["id_number"].tolist() == [B]  # A has no rows left
    assert A in _table(engine, person_history)["id_number"].tolist()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(dirty_person)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(source_record)).scalar_one() == 2


def test_hostile_names_survive_the_bulk_path(engine):
    hostile = "x'); DROP TABLE person;--\t\"q,\"\n\\N" + "\x00end"
    _load(engine, _rows([("medical", "M1", A, hostile), ("pension", "1", A, hostile)]), "r1")
    stored = _table(engine, person)["name"].iloc[0]
    # PostgreSQL text cannot hold NUL: it alone becomes U+FFFD there; the rest is verbatim.
    expected = hostile if engine.dialect.name == "sqlite" else hostile.replace("\x00", "\ufffd")
    assert stored == expected
    assert _table(engine, source_record)["name"].tolist() == [expected, expected]


def test_bucket_in_sql_is_the_bucket_in_pandas(engine):
    """Loads mark people dirty by bucket_sql and stage them by bucket_of: they must agree, or
    people would wait for `finish` instead of their own bucket."""
    from sqlalchemy import literal

    from loaders.warehouse import bucket_sql

    ids = pd.Series([A, B, "44010419560409123X", "65010119991231000X", "110101200001010016"])
    for buckets in (1, 4, 8, 13):
        with engine.connect() as conn:
            in_sql = [conn.execute(select(bucket_sql(literal(i), buckets))).scalar_one()
                      for i in ids]
        assert in_sql == bucket_of(ids, buckets).tolist(), buckets
