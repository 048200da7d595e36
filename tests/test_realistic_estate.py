"""The realistic estate: pension and maternity on PostgreSQL, medical on MariaDB (gbk),
unemployment on SQLite, injury as GB18030 CSV, warehouse on PostgreSQL. Every engine must hand
the pipeline the same rows: the warehouse equals the one loaded from the all-SQLite estate."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import create_engine, text

from estate import build_estate
from jinbao.runner import run_pipeline
from loaders.warehouse import warehouse_engine
from tests.conftest import _scratch_database, fresh_config, warehouse_dump


@pytest.mark.postgres
@pytest.mark.mariadb
def test_heterogeneous_engines_load_the_same_warehouse(tmp_path, mariadb_url):
    plain = tmp_path / "sqlite"
    build_estate(400, 17, plain)
    with _database("postgres") as pension, _database("postgres") as maternity, \
            _database("postgres") as warehouse:
        real = tmp_path / "realistic"
        build_estate(400, 17, real, engines={"pension": pension, "maternity": maternity,
                                             "medical": mariadb_url})
        engine = create_engine(mariadb_url)
        with engine.connect() as conn:
            charset = conn.execute(text(
                "SELECT CCSA.character_set_name FROM information_schema.TABLES T JOIN "
                "information_schema.COLLATION_CHARACTER_SET_APPLICABILITY CCSA ON "
                "CCSA.collation_name = T.table_collation WHERE T.table_name = 'mi_insured' "
                "AND T.table_schema = DATABASE()")).scalar_one()
            lost = conn.execute(text(
                "SELECT count(*) FROM mi_insured WHERE psn_name LIKE '%?%'")).scalar_one()
        engine.dispose()
        assert charset == "gbk"
        assert lost > 0  # characters GBK lacks came back as '?', as in the vendor system

        dumps = []
        for estate, url in ((plain, None), (real, warehouse)):
            cfg = fresh_config(estate, tmp_path / f"wh-{estate.name}")
            if url:
                cfg = dataclasses.replace(cfg, warehouse_url=url)
            summary = run_pipeline(cfg, run_id="same")
            rules = {m["source_name"]: m["rules"] for m in summary.sources}
            assert rules["medical"].get("name_lossy_encoding", 0) >= lost
            wh = warehouse_engine(cfg.warehouse_url)
            dumps.append(warehouse_dump(wh, ignore_runs=True))
            wh.dispose()
        for dump in dumps:  # the raw row keeps each engine's own text of a timestamp
            dump["quarantine"] = [row[:4] for row in dump["quarantine"]]
        assert dumps[0] == dumps[1]


class _database:
    """A scratch PostgreSQL database as a context manager."""

    def __init__(self, kind: str) -> None:
        self.scratch = _scratch_database(kind)

    def __enter__(self) -> str:
        return next(self.scratch)

    def __exit__(self, *exc) -> None:
        self.scratch.close()
