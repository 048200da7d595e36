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


def test_few_rows_load_in_groups_of_buckets_and_many_rows_one_bucket_at_a_time(
        small_estate, tmp_path, monkeypatch):
    from jinbao import runner
    from jinbao.runner import bucket_groups, run_pipeline
    from tests.conftest import fresh_config

    cfg = fresh_config(small_estate, tmp_path, buckets=8)
    seen = []
    monkeypatch.setattr(runner, "load_buckets", lambda *a, **k: seen.append(a[2]) or
                        {"buckets": a[2]})
    monkeypatch.setattr(runner, "finish_run", lambda *a, **k: {
        "suspected_duplicates": {}, "timings": {}})
    summary = run_pipeline(cfg, since="1900-01-01", workers=1)
    assert seen == [list(range(8))]  # a few thousand rows: one group
    assert sorted(sum(bucket_groups(cfg, summary.run_id, 3), [])) == list(range(8))
    assert len(bucket_groups(cfg, summary.run_id, 3)) == 3
    monkeypatch.setattr(runner, "CHUNK_ROWS", 10)  # "many rows": each bucket alone
    assert bucket_groups(cfg, summary.run_id, 3) == [[b] for b in range(8)]


def test_buckets_loaded_in_a_group_give_the_warehouse_of_buckets_loaded_alone(
        small_estate, tmp_path, monkeypatch):
    """Pension first, then the other sources: the second run finds people already stored,
    which a group reconciles once for all its buckets; the same rows, people, cases and
    per-bucket load figures as bucket by bucket."""
    from sqlalchemy import select

    from jinbao import runner
    from jinbao.runner import run_pipeline
    from loaders.warehouse import warehouse_engine
    from schemas.warehouse import run_load
    from tests.conftest import fresh_config, warehouse_dump

    def loaded(workdir, groups) -> tuple[dict, list]:
        cfg = fresh_config(small_estate, workdir, buckets=4)
        if groups is not None:
            monkeypatch.setattr(runner, "bucket_groups", groups)
        for names in (["pension"], [n for n in cfg.sources if n != "pension"]):
            run_pipeline(cfg, since="1900-01-01", sources=names, workers=1)
        monkeypatch.undo()
        engine = warehouse_engine(cfg.warehouse_url)
        with engine.connect() as conn:
            loads = sorted((r.bucket, r.source_name, r.pooling_region, r.new_rows,
                            r.changed_rows) for r in conn.execute(select(run_load)))
        dump = warehouse_dump(engine, ignore_runs=True)
        engine.dispose()
        return dump, loads

    grouped = loaded(tmp_path / "grouped", None)
    alone = loaded(tmp_path / "alone", lambda cfg, run_id, workers: [[b] for b in
                                                                     range(cfg.buckets)])
    assert grouped[0]["person"] and grouped[0] == alone[0]
    assert {b for b, *_ in grouped[1]} == {-1, 0, 1, 2, 3} and grouped[1] == alone[1]
