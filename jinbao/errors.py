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



class ConfigError(ValueError):
    """The configuration is missing something, names something unknown or cannot be read."""


class WarehouseError(RuntimeError):
    """The warehouse cannot be used as it is: its schema is behind this jinbao, or it cannot be
    reached, written or created in; the message says what to do."""


class RunLocked(RuntimeError):
    """Another run holds the warehouse, and did not let go within the wait."""
