"""The citizen ID number as GB 11643-1999 defines it: layout, check character, and the names of
the rules an ID number can break (in the order they are tested)."""

from __future__ import annotations

import numpy as np
import pandas as pd

# ISO 7064 MOD 11-2 over the first 17 digits
WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
CHECK_CHARS = np.array(list("10X98765432"))

ID_MISSING = "id_missing"
ID_PLACEHOLDER = "id_placeholder"
ID_MALFORMED = "id_malformed"
ID_CHECKSUM = "id_checksum"
ID_BIRTH_DATE = "id_birth_date"
ID_AREA_CODE = "id_area_code"
ID_RULES = (ID_MISSING, ID_PLACEHOLDER, ID_MALFORMED, ID_CHECKSUM, ID_BIRTH_DATE, ID_AREA_CODE)

_STRING = pd.StringDtype("pyarrow")


def sex_from_id(id_number: pd.Series) -> pd.Series:
    """GB/T 2261.1 sex code encoded by the 17th digit: odd '1' (male), even '2' (female)."""
    digit = pd.to_numeric(id_number.str.slice(16, 17), errors="coerce")
    return pd.Series(np.where(digit % 2 == 1, "1", "2"), index=id_number.index,
                     dtype=_STRING).where(digit.notna())


def birth_date_from_id(id_number: pd.Series) -> pd.Series:
    """The birth date embedded in each 18-digit number."""
    return pd.to_datetime(id_number.str.slice(6, 14), format="%Y%m%d", errors="coerce")
