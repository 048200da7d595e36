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


def _people(n: int, city: str = "440100") -> list[list[str]]:
    from estate.population import check_char

    rows = []
    for i in range(n):
        first17 = f"{city}1985040{i % 10}{i:03d}"[:17]
        rows.append(_row(str(i + 1), f"张{i}", first17 + check_char(first17)))
    return rows


def test_a_stray_quote_costs_its_line_only(tmp_path):
    rows = _people(80)
    _write(tmp_path, "2024-10", "440100", rows)
    path = tmp_path / "2024-10" / "440100.csv"
    lines = path.read_bytes().split(b"\r\n")
    lines[5] = lines[5].replace(b",\xd5\xc5", b',"\xd5\xc5', 1)  # ,"张4 — a quote never closed
    path.write_bytes(b"\r\n".join(lines))
    table = extract(SourceSettings("injury", "injury", path=tmp_path), None, None).to_pylist()
    assert len(table) == 80
    broken = [r for r in table if r["_extract_rule"]]
    assert [(r["_extract_rule"], r["_source_key"]) for r in broken] == [
        ("csv_unbalanced_quote", "440100|5|2024-10")]
    assert sum(1 for r in table if r["_extract_rule"] is None) == 79


def test_a_quoted_field_may_hold_a_line_break(tmp_path):
    rows = _people(3)
    rows[1][1] = '李四\r\n,"quoted,"'  # hostile text as the simulator writes it: one record
    _write(tmp_path, "2024-10", "440100", rows)
    table = extract(SourceSettings("injury", "injury", path=tmp_path), None, None).to_pylist()
    assert [r["_extract_rule"] for r in table] == [None, None, None]
    assert table[1]["姓名"] == '李四\r\n,"quoted,"'


def test_duplicate_keys_invalid_bytes_and_oversized_fields_are_named(tmp_path):
    rows = _people(4)
    rows[1][2] = rows[2][2] = ""  # two rows without a number ...
    rows[2][0] = rows[1][0]  # ... and with the same 序号
    rows[3][1] = "王" * 200_000  # over csv's 128 KiB field limit
    _write(tmp_path, "2024-10", "440100", rows)
    path = tmp_path / "2024-10" / "440100.csv"
    path.write_bytes(path.read_bytes().replace("张0".encode("gb18030"), b"\xff\xfe0"))
    table = extract(SourceSettings("injury", "injury", path=tmp_path), None, None).to_pylist()
    rules = {r["_source_key"]: r["_extract_rule"] for r in table}
    assert len(table) == 4 and len(rules) == 4  # every key unique
    assert rules["440100|2|2024-10"] is None
    assert rules["440100|2|2024-10#L4"] == "duplicate_source_key"
    assert "text_invalid_encoding" in rules.values() and "field_oversized" in rules.values()
    cut = next(r for r in table if r["_extract_rule"] == "field_oversized")
    assert len(cut["姓名"]) < 5000


def test_stray_folders_and_files_are_named_never_read(tmp_path):
    from extractors.registry import extract_notes

    _write(tmp_path, "2024-10", "440100", _people(2))
    _write(tmp_path, "2024-11", "440300", _people(2, "440300"))
    (tmp_path / "2024-11" / "440300.csv").rename(tmp_path / "2024-11" / "440300.CSV")
    for stray in ("backup1", "2024-13"):
        _write(tmp_path, stray, "440100", _people(2))
    (tmp_path / "2024-10" / "readme.txt").write_text("notes", "utf-8")
    (tmp_path / "index.xlsx").write_text("x", "utf-8")
    source = SourceSettings("injury", "injury", path=tmp_path)
    table = extract(source, None, None).to_pylist()
    assert {r["month"] for r in table} == {"2024-10", "2024-11"}  # .CSV read; strays not
    assert {r["city"] for r in table} == {"440100", "440300"}
    notes = extract_notes(source)
    assert sorted(n.split(":")[0] for n in notes) == [
        "2024-10/readme.txt", "2024-13/", "backup1/", "index.xlsx"]
