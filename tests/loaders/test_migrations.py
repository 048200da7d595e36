"""Warehouse migrations: a warehouse made by main before migrations existed is refused with a
sentence, upgraded by `jinbao db upgrade`, and then loads; migrating gives exactly the schema a
new warehouse is created with."""

from __future__ import annotations

import dataclasses

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import column, insert, inspect, select, text
from sqlalchemy import table as sql_table

from jinbao.errors import WarehouseError
from jinbao.runner import run_pipeline
from loaders import schema
from loaders.warehouse import warehouse_engine
from schemas.warehouse import metadata
from tests.conftest import fresh_config, warehouse_dump

BASELINE_TABLES = ("person", "person_history", "enrollment", "source_record", "quarantine",
                   "review_case", "review_case_row", "review_decision", "identity_override",
                   "attribute_override", "run_ledger", "watermark", "backfill_slice",
                   "dirty_person")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return request.getfixturevalue("pg_url")


def mains_warehouse(url: str):
    """A warehouse as main created it: the baseline revision's tables, no alembic_version."""
    engine = warehouse_engine(url)
    with engine.begin() as conn:
        command.upgrade(schema._alembic(conn), schema.BASELINE)
        conn.execute(text("DROP TABLE alembic_version"))
    return engine


def _copy_as_main(source, target) -> None:
    """Rows a run wrote, limited to the tables and columns main's schema has."""
    with source.connect() as read, target.begin() as write:
        for name in BASELINE_TABLES:
            old = {c["name"] for c in inspect(write).get_columns(name)}
            table = metadata.tables[name]
            columns = [c for c in table.columns if c.name in old]
            rows = [dict(r._mapping) for r in read.execute(select(*columns))]
            if rows:
                write.execute(insert(sql_table(name, *(column(c.name) for c in columns))), rows)


def test_mains_warehouse_is_refused_then_upgraded_and_loads(url, small_estate, tmp_path):
    fresh = fresh_config(small_estate, tmp_path / "fresh")
    run_pipeline(fresh, workers=1)
    old = mains_warehouse(url)
    _copy_as_main(warehouse_engine(fresh.warehouse_url), old)
    cfg = dataclasses.replace(fresh_config(small_estate, tmp_path / "old"), warehouse_url=url)

    with pytest.raises(WarehouseError, match=r"at schema revision 0001 and this jinbao needs "
                                             rf"{schema.head_revision()}: run `jinbao db upgrade`"):
        run_pipeline(cfg, workers=1)
    assert schema.upgrade(old) == ("0001", schema.head_revision())
    with old.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == schema.head_revision()
        assert {"run_failure", "run_stat", "run_load", "match_entity", "match_model"} <= set(
            inspect(conn).get_table_names())
    # nothing changed in the estate: the rerun writes nothing, and the data survived the upgrade
    before = warehouse_dump(old, ignore_runs=True)
    summary = run_pipeline(cfg, since="1900-01-01", workers=1)
    assert sum(m["extracted"] for m in summary.sources) > 0
    assert warehouse_dump(old, ignore_runs=True) == before == warehouse_dump(
        warehouse_engine(fresh.warehouse_url), ignore_runs=True)
    old.dispose()


def test_migrating_gives_exactly_the_schema_of_a_new_warehouse(url):
    engine = warehouse_engine(url)
    with engine.begin() as conn:
        command.upgrade(schema._alembic(conn), "head")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    engine.dispose()


def test_a_warehouse_from_a_newer_jinbao_is_refused(tmp_path):
    engine = warehouse_engine(f"sqlite:///{tmp_path / 'w.db'}")
    schema.ensure_schema(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    schema._READY.clear()
    with pytest.raises(WarehouseError, match="a newer jinbao wrote it"):
        schema.ensure_schema(engine)
