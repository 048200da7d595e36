"""Window bounds: what people type is checked, and written one way."""

import pytest

from jinbao.errors import ConfigError
from jinbao.windows import window


@pytest.mark.parametrize("since, until, expected", [
    ("2024-11-01", None, ("2024-11-01 00:00:00", None)),
    ("2024-11-01 08:30", "2024-11-02T00:00:00", ("2024-11-01 08:30:00", "2024-11-02 00:00:00")),
    (None, " 2024-12-31 23:59:59 ", (None, "2024-12-31 23:59:59")),
])
def test_bounds_are_written_one_way(since, until, expected):
    assert window(since, until) == expected


@pytest.mark.parametrize("since, until, message", [
    ("yesterday", None, "--since 'yesterday' is not a moment"),
    ("2024-02-30", None, "--since '2024-02-30' is not a day that exists"),
    ("2024-1", None, "is not a moment"),
    ("2024-11-01T00:00:00+08:00", None, "no offset"),
    (None, "2024-13-01", "--until '2024-13-01' is not a day that exists"),
    ("2024-12-01", "2024-11-01", "is empty: --since must be before --until"),
])
def test_bad_bounds_are_sentences(since, until, message):
    with pytest.raises(ConfigError, match=message):
        window(since, until)
