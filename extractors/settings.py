"""What an extractor needs to read one legacy source: plain typed values, no configuration file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SourceSettings:
    """One legacy source: a system's database (url) or export folder (path)."""

    name: str
    """Name used in the warehouse as source_system, in the ledger and in truth.csv."""
    system: str
    """pension | medical | unemployment | injury | maternity: which extractor reads it."""
    url: str | None = None
    """SQLAlchemy URL of a database source."""
    path: Path | None = None
    """Folder of an injury export (<path>/<YYYY-MM>/<city>.csv)."""
    connect_timeout: float = 30.0
    """Seconds to wait for a connection to open (and for a locked table or file) before the
    source counts as unavailable."""
    statement_timeout: float = 3600.0
    """Seconds one read may run before the source counts as unavailable (0: no limit)."""
