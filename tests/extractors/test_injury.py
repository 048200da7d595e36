"""Injury exports: GB18030, quoted commas, broken rows kept and keyed, latest month wins."""

import csv

import pytest

from extractors.injury import ExportFormatError
from extractors.legacy_tables import INJURY_COLUMNS
from extractors.registry import extract
from extractors.settings import SourceSettings


def _write(root, month, city, rows, tail=""):
    folder = root / month
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{city}.csv").open("w", encoding="gb18030", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(INJURY_COLUMNS)
        writer.writerows(rows)
        handle.write(tail)


def _row(seq, name, number, status="1"):
    return [seq, name, number, "1", "19850409", "E1", status, "440100", "2024-10-01 00:00:00"]


def test_keys_broken_rows_and_months(tmp_path):
    _write(tmp_path, "2024-10", "440100", [
        _row("1", "张三,\"老张\"", "310112198504095227"),
        _row("2", "𬱖四", ""),
        ["3", "王五", "110105194912310021"],  # broken: 3 fields
    ], tail="4,赵六,1101051949")  # truncated last line
    _write(tmp_path, "2024-11", "440100", [_row("1", "张三", "310112198504095227", "0")])
    source = SourceSettings("injury", "injury", path=tmp_path)
    table = extract(source, None, None).to_pylist()
    by_key = {r["_source_key"]: r for r in table}
    assert set(by_key) == {"440100|310112198504095227", "440100|2|2024-10", "440100|3|2024-10",
                           "440100|4|2024-10"}
    assert by_key["440100|310112198504095227"]["参保状态"] == "0"  # November wins
    assert by_key["440100|2|2024-10"]["姓名"] == "𬱖四"  # GB18030 keeps the rare character
    assert by_key["440100|3|2024-10"]["_extract_rule"] == "csv_field_count"
    assert by_key["440100|4|2024-10"]["_extract_rule"] == "csv_field_count"


def test_window_selects_months(tmp_path):
    for month in ("2024-10", "2024-11", "2024-12"):
        _write(tmp_path, month, "440100", [_row("1", month, "310112198504095227")])
    source = SourceSettings("injury", "injury", path=tmp_path)
    assert [r["month"] for r in extract(source, "2024-10", "2024-11").to_pylist()] == ["2024-11"]
    assert extract(source, "2024-12", None).num_rows == 0


def test_wrong_header_is_a_clear_error(tmp_path):
    (tmp_path / "2024-10").mkdir()
    (tmp_path / "2024-10" / "440100.csv").write_text("a,b\n1,2\n", encoding="gb18030")
    with pytest.raises(ExportFormatError, match="source injury: .*440100.csv has header"):
        extract(SourceSettings("injury", "injury", path=tmp_path), None, None)
