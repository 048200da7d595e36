"""The configuration file: typed, checked at once, every mistake a sentence naming its key."""

from __future__ import annotations

import json

import pytest

from jinbao.config import ConfigError, load_config, masked_url
from jinbao.config_model import json_schema
from tests.conftest import REPO

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


def _load(tmp_path, text: str):
    path = tmp_path / "jinbao.toml"
    path.write_text(text, "utf-8")
    return load_config(path)


def test_priority_defaults_to_the_source_order(tmp_path):
    cfg = _load(tmp_path, BASE)
    assert cfg.survivorship.source_priority == ("pension", "medical")
    assert cfg.survivorship.rules["sex"][0] == "agrees_with_id"
    assert (cfg.buckets, cfg.retries, cfg.sources["pension"].connect_timeout) == (8, 3, 30.0)
    assert cfg.warehouse_url == f"sqlite:///{tmp_path / 'w.db'}"  # relative to the file


def test_rules_and_priority_are_configurable(tmp_path):
    policy = _load(tmp_path, BASE + '[survivorship]\nsource_priority = ["medical", "pension"]\n'
                   'name = ["most_recent", "source_priority"]\n').survivorship
    assert policy.source_priority == ("medical", "pension")
    assert policy.rules["name"] == ("most_recent", "source_priority")


MISTAKES = [
    # (text, what the error must say)
    (BASE + '[survivorship]\nname = ["latest"]\n',
     "[survivorship] name = 'latest': must be one of agrees_with_id"),
    (BASE + '[survivorship]\nsource_priority = ["housing"]\n', "unknown source 'housing'"),
    (BASE + "[stagng]\nbuckets = 4\n", "[stagng] is not a section jinbao knows; did you mean [staging]?"),
    (BASE.replace('url = "sqlite:///p.db"', 'ulr = "sqlite:///p.db"'),
     "[sources.pension]: ulr is not a key jinbao knows; did you mean url?"),
    (BASE + "[staging]\nbuckets = 0\n", "[staging] buckets = 0: must be at least 1"),
    (BASE + "[staging]\nbuckets = -1\n", "[staging] buckets = -1: must be at least 1"),
    (BASE + "[staging]\nbuckets = 1000000\n", "[staging] buckets = 1000000: must be at most 4096"),
    (BASE + '[staging]\nbuckets = "four"\n', "[staging] buckets = 'four': must be a whole number"),
    (BASE.replace('url = "sqlite:///w.db"', "url = 5"), "[warehouse] url: must be text in quotes"),
    ('sources = "x"\n[warehouse]\nurl = "sqlite:///w.db"\n', "[sources] = 'x': must be a table"),
    ('[warehouse]\nurl = "sqlite:///w.db"\n', "[sources] is required"),
    (BASE + '[sources.""]\nsystem = "injury"\npath = "x"\n', "source name '' may hold only"),
    (BASE + '[sources."."]\nsystem = "injury"\npath = "x"\n', "source name '.' may hold only"),
    (BASE + '[sources."../../x"]\nsystem = "injury"\npath = "x"\n', "source name '../../x' may"),
    (BASE + '[sources."/some/dir"]\nsystem = "injury"\npath = "x"\n', "source name '/some/dir'"),
    (BASE + '[sources.inj]\nsystem = "injury"\n', "an injury source needs path"),
    (BASE + '[sources.mat]\nsystem = "maternity"\n', "a maternity source needs url"),
    (BASE + '[sources.mat]\nsystem = "fax"\nurl = "x"\n', "system = 'fax': must be one of"),
    (BASE + '[airflow]\nschedule = "daily"\n', "schedule = 'daily': is not a cron expression"),
    (BASE + '[airflow]\nstart_date = "spring"\n', "start_date = 'spring': is not a date"),
    (BASE + '[airflow]\ntimezone = "Mars/Olympus"\n', "is not a time zone"),
    (BASE + "[run]\nretries = 0\n", "[run] retries = 0: must be at least 1"),
    (BASE + '[sources.mat]\nsystem = "maternity"\nurl = "${JINBAO_TEST_UNSET_VAR}"\n',
     "names environment variable JINBAO_TEST_UNSET_VAR, which is not set"),
    (BASE + '[sources.mat]\nsystem = "maternity"\nurl = "not a url"\n', "url is not a database URL"),
    (BASE + '[sources.mat]\nsystem = "maternity"\nconn = "jinbao_test_absent"\n',
     "conn = 'jinbao_test_absent': no such Airflow connection here"),
    ("[warehouse\n", "is not valid TOML"),
]


@pytest.mark.parametrize("text, message", MISTAKES, ids=[m for _, m in MISTAKES])
def test_mistakes_are_named(tmp_path, text, message):
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, text)
    assert message in str(error.value)
    assert str(tmp_path / "jinbao.toml") in str(error.value)


def test_every_problem_of_a_file_is_reported_at_once(tmp_path):
    text = BASE.replace("[sources.medical]", "[stagng]\nbuckets = 0\n[sources.medical]") + \
        "[staging]\nbuckets = 0\n[run]\nretry_dela = 2\n"
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, text)
    message = str(error.value)
    assert "3 problems" in message
    for part in ("[stagng]", "[staging] buckets = 0", "retry_dela is not a key jinbao knows; did "
                 "you mean retry_delay?"):
        assert part in message


def test_a_file_that_is_not_utf8_or_not_there_is_named(tmp_path):
    path = tmp_path / "jinbao.toml"
    path.write_bytes(BASE.replace("w.db", "仓库.db").encode("gb18030"))
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_config(path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)


def test_without_a_configuration_the_embedded_estate_must_exist(tmp_path, monkeypatch):
    monkeypatch.delenv("JINBAO_CONFIG", raising=False)
    with pytest.raises(ConfigError, match=r"no configuration: give --config FILE .*jinbao demo"):
        load_config(None, embedded=tmp_path)
    (tmp_path / ".jinbao").mkdir()
    assert load_config(None, embedded=tmp_path).warehouse_url.endswith(".jinbao/warehouse.db")


def test_a_url_with_a_password_is_never_shown_whole():
    assert masked_url("postgresql+psycopg://etl:s3cret@db/jinbao") == \
        "postgresql+psycopg://etl:***@db/jinbao"
    assert "s3cret" not in masked_url("mysql+pymysql://root:s3cret@h/m?charset=gbk")


def test_the_json_schema_for_editors_is_current():
    committed = json.loads((REPO / "jinbao.schema.json").read_text("utf-8"))
    assert committed == json_schema(), "run `jinbao config schema --out jinbao.schema.json`"
    assert "buckets" in committed["$defs"]["StagingSection"]["properties"]
