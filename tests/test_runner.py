"""Runner pieces: bucket parts never split a person; a first load builds its indexes last."""

import pyarrow as pa

from jinbao.runner import person_chunks


def test_person_chunks_keep_each_person_whole_and_cover_every_row():
    ids = [f"{110105194912310000 + i * 7919:018d}" for i in range(5000)] * 3  # 3 rows a person
    table = pa.table({"id_number": ids, "n": list(range(len(ids)))})
    parts = list(person_chunks(table, buckets=8, chunk_rows=2000))
    assert len(parts) == 8
    seen = [set(p["id_number"]) for p in parts]
    assert sum(len(p) for p in parts) == len(ids)
    assert all(a.isdisjoint(b) for i, a in enumerate(seen) for b in seen[i + 1:])
    assert all(len(p) < 4000 for p in parts)


def _indexes(cfg) -> set[str]:
    from sqlalchemy import inspect

    from loaders.warehouse import warehouse_engine

    engine = warehouse_engine(cfg.warehouse_url)
    with engine.connect() as conn:
        found = {i["name"] for i in inspect(conn).get_indexes("source_record")}
    engine.dispose()
    return found


def test_a_first_load_builds_the_id_indexes_once_at_the_end(small_estate, tmp_path):
    from jinbao.runner import prepare_loads, run_pipeline
    from loaders.warehouse import DEFERRED_INDEXES
    from tests.conftest import fresh_config

    cfg = fresh_config(small_estate, tmp_path)
    names = {i.name for i in DEFERRED_INDEXES}
    assert prepare_loads(cfg) == {"deferred_indexes": True, "built_indexes": []}
    assert not names & _indexes(cfg)  # an empty warehouse loads without them
    run_pipeline(cfg, since="1900-01-01", workers=1)
    assert names <= _indexes(cfg)
    # a first load that died before its finish built them: the next run's loads build them
    from loaders.warehouse import warehouse_engine

    engine = warehouse_engine(cfg.warehouse_url)
    with engine.begin() as conn:
        for index in DEFERRED_INDEXES:
            index.drop(conn)
    engine.dispose()
    prepared = prepare_loads(cfg)
    assert not prepared["deferred_indexes"] and set(prepared["built_indexes"]) == names
    assert names <= _indexes(cfg)
