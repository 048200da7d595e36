"""Per-system standardisation: legacy columns and code tables -> the unified source row.

Each system has a mapping profile (which column holds what, and its local code tables). The
output has one row per raw row, the unified columns of schemas.fields.SOURCE_ROW, the repaired ID
(id_number, id_rule, id_repairs) and helper columns the row rules read (`*_raw`, `cert_type`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.codes import area_codes, ethnicity_by_name
from transforms.identity import repaired_ids
from transforms.text import SPACE, arrow, matches, nfkc, replaced

STRING = pd.StringDtype("pyarrow")


@dataclass(frozen=True)
class Profile:
    """Where one legacy system keeps each unified attribute, and its local code tables."""

    id_number: str
    name: str
    sex: str | None
    sex_codes: dict[str, str]
    birth_date: str | None
    pooling_region: str
    updated_at: str
    scheme: str | None = None
    """Column holding the AAE140 scheme code; None when the system has one fixed scheme."""
    fixed_scheme: str | None = None
    status: str | None = None
    status_codes: dict[str, str] = field(default_factory=dict)
    pay_status: str | None = None
    employer_id: str | None = None
    enrolled_on: str | None = None
    ethnicity: str | None = None
    cert_type: str | None = None


PROFILES = {
    "pension": Profile(
        id_number="aac002", name="aac003", sex="aac004", sex_codes={"1": "1", "2": "2", "9": "9"},
        birth_date="aac006", pooling_region="aab301", updated_at="_watermark", scheme="aae140",
        status="aac008", status_codes={"1": "1", "2": "1", "3": "2", "4": "4"},
        pay_status="aac031", employer_id="aab001", enrolled_on="aac030", ethnicity="aac005"),
    "medical": Profile(
        id_number="certno", name="psn_name", sex="gend", sex_codes={"1": "1", "0": "2", "9": "0"},
        birth_date="brdy", pooling_region="admdvs", updated_at="updt_time", scheme="insutype",
        status="psn_insu_stas", status_codes={"1": "1", "2": "2", "4": "4"},
        employer_id="emp_no", ethnicity="naty", cert_type="psn_cert_type"),
    "unemployment": Profile(
        id_number="身份证号", name="姓名", sex="性别", sex_codes={"男": "1", "女": "2"},
        birth_date="出生日期", pooling_region="统筹区", updated_at="修改时间", fixed_scheme="210",
        status="参保状态", status_codes={"在保": "1", "停保": "2", "退保": "4"}, ethnicity="民族"),
    "injury": Profile(
        id_number="证件号码", name="姓名", sex="性别", sex_codes={"1": "1", "2": "2"},
        birth_date="出生日期", pooling_region="统筹区", updated_at="变更时间", fixed_scheme="410",
        status="参保状态", status_codes={"1": "1", "0": "2"}, employer_id="单位编号"),
    "maternity": Profile(
        id_number="sfzh", name="xm", sex="xb", sex_codes={"1": "1", "2": "2"}, birth_date="csrq",
        pooling_region="tcq", updated_at="gxsj", fixed_scheme="510", status="cbzt",
        status_codes={"1": "1", "0": "4"}, employer_id="dwbh"),
}

DAY_FORMATS = ("%Y%m%d", "%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d")
DATE_FORMATS = (*DAY_FORMATS, "%Y.%m")  # '1975.03': the first of the month


def parsed_dates(raw: pd.Series, formats: tuple[str, ...] = DATE_FORMATS) -> pd.Series:
    """Legacy date text in any of the known formats -> date; '00000000' and nonsense -> NaT."""
    text = raw.astype(STRING).str.strip().str.slice(0, 10)
    result = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
    for fmt in formats:
        missing = result.isna()
        if not missing.any():
            break
        parsed = pd.to_datetime(text[missing], format=fmt, errors="coerce")
        result[missing] = parsed.astype("datetime64[us]")
    return result


def parsed_moments(raw: pd.Series) -> pd.Series:
    """Legacy timestamps ('YYYY-MM-DD HH:MM:SS[.ffffff]' or with '/') -> datetime; bad -> NaT."""
    text = raw.astype(STRING).str.replace("/", "-", regex=False).str.slice(0, 19)
    return pd.to_datetime(text, format="%Y-%m-%d %H:%M:%S", errors="coerce").astype(
        "datetime64[us]")


@cache
def _area_code_set() -> pa.Array:
    return pa.array(sorted(area_codes()), pa.string())


def region_codes(pooling_region: pd.Series) -> pd.Series:
    """The pooling region where it is a GB/T 2260 code, else '' (unknown): for breakdowns."""
    text = pooling_region.astype(STRING).str.strip()
    known = pc.fill_null(pc.is_in(arrow(text), value_set=_area_code_set()), False)
    return text.where(known.to_numpy(zero_copy_only=False), "").fillna("")


def watermark_moments(marks: pd.Series) -> pd.Series:
    """Each row's watermark as a moment: a change time 'YYYY-MM-DD HH:MM:SS', or an export
    month 'YYYY-MM' (its last second); NaT where it cannot be read."""
    text = marks.astype(STRING)
    moments = parsed_moments(text)
    month = text.str.fullmatch(r"\d{4}-(0[1-9]|1[0-2])").fillna(False).astype(bool)
    if month.any():
        first = pd.to_datetime(text[month] + "-01", format="%Y-%m-%d")
        moments[month] = (first + pd.offsets.MonthEnd(0) + pd.Timedelta(
            hours=23, minutes=59, seconds=59)).astype("datetime64[us]")
    return moments


def normalized_names(raw: pd.Series) -> pd.Series:
    """NFKC; a middle dot written '.', '•' or '・' becomes U+00B7; no stray whitespace.

    Names without Latin letters lose all whitespace (Chinese names have none); others keep one
    space between words. Control characters and other hostile text are kept, as data.
    """
    text = nfkc(raw.astype(STRING)).str.strip()
    latin = matches(text, r"[A-Za-z]")
    dotted = replaced(text, SPACE + r"*[.•・‧∙⋅·]" + SPACE + "*", "·")
    chinese = replaced(dotted, SPACE + "+", "")
    spaced = replaced(text, SPACE + "+", " ")
    return chinese.where(~latin, spaced)


def _column(raw: pd.DataFrame, name: str | None) -> pd.Series:
    if name is None:
        return pd.Series(pd.NA, index=raw.index, dtype=STRING)
    return raw[name].astype(STRING)


def _coded(values: pd.Series, codes: dict[str, str]) -> pd.Series:
    return values.str.strip().map(codes).astype(STRING)


def ethnicity_codes(raw: pd.Series) -> pd.Series:
    """Two-digit GB/T 3304 code from a code ('1', '01') or a Chinese name ('汉族'); else NA."""
    text = raw.astype(STRING).str.strip()
    digits = text.str.fullmatch(r"\d{1,2}").fillna(False)
    by_code = text.where(digits).str.zfill(2)
    return by_code.fillna(text.map(ethnicity_by_name()).astype(STRING))


def standardized(raw: pa.Table, system: str) -> pd.DataFrame:
    """The unified source rows of one raw extract, lineage columns kept."""
    profile = PROFILES[system]
    frame = raw.to_pandas(types_mapper=lambda t: STRING if t == pa.string() else None)
    updated_at = parsed_moments(frame[profile.updated_at])
    ids = repaired_ids(frame[profile.id_number], as_of=updated_at)
    out = pd.DataFrame(index=frame.index)
    out["_source_key"] = frame["_source_key"].astype(STRING)
    out["_watermark"] = frame["_watermark"].astype(STRING)
    out["_extract_rule"] = _column(frame, "_extract_rule" if "_extract_rule" in frame else None)
    out["id_raw"] = frame[profile.id_number].astype(STRING)
    out = out.join(ids)
    out["name_raw"] = frame[profile.name].astype(STRING)
    out["name"] = normalized_names(out["name_raw"])
    out["sex"] = _coded(_column(frame, profile.sex), profile.sex_codes)
    out["ethnicity"] = ethnicity_codes(_column(frame, profile.ethnicity))
    # a birth month without its day is no birth date: it would contradict the ID's day
    out["birth_date"] = parsed_dates(_column(frame, profile.birth_date), DAY_FORMATS)
    scheme = (_column(frame, profile.scheme).str.strip() if profile.scheme
              else pd.Series(profile.fixed_scheme, index=frame.index, dtype=STRING))
    out["scheme"] = scheme
    out["pooling_region"] = _column(frame, profile.pooling_region).str.strip()
    out["status_raw"] = _column(frame, profile.status)
    out["status"] = _coded(out["status_raw"], profile.status_codes)
    out["pay_status"] = _column(frame, profile.pay_status).str.strip()
    out["employer_id"] = _column(frame, profile.employer_id).str.strip().replace("", pd.NA)
    out["enrolled_on"] = parsed_dates(_column(frame, profile.enrolled_on))
    out["enrolled_on_raw"] = _column(frame, profile.enrolled_on)
    out["updated_at"] = updated_at
    out["cert_type"] = _column(frame, profile.cert_type)
    return out

