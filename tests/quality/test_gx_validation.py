"""The GX record: the suite built from the field specs catches bad values, and its persisted
results carry no ID number or name."""

from __future__ import annotations

import pandas as pd

from quality.gx_validation import build_data_docs, validate_accepted
from schemas.fields import SOURCE_ROW

STRING = pd.StringDtype("pyarrow")


def _rows(**changes) -> pd.DataFrame:
    good = {"id_number": "310112198504095227", "name": "黄晨秀", "sex": "2", "ethnicity": "01",
            "birth_date": pd.Timestamp("1985-04-09"), "scheme": "310", "pooling_region": "440100",
            "status": "1", "pay_status": None, "employer_id": "E1", "enrolled_on": pd.NaT,
            "updated_at": pd.Timestamp("2024-01-01 10:00:00")}
    frame = pd.DataFrame([good, {**good, **changes}])
    for spec in SOURCE_ROW:
        if spec.kind in ("char", "varchar"):
            frame[spec.name] = frame[spec.name].astype(STRING)
    return frame


def test_clean_rows_pass(tmp_path):
    result = validate_accepted(_rows(), "medical", "run-1", tmp_path)
    assert result["success"] and result["evaluated"] > 15 and result["unsuccessful"] == 0


def test_bad_values_fail_the_expectation_they_break(tmp_path):
    rows = _rows(id_number="31011219850409522X9", name=None, sex="7", scheme="999")
    result = validate_accepted(rows, "medical", "run-2", tmp_path)
    assert not result["success"]
    assert build_data_docs(tmp_path, "run-2").exists()
    assert {"expect_column_values_to_match_regex:id_number",
            "expect_column_values_to_not_be_null:name",
            "expect_column_values_to_be_in_set:sex",
            "expect_column_values_to_be_in_set:scheme"} <= set(result["failed"])
    written = "".join(p.read_text("utf-8", errors="ignore")
                      for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (
                          ".json", ".html"))
    assert "31011219850409522X9" not in written and "黄晨秀" not in written
