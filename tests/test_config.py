"""The [survivorship] section: defaults from the source order, rules checked when read."""

from __future__ import annotations

import pytest

from jinbao.config import ConfigError, load_config

BASE = """
[warehouse]
url = "sqlite:///w.db"
[sources.pension]
system = "pension"
url = "sqlite:///p.db"
[sources.medical]
system = "medical"
url = "sqlite:///m.db"
"""


def _load(tmp_path, extra: str):
    path = tmp_path / "jinbao.toml"
    path.write_text(BASE + extra, "utf-8")
    return load_config(path)


def test_priority_defaults_to_the_source_order(tmp_path):
    policy = _load(tmp_path, "").survivorship
    assert policy.source_priority == ("pension", "medical")
    assert policy.rules["sex"][0] == "agrees_with_id"


def test_rules_and_priority_are_configurable(tmp_path):
    policy = _load(tmp_path, '[survivorship]\nsource_priority = ["medical", "pension"]\n'
                             'name = ["most_recent", "source_priority"]\n').survivorship
    assert policy.source_priority == ("medical", "pension")
    assert policy.rules["name"] == ("most_recent", "source_priority")


@pytest.mark.parametrize("extra, message", [
    ('[survivorship]\nname = ["latest"]\n', "unknown rule 'latest'"),
    ('[survivorship]\nsource_priority = ["housing"]\n', "unknown source 'housing'"),
])
def test_mistakes_are_named(tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, extra)
