"""Comparison keys for Chinese names: one spelling per name whatever the script, and its sound.

A name written in traditional characters (張偉) and its simplified form (张伟) are one name; a
character replaced by a homophone (张玮 for 张伟) keeps the pinyin. Conversions run once per
distinct character or name, not per row: a province has far fewer distinct names than rows.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

STRING = pd.StringDtype("pyarrow")


@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC

    return OpenCC("t2s")


def _per_distinct(values: pd.Series, convert) -> pd.Series:
    distinct = values.dropna().unique()
    mapping = dict(zip(distinct, (convert(v) for v in distinct), strict=True))
    return values.map(mapping).astype(STRING)


def name_keys(names: pd.Series) -> pd.Series:
    """Names in simplified characters, without the middle dot and spaces (the comparison key)."""
    table: dict[int, str] = {}

    def simplified(name: str) -> str:
        for char in name:
            if ord(char) not in table:
                table[ord(char)] = _t2s().convert(char)
        return name.translate(table).replace("·", "").replace(" ", "")

    return _per_distinct(names.astype(STRING), simplified)


def pinyin_keys(keys: pd.Series) -> pd.Series:
    """The toneless pinyin of name keys ('zhang wei'), to catch homophone characters."""
    from pypinyin import lazy_pinyin

    return _per_distinct(keys, lambda key: " ".join(lazy_pinyin(key)))


def surnames(keys: pd.Series) -> pd.Series:
    """The first character (compound surnames are rare enough to be compared by their first)."""
    return keys.str.slice(0, 1)
