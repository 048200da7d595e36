"""Database extractors: contract tables, window filtering, keys, lineage columns."""

from datetime import datetime

import pyarrow as pa

from estate import write_database
from extractors.registry import LINEAGE, extract
from extractors.settings import SourceSettings


def _pension(tmp_path):
    url = f"sqlite:///{tmp_path / 'pension.db'}"
    person = {"aac002": "310112850409522", "aac003": "张三", "aac004": "2", "aac005": "1",
              "aac006": "19850409", "aab001": "E1", "aab301": "440100"}
    write_database("pension", url, {
        "ac01": [{**person, "aac001": 1, "aae036": datetime(2024, 1, 1)},
                 {**person, "aac001": 2, "aae036": datetime(2024, 3, 1)}],
        "ac02": [{"aac001": 1, "aae140": "110", "aac008": "4", "aac031": "3", "aac030": "2005",
                  "aae036": datetime(2024, 1, 1)},
                 {"aac001": 1, "aae140": "120", "aac008": "1", "aac031": "1", "aac030": "2010",
                  "aae036": datetime(2024, 6, 1)},
                 {"aac001": 2, "aae140": "110", "aac008": "1", "aac031": "1", "aac030": "2000",
                  "aae036": datetime(2024, 3, 1)}],
    })
    return SourceSettings("pension_4401", "pension", url=url)


def test_pension_keys_and_the_later_of_two_change_times(tmp_path):
    source = _pension(tmp_path)
    rows = {r["_source_key"]: r for r in extract(source, run_id="r1").to_pylist()}
    assert set(rows) == {"1|110", "1|120", "2"}  # one aac001 with two schemes: keyed per scheme
    assert rows["1|120"]["_watermark"].startswith("2024-06-01")
    assert all(set(LINEAGE) <= set(r) for r in rows.values())
    assert {r["_source_name"] for r in rows.values()} == {"pension_4401"}
    assert {r["_run_id"] for r in rows.values()} == {"r1"}


def test_window_is_exclusive_below_and_inclusive_above(tmp_path):
    source = _pension(tmp_path)
    keys = [r["_source_key"] for r in extract(source, "2024-01-01", "2024-03-01").to_pylist()]
    assert keys == ["2"]
    keys = [r["_source_key"] for r in extract(source, "2024-03-01 00:00:00").to_pylist()]
    assert keys == ["1|120"]


def test_a_source_that_is_down_is_unavailable_but_one_without_its_tables_is_broken(tmp_path):
    """The difference decides whether Airflow tries again: only a source that could not be
    reached is worth another attempt."""
    import pytest
    from sqlalchemy import create_engine, text

    from jinbao.errors import SourceBroken, SourceUnavailable

    down = SourceSettings("pension", "pension", url="postgresql+psycopg://postgres@127.0.0.1:1/x")
    with pytest.raises(SourceUnavailable, match="source pension: cannot read"):
        extract(down, run_id="r1")
    empty = tmp_path / "empty.db"
    with create_engine(f"sqlite:///{empty}").begin() as conn:
        conn.execute(text("CREATE TABLE unrelated (x INTEGER)"))
    broken = SourceSettings("pension", "pension", url=f"sqlite:///{empty}")
    with pytest.raises(SourceBroken, match="cannot be read as a pension system .*no such table"):
        extract(broken, run_id="r1")
    missing = SourceSettings("pension", "pension", url=f"sqlite:///{tmp_path / 'absent.db'}")
    with pytest.raises(SourceBroken, match="does not exist"):
        extract(missing, run_id="r1")


def _maternity_without_constraints(tmp_path, rows: list[tuple]):
    """A maternity table as an old system keeps it: no primary key, anything in any column."""
    import sqlite3

    path = tmp_path / "maternity.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE sy_cbry (grbh, sfzh, xm, xb, csrq, cbzt, dwbh, tcq, gxsj)")
        conn.executemany("INSERT INTO sy_cbry VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return SourceSettings("maternity", "maternity", url=f"sqlite:///{path}")


def _mat(key, name="李娜", changed="2024-01-01 00:00:00"):
    return (key, "310112198504095227", name, "2", "1985-04-09", "1", "E1", "440100", changed)


def test_invalid_text_and_blobs_are_kept_escaped_and_named(tmp_path):
    source = _maternity_without_constraints(tmp_path, [
        _mat("S1"), _mat("S2", "中".encode() + b"\xff"), _mat("S3", b"\x00\xff\x10")])
    rows = {r["_source_key"]: r for r in extract(source).to_pylist()}
    assert rows["S1"]["_extract_rule"] is None
    assert rows["S2"]["xm"] == "中\\xff" and rows["S2"]["_extract_rule"] == "text_invalid_encoding"
    assert rows["S3"]["_extract_rule"] == "text_invalid_encoding"


def test_missing_and_duplicated_keys_get_keys_of_their_own(tmp_path, monkeypatch):
    from extractors import registry, sql

    rows = [_mat(f"S{i:03d}") for i in range(30)]
    rows += [_mat("S010", "王芳"), _mat("S020"), _mat(None), _mat(None, "赵敏")]
    source = _maternity_without_constraints(tmp_path, rows)
    for batch_rows in (3, 7, 1000):  # a key's rows are never split between two batches
        monkeypatch.setattr(sql, "BATCH_ROWS", batch_rows)
        batches = list(registry.extract_batches(source, batch_rows=batch_rows))
        assert len(batches) > 1 or batch_rows == 1000
        table = pa.concat_tables(batches)
        got = {r["_source_key"]: r["_extract_rule"] for r in table.to_pylist()}
        assert len(got) == table.num_rows == 34  # nothing dropped, every key unique
        assert sum(k.startswith("S010#dup-") for k in got) == 2 and "S010" not in got
        copies = sorted(k for k in got if k.startswith("S020#dup-"))  # two identical rows
        assert len(copies) == 2 and copies[1] == copies[0] + "-2"
        missing = [k for k, rule in got.items() if rule == "source_key_missing"]
        assert len(missing) == 2 and all(k.startswith("#nokey-") for k in missing)
        assert got["S011"] is None
