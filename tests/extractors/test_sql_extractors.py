"""Database extractors: contract tables, window filtering, keys, lineage columns."""

from datetime import datetime

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
