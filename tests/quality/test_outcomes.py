"""Rules: every failing row is quarantined under a named rule; none is lost; masks hold."""

import json

import pandas as pd
import pyarrow as pa

from quality.masking import masked_id, masked_ids, masked_name
from quality.outcomes import failed_rules, quarantine_rows, rule_lists
from transforms.standardize import standardized

GOOD = {"序号": "1", "姓名": "张三", "证件号码": "310112198504095227", "性别": "2",
        "出生日期": "19850409", "单位编号": "E1", "参保状态": "1", "统筹区": "440100",
        "变更时间": "2024-10-01 00:00:00", "city": "440100", "month": "2024-10",
        "_watermark": "2024-10", "_extract_rule": None, "_source_key": "440100|310112198504095227"}


def _outcomes(changes: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame, pa.Table]:
    raw = pa.Table.from_pylist([{**GOOD, **c} for c in changes],
                               schema=pa.schema([(k, pa.string()) for k in GOOD]))
    rows = standardized(raw, "injury")
    return rows, failed_rules(rows), raw


def test_each_damage_gets_its_named_rule():
    cases = {
        "id_checksum": {"证件号码": "310112198504095237"},
        "id_missing": {"证件号码": ""},
        "id_placeholder": {"证件号码": "000000000000000000"},
        "name_missing": {"姓名": "  "},
        "name_control_chars": {"姓名": "张三\x07"},
        "name_lossy_encoding": {"姓名": "张?"},
        "status_unmapped": {"参保状态": "7"},
        "pooling_region_invalid": {"统筹区": "ABCDEF"},
        "updated_at_invalid": {"变更时间": "yesterday"},
        "row_empty": {"证件号码": "", "姓名": ""},
        "csv_field_count": {"_extract_rule": "csv_field_count"},
    }
    rows, failures, _ = _outcomes([{}, *cases.values()])
    assert not failures.iloc[0].any(), "the clean row must be accepted"
    for position, rule in enumerate(cases, start=1):
        assert failures.iloc[position][rule], rule
    assert rule_lists(failures).iloc[0] == ""


def test_quarantine_rows_keep_the_raw_row_and_mask_the_id():
    rows, failures, raw = _outcomes([{}, {"证件号码": "310112198504095237",
                                          "姓名": "x'); DROP TABLE person;--"}])
    quarantined = quarantine_rows(rows, failures, raw)
    assert quarantined["rule"].tolist() == ["id_checksum"]
    raw_row = json.loads(quarantined["raw_row"].iloc[0])
    assert raw_row["姓名"] == "x'); DROP TABLE person;--"  # verbatim, as data
    assert "310112198504095237" not in quarantined["detail"].iloc[0]
    assert "310112********5237" in quarantined["detail"].iloc[0]


def test_masks():
    assert masked_id("11010519491231002X") == "110105********002X"
    assert masked_name("阿依古丽·买买提") == "阿" + "*" * 7
    assert masked_ids(pd.Series(["11010519491231002X", "123", None])).tolist() == [
        "110105********002X", "***", ""]
    # a batch whose quarantined rows all lack a number (an incremental run of a few rows)
    assert masked_ids(pd.Series([None, None], dtype="string")).tolist() == ["", ""]
    assert masked_ids(pd.Series([], dtype="string")).tolist() == []
    assert masked_ids(pd.Series(["1101051949\n1231002X"])).tolist() == ["110105*********002X"]


def test_a_batch_whose_only_quarantined_row_has_no_number_is_quarantined():
    rows, failures, raw = _outcomes([{"证件号码": None}])
    quarantined = quarantine_rows(rows, failures, raw)
    assert "id_missing" in quarantined["rule"].tolist()
