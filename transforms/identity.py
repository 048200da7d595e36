"""Citizen ID number repair (GB 11643-1999), vectorised over a column of raw values.

Every damage the standard lists is either repaired here (full-width digits, spaces and tabs,
lower-case x, trailing junk, the 15-digit form) or named by a rule (missing, placeholder,
malformed, check character, birth date, area code). Mistyped or swapped digits always break the
check character (ISO 7064 MOD 11-2), so they are named, never guessed at.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

import numpy as np
import pandas as pd
from stdnum.cn import ric

from schemas.codes import area_codes, in_codes
from schemas.identity import (
    CHECK_CHARS,
    ID_AREA_CODE,
    ID_BIRTH_DATE,
    ID_CHECKSUM,
    ID_MALFORMED,
    ID_MISSING,
    ID_PLACEHOLDER,
    WEIGHTS,
)
from transforms.text import SPACE, extracted, nfkc, replaced

_STRING = pd.StringDtype("pyarrow")


def check_chars(first17: pd.Series) -> pd.Series:
    """The MOD 11-2 check character for each 17-digit string (all values must be 17 digits)."""
    if first17.empty:
        return pd.Series([], dtype=_STRING, index=first17.index)
    digits = np.frombuffer("".join(first17.tolist()).encode("ascii"), dtype=np.uint8)
    digits = digits.reshape(-1, 17).astype(np.int64) - 48
    return pd.Series(CHECK_CHARS[(digits @ WEIGHTS) % 11], index=first17.index, dtype=_STRING)


def repaired_ids(raw: pd.Series, as_of: pd.Timestamp | pd.Series | None = None) -> pd.DataFrame:
    """Repair raw ID values; return columns id_number, id_rule, id_repairs and claimed_id,
    aligned to `raw`.

    id_number is the 18-character number (NA when a rule fails), id_rule the first failing rule
    (NA when none), id_repairs the comma-separated repairs applied (for the audit trail),
    claimed_id the 18 characters the row claims after repair, even when a check fails (NA when
    there are not 17 digits to read): what suspected-duplicate matching compares.
    `as_of` is the record date the embedded birth date may not be after (default: no limit).
    """
    text = raw.astype(_STRING).fillna("")
    width = nfkc(text)
    spaced = replaced(width, SPACE + "+", "")
    upper = spaced.str.upper()
    repairs = pd.DataFrame(
        {
            "fullwidth": width != text,
            "whitespace": spaced != width,
            "lowercase_x": upper != spaced,
        },
        index=raw.index,
    )

    full18 = extracted(upper, r"^(?P<v>\d{17}[\dX])")
    old15 = extracted(upper, r"^(?P<v>\d{15})(?:\D|$)")
    is18 = full18.notna() & (upper.str.len() >= 18)
    is15 = ~is18 & old15.notna()
    repairs["trailing_junk"] = (is18 & (upper.str.len() > 18)) | (is15 & (upper.str.len() > 15))
    repairs["upgraded_15"] = is15

    first17 = pd.Series(pd.NA, index=raw.index, dtype=_STRING)
    first17[is18] = full18[is18].str.slice(0, 17)
    first17[is15] = old15[is15].str.slice(0, 6) + "19" + old15[is15].str.slice(6, 15)
    has17 = first17.notna()
    expected = check_chars(first17[has17])
    given = pd.Series(pd.NA, index=raw.index, dtype=_STRING)
    given[is18] = full18[is18].str.slice(17, 18)
    given[is15] = expected[is15[has17].to_numpy()]
    check_ok = has17 & (given == expected.reindex(raw.index)).fillna(False)

    birth = pd.to_datetime(first17.str.slice(6, 14), format="%Y%m%d", errors="coerce")
    date_ok = birth.notna() & (birth >= pd.Timestamp("1880-01-01"))
    if isinstance(as_of, pd.Series):
        date_ok &= (birth <= as_of) | as_of.isna()  # no record date: no upper limit
    elif as_of is not None:
        date_ok &= birth <= as_of
    area_ok = in_codes(first17.str.slice(0, 6), area_codes())

    rule = pd.Series(pd.NA, index=raw.index, dtype=_STRING)
    placeholder = upper.str.fullmatch(r"0+").fillna(False)
    conditions = [
        (upper == "", ID_MISSING),
        (placeholder, ID_PLACEHOLDER),
        (~has17, ID_MALFORMED),
        (~check_ok, ID_CHECKSUM),
        (~date_ok, ID_BIRTH_DATE),
        (~area_ok, ID_AREA_CODE),
    ]
    for failed, name in reversed(conditions):  # the first rule in the list wins
        rule = rule.mask(failed.astype(bool), name)

    number = (first17 + expected.reindex(raw.index)).where(rule.isna())
    repair_text = pd.Series("", index=raw.index, dtype=_STRING)
    for tag in repairs.columns:
        repair_text = repair_text + repairs[tag].map({True: tag + ",", False: ""}).astype(_STRING)
    repair_text = repair_text.str.rstrip(",")
    no_number = rule.isin([ID_MISSING, ID_PLACEHOLDER, ID_MALFORMED]).fillna(False)
    repair_text = repair_text.mask(no_number & (repair_text != "whitespace"), "")
    claimed = (first17 + given).where(has17)
    return pd.DataFrame({"id_number": number.astype(_STRING), "id_rule": rule,
                         "id_repairs": repair_text, "claimed_id": claimed.astype(_STRING)})


_SPACES = re.compile(r"[\t\n\f\r \u00a0\u3000]+")  # transforms.text.SPACE, as RE2 reads \s
_FULL18 = re.compile(r"[0-9]{17}[0-9X]")
_OLD15 = re.compile(r"[0-9]{15}(?:[^0-9]|$)")


def repaired_id(raw: str | None, as_of: date | None = None) -> tuple[str | None, str | None]:
    """repaired_ids of one value, without a frame's fixed cost (a look-up repairs one number a
    request): (the 18-character number or None, the first rule it fails or None). A test
    holds it to repaired_ids over every damaged form the estates hold, and generated ones."""
    text = unicodedata.normalize("NFKC", raw or "")
    upper = _SPACES.sub("", text).upper()
    if upper == "":
        return None, ID_MISSING
    if re.fullmatch(r"0+", upper):
        return None, ID_PLACEHOLDER
    if _FULL18.match(upper):
        first17, given = upper[:17], upper[17]
    elif _OLD15.match(upper):
        first17, given = upper[:6] + "19" + upper[6:15], None
    else:
        return None, ID_MALFORMED
    expected = ric.calc_check_digit(first17 + "0")  # python-stdnum ignores the last character
    if given is not None and given != expected:
        return None, ID_CHECKSUM
    try:
        born = datetime.strptime(first17[6:14], "%Y%m%d").date()
    except ValueError:
        return None, ID_BIRTH_DATE
    if born < date(1880, 1, 1) or (as_of is not None and born > as_of):
        return None, ID_BIRTH_DATE
    if first17[:6] not in area_codes():
        return None, ID_AREA_CODE
    return first17 + expected, None


def with_merged_ids(rows: pd.DataFrame, merged: dict[str, str]) -> pd.DataFrame:
    """Standardised rows, with the numbers a reviewer's merge decision gave their source keys:
    such a row belongs to that person, and its own number's ID rules no longer apply."""
    if not merged:
        return rows
    target = rows["_source_key"].map(merged).astype(_STRING)
    hit = target.notna()
    rows = rows.copy()
    rows.loc[hit, "id_number"] = target[hit]
    rows.loc[hit, "id_rule"] = pd.NA
    return rows
