"""Window bounds as people type them (`--since 2024-11-01`, Airflow params): checked and written
one way, 'YYYY-MM-DD HH:MM:SS' in the legacy systems' naive local time."""

from __future__ import annotations

import re
from datetime import datetime

from jinbao.errors import ConfigError

FORMS = (("%Y-%m-%d %H:%M:%S", r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"),
         ("%Y-%m-%dT%H:%M:%S", r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"),
         ("%Y-%m-%d %H:%M", r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}"),
         ("%Y-%m-%d", r"\d{4}-\d{2}-\d{2}"))
PATTERN = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$"
"""What a bound may look like (the Airflow params' JSON Schema uses it too)."""


def bound(text: str | None, what: str) -> str | None:
    """`text` as 'YYYY-MM-DD HH:MM:SS', or ConfigError naming `what` (e.g. '--since')."""
    if text is None:
        return None
    value = str(text).strip()
    for form, shape in FORMS:
        if re.fullmatch(shape, value):
            try:
                return f"{datetime.strptime(value, form):%Y-%m-%d %H:%M:%S}"
            except ValueError:
                raise ConfigError(f"{what} {text!r} is not a day that exists") from None
    raise ConfigError(f"{what} {text!r} is not a moment: write YYYY-MM-DD or 'YYYY-MM-DD "
                      "HH:MM:SS', in the legacy systems' local time (no offset)")


def window(since: str | None, until: str | None) -> tuple[str | None, str | None]:
    """Both bounds checked, and the window (since, until] not empty."""
    since, until = bound(since, "--since"), bound(until, "--until")
    if since and until and since >= until:
        raise ConfigError(f"the window ({since}, {until}] is empty: --since must be before --until")
    return since, until
