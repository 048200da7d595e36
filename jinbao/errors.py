"""The errors a run can stop with, in a module that imports nothing: Airflow's retry policy
names them at DAG-parse time, which must stay cheap.

Only `SourceUnavailable` is worth another attempt; every other source error (tables not what the
system defines, a missing file, a bad configuration) fails at once.
"""

from __future__ import annotations


class SourceUnavailable(RuntimeError):
    """A legacy database could not be reached, or died mid-read: worth trying again later."""


class SourceBroken(RuntimeError):
    """A legacy source answered, but not as its system defines (a missing table or column, a
    missing file): trying again cannot help; someone has to look."""

