"""The standard as code matches the shared standard; the DDL has the contract's tables and keys."""

import csv

import pytest
from sqlalchemy import create_engine, inspect

from schemas.codes import TABLES, area_codes, code_table, ethnicity_by_name
from schemas.warehouse import CONTRACT_TABLES, metadata
from tests.conftest import SHARED

CONTRACT_KEYS = {
    "person": ["id_number"],
    "person_history": ["id_number", "valid_from"],
    "enrollment": ["id_number", "scheme", "pooling_region"],
    "source_record": ["source_system", "source_key"],
    "quarantine": ["source_system", "source_key", "rule"],
    "review_case": ["case_id"],
    "run_ledger": ["run_id", "source_name"],
    "watermark": ["source_name"],
}


@pytest.mark.parametrize("name", TABLES)
def test_code_tables_equal_the_shared_standard(name):
    path = SHARED / "standard" / "codes" / f"{name}.csv"
    if not path.exists():
        pytest.skip(f"shared standard not beside the checkout ({path})")
    with path.open(encoding="utf-8") as handle:
        expected = {row["code"]: row["label_zh"] for row in csv.DictReader(handle)}
    assert code_table(name) == expected


def test_ethnicity_names_resolve_with_and_without_suffix():
    assert ethnicity_by_name()["汉族"] == "01"
    assert ethnicity_by_name()["维吾尔"] == "05"


def test_area_codes_come_from_stdnum_and_include_retired_ones():
    codes = area_codes()
    assert len(codes) > 6000
    assert {"110105", "110103", "440104"} <= codes  # 110103 was retired in 2010


def test_warehouse_ddl_has_the_contract_tables_and_keys(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    metadata.create_all(engine)
    inspector = inspect(engine)
    assert set(CONTRACT_TABLES) <= set(inspector.get_table_names())
    for table, key in CONTRACT_KEYS.items():
        assert inspector.get_pk_constraint(table)["constrained_columns"] == key


def test_columns_carry_indicator_codes():
    assert metadata.tables["person"].c.id_number.comment.startswith("AAC002")
    assert metadata.tables["enrollment"].c.scheme.comment.startswith("AAE140")
