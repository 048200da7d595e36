"""Vectorised string operations on pandas' Arrow-backed strings, run by pyarrow.compute (RE2).

pandas falls back to Python's `re` per value for some patterns (Unicode `\\s`, look-arounds);
these helpers keep the hot paths in Arrow's C++ kernels. RE2 has no look-arounds, and its `\\s`
is ASCII: patterns name U+3000 and friends explicitly where they matter.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

STRING = pd.StringDtype("pyarrow")
SPACE = r"[\s\x{00A0}\x{3000}]"  # ASCII whitespace, no-break space, ideographic space


def arrow(values: pd.Series) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array(values.astype(STRING).array, type=pa.large_string())])


def series(values: pa.ChunkedArray | pa.Array, index: pd.Index) -> pd.Series:
    chunked = values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([values])
    return pd.Series(pd.arrays.ArrowStringArray(chunked.cast(pa.large_string())), index=index)


def nfkc(values: pd.Series) -> pd.Series:
    return series(pc.utf8_normalize(arrow(values), "NFKC"), values.index)


def replaced(values: pd.Series, pattern: str, replacement: str) -> pd.Series:
    return series(pc.replace_substring_regex(arrow(values), pattern, replacement), values.index)


def matches(values: pd.Series, pattern: str) -> pd.Series:
    """True where `pattern` is found (False for missing values)."""
    found = pc.fill_null(pc.match_substring_regex(arrow(values), pattern), False)
    return pd.Series(found.to_numpy(zero_copy_only=False), index=values.index, dtype=bool)


def extracted(values: pd.Series, pattern: str) -> pd.Series:
    """The text matched by the one group of `pattern` (which must name it `(?P<v>...)`)."""
    groups = pc.extract_regex(arrow(values), pattern)
    return series(pc.struct_field(groups, [0]), values.index)
