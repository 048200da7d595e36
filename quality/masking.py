"""Masking of personal data for anything that leaves the warehouse (reports, logs, errors)."""

from __future__ import annotations

import logging
import re

import pandas as pd


def masked_id(value: str | None) -> str:
    """An ID number as its first six and last four characters: 110105********002X."""
    if value is None or value != value:  # None or NaN
        return ""
    text = str(value)
    if len(text) <= 10:
        return "*" * len(text)
    return text[:6] + "*" * (len(text) - 10) + text[-4:]


def masked_name(value: str | None) -> str:
    """A name as its first character and asterisks: 张**."""
    if value is None or value != value:
        return ""
    text = str(value)
    return text[:1] + "*" * (len(text) - 1)


def masked_ids(values: pd.Series) -> pd.Series:
    """Vectorised masked_id."""
    text = values.astype("string")
    long = text.str.len() > 10
    every = r"(?s)."  # every character, line breaks too
    # string operations only: a batch whose numbers are all missing stays text (a map over
    # lengths gave integers there, and adding them to text failed)
    masked = (text.str.slice(0, 6) + text.str.slice(6, -4).str.replace(every, "*", regex=True)
              + text.str.slice(-4))
    short = text.str.replace(every, "*", regex=True)
    return masked.where(long, short).fillna("")


def masked_key(key: str | None) -> str:
    """A source key ('injury|440100|<the file's ID number>') with every part that holds fifteen
    or more digits (an ID number, old or new, however damaged) masked like one: injury keys embed
    the number as the file holds it. Other keys (M44010000000188) stay readable."""
    if key is None or key != key:
        return ""
    parts = str(key).split("|")
    return "|".join(masked_id(p.strip()) if sum(c.isdigit() for c in p) >= 15 else p
                    for p in parts)


_ID_LIKE = re.compile(r"[0-9０-９]{15,}[Xx]?")
_PASSWORD = re.compile(r"(\b[a-zA-Z][\w+.-]*://[^:/@\s]*:)[^@\s]+@")


def scrubbed(text: str) -> str:
    """Free text (an error, a log line) fit to show: every run of fifteen or more digits (an ID
    number, old or new) masked like one, and a password in any URL replaced by ***."""
    text = _PASSWORD.sub(r"\1***@", str(text))
    return _ID_LIKE.sub(lambda m: masked_id(m.group(0)), text)


class ScrubbingFilter(logging.Filter):
    """A logging filter that scrubs every record it passes (defence in depth: jinbao's own log
    lines never hold personal data, but a library's message about a value might)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = scrubbed(record.getMessage())
        record.msg, record.args = message, None
        return True
