"""Which DAGs and pools the configurations ask for, and the window a daily interval reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jinbao.airflow_tasks import interval_window
from jinbao.backfill import backfill_slices
from jinbao.dag_specs import DagConfigError, dag_specs, pools, specs_and_broken

PENSION = '[sources.pension]\nsystem = "pension"\nurl = "sqlite:///p.db"\n'
WAREHOUSE = '[warehouse]\nurl = "sqlite:///w.db"\n'


def test_one_dag_per_configuration_file_with_a_pool_per_source(tmp_path):
    (tmp_path / "4401.toml").write_text(
        '[warehouse]\nurl = "postgresql://w/jinbao"\nconnections = 6\n'
        + PENSION + 'connections = 3\npool = "legacy_pension"\n'
        '[sources.injury]\nsystem = "injury"\npath = "injury"\n', encoding="utf-8")
    (tmp_path / "4403.toml").write_text(
        '[warehouse]\nurl = "sqlite:///w.db"\n[airflow]\ndag_id = "shenzhen"\n'
        + PENSION + 'connections = 2\npool = "legacy_pension"\n', encoding="utf-8")
    specs = dag_specs({"JINBAO_DAG_CONFIGS": str(tmp_path)})
    assert [s.dag_id for s in specs] == ["jinbao_4401", "shenzhen"]
    assert [s.report_dag_id for s in specs] == ["jinbao_4401_report", "shenzhen_report"]
    assert [(x.name, x.pool, x.slots) for x in specs[0].sources] == [
        ("pension", "legacy_pension", 3), ("injury", "jinbao_4401.injury", 1)]
    wanted = pools(specs)
    # one legacy database read by two provinces: one pool, the smaller size
    assert wanted["legacy_pension"]["slots"] == 2
    assert wanted["jinbao_4401.warehouse"]["slots"] == 6
    assert wanted["shenzhen.warehouse"]["slots"] == 1  # SQLite has one writer
    assert set(wanted) == {"legacy_pension", "jinbao_4401.injury", "jinbao_4401.warehouse",
                           "shenzhen.warehouse"}


def test_without_a_configuration_folder_one_dag_for_the_config_or_the_embedded_estate(tmp_path):
    (tmp_path / "a.toml").write_text(WAREHOUSE + PENSION, encoding="utf-8")
    (one,) = dag_specs({"JINBAO_CONFIG": str(tmp_path / "a.toml")})
    assert one.dag_id == "jinbao_consolidate" and one.config == str(tmp_path / "a.toml")
    (embedded,) = dag_specs({})
    assert embedded.config is None
    assert [s.name for s in embedded.sources] == ["pension", "medical", "unemployment", "injury",
                                                  "maternity"]
    assert (embedded.schedule, embedded.timezone, embedded.retries) == ("0 0 * * *",
                                                                       "Asia/Shanghai", 2)


@pytest.mark.parametrize("text, message", [
    (WAREHOUSE + '[sources.pension]\nsystem = "fax"\n', "system = 'fax': must be one of"),
    (WAREHOUSE + '[sources."pension 4401"]\nsystem = "pension"\n', "may hold only letters"),
    (WAREHOUSE + PENSION + "connections = 0\n", "connections = 0: must be at least 1"),
    ('[airflow]\nstart_date = "spring"\n' + WAREHOUSE + PENSION, "start_date = 'spring': is not a date"),
    (WAREHOUSE, r"[sources] is required"),
    ("[sources\n", "is not valid TOML"),
])
def test_a_configuration_that_cannot_become_a_dag_is_named(tmp_path, text, message):
    (tmp_path / "bad.toml").write_text(text, encoding="utf-8")
    (tmp_path / "good.toml").write_text(WAREHOUSE + PENSION, encoding="utf-8")
    with pytest.raises(DagConfigError) as error:
        dag_specs({"JINBAO_DAG_CONFIGS": str(tmp_path)})
    assert message in str(error.value) and "bad.toml" in str(error.value)
    # the other province's DAGs are made all the same
    specs, broken = specs_and_broken({"JINBAO_DAG_CONFIGS": str(tmp_path)})
    assert [s.dag_id for s in specs] == ["jinbao_good"]
    assert [b.dag_id for b in broken] == ["jinbao_bad"] and message in broken[0].error


def test_two_configurations_making_the_same_dag_are_refused(tmp_path):
    for name in ("a", "b"):
        (tmp_path / f"{name}.toml").write_text('[airflow]\ndag_id = "x"\n' + WAREHOUSE + PENSION)
    with pytest.raises(DagConfigError, match="both make DAG 'x'"):
        dag_specs({"JINBAO_DAG_CONFIGS": str(tmp_path)})
    with pytest.raises(DagConfigError, match="does not exist"):
        dag_specs({"JINBAO_DAG_CONFIGS": str(tmp_path / "missing")})


def test_a_daily_interval_reads_the_window_of_the_same_day_in_jinbao_backfill():
    # Airflow's interval for 2024-12-02 in Asia/Shanghai starts at 16:00 UTC the day before
    start, end = datetime(2024, 12, 1, 16, tzinfo=UTC), datetime(2024, 12, 2, 16, tzinfo=UTC)
    assert interval_window(start, end, "Asia/Shanghai") == backfill_slices(
        "2024-12-02", "2024-12-02")[0][1:] == ("2024-12-01 23:59:59", "2024-12-02 23:59:59")
    assert interval_window(start, end, "UTC") == ("2024-12-01 15:59:59", "2024-12-02 15:59:59")
