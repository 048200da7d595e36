"""Per-system standardisation: names, dates, code tables, ethnicity, hostile text kept as data."""

import pandas as pd
import pyarrow as pa

from transforms.standardize import (
    ethnicity_codes,
    normalized_names,
    parsed_dates,
    parsed_moments,
    standardized,
)


def test_names_are_normalised():
    raw = pd.Series(["张\u3000三", "李四  ", " 王五", "阿依古丽.买买提", "阿依古丽•买买提",
                     "阿依古丽·买买提", "ＡＢＣ", "John   Smith", None])
    assert normalized_names(raw).tolist() == [
        "张三", "李四", "王五", "阿依古丽·买买提", "阿依古丽·买买提", "阿依古丽·买买提", "ABC",
        "John Smith", pd.NA]


def test_hostile_text_is_kept_verbatim_as_data():
    hostile = ["张三'; DROP TABLE person;--", 'Robert" OR "1"="1', "李四;DELETE FROM ac01",
               "<script>alert('王五')</script>"]
    # Quotes, semicolons, SQL and markup are data: nothing is stripped or escaped.
    assert normalized_names(pd.Series(hostile)).tolist() == hostile


def test_dates_in_every_legacy_format():
    raw = pd.Series(["1975-03-12", "1975/3/12", "19750312", "1975.03", "00000000", "19800230",
                     "", None, "garbage"])
    got = parsed_dates(raw).dt.strftime("%Y-%m-%d").tolist()
    assert got[:4] == ["1975-03-12", "1975-03-12", "1975-03-12", "1975-03-01"]
    assert all(pd.isna(v) for v in got[4:])


def test_moments_accept_slashes_and_fractions():
    raw = pd.Series(["2024/03/01 10:00:00", "2024-03-01 10:00:00.000000", "bad"])
    got = parsed_moments(raw)
    assert got.iloc[0] == got.iloc[1] == pd.Timestamp("2024-03-01 10:00:00")
    assert pd.isna(got.iloc[2])


def test_ethnicity_from_codes_and_names():
    raw = pd.Series(["1", "01", "汉族", "回族", "维吾尔", "", None, "火星族"])
    assert ethnicity_codes(raw).tolist() == ["01", "01", "01", "03", "05", pd.NA, pd.NA, pd.NA]


def _table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows)


def test_medical_sex_zero_means_female_and_codes_map():
    raw = _table([{
        "psn_no": "M1", "certno": "310112198504095227", "psn_cert_type": "01",
        "psn_name": "黄晨秀", "gend": "0", "naty": "汉族", "brdy": "1985-04-09",
        "insutype": "310", "psn_insu_stas": "2", "emp_no": "E1", "admdvs": "440100",
        "updt_time": "2024-01-02 03:04:05", "_watermark": "2024-01-02 03:04:05",
        "_source_key": "M1"}])
    row = standardized(raw, "medical").iloc[0]
    assert (row["sex"], row["ethnicity"], row["scheme"], row["status"]) == ("2", "01", "310", "2")
    assert row["id_number"] == "310112198504095227"


def test_pension_local_status_table():
    base = {"aac001": "1", "aac002": "310112850409522", "aac003": "张三", "aac004": "1",
            "aac005": "1", "aac006": "19850409", "aab001": "E", "aab301": "440100",
            "aae036": "2024-01-01 00:00:00", "aae140": "110", "aac031": "1", "aac030": "20050101",
            "_watermark": "2024-01-01 00:00:00", "_source_key": "1"}
    raw = _table([{**base, "aac008": code} for code in "1234"])
    rows = standardized(raw, "pension")
    assert rows["status"].tolist() == ["1", "1", "2", "4"]  # retired (2) stays enrolled
    assert rows["ethnicity"].tolist() == ["01"] * 4
    assert rows["id_number"].tolist() == ["310112198504095227"] * 4
