"""The stage runner that the CLI and the Airflow DAG both call.

Stages exchange Parquet files under `<staging>/<run_id>/`; callers pass paths and names, never data:

    stage_source   (jinbao.stage) extract -> standardise -> rules -> staging files
    validate_and_publish  (jinbao.validate) GX per source, then Data Docs (beside the loads)
    load_quarantined  quarantined rows of one source -> source_record + quarantine (one transaction)
    load_buckets   accepted rows of a group of buckets -> source_record, golden persons,
                   enrollments (load_bucket: of one)
    finish_run     leftover dirty people, run ledger, watermarks (only after every load committed)
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import delete

from jinbao import staging
from jinbao.config import Config
from jinbao.stage import (
    RECORD_COLUMNS,
    RECORD_SCHEMA,
    Stopwatch,
    new_run_id,
    peak_rss_mib,
    run_dir,
    stage_source,
)
from jinbao.validate import validate_and_publish
from jinbao.windows import window
from loaders.ledger import loads_of, record_run, watermarks
from loaders.reconciled import has_bucket, load_reconciled
from loaders.review import refresh_suspected_duplicates
from loaders.schema import ensure_schema
from loaders.warehouse import (
    NOTHING,
    analyze_changed_tables,
    build_indexes,
    defer_indexes,
    is_first_load,
    load_first_rows,
    load_source_rows,
    lock_buckets,
    recompute_dirty,
    record_load,
    tally_of,
    warehouse_engine,
)
from quality.masking import scrubbed
from schemas.warehouse import run_failure

Progress = Callable[[str, dict], None]
log = logging.getLogger("jinbao")
CHUNK_ROWS = 100_000
QUARANTINE_LOAD = -1  # run_load's bucket for a source's quarantined rows


def _read(paths: list[Path]) -> pd.DataFrame:
    frames = [pq.read_table(p).to_pandas() for p in paths if p.exists()]
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RECORD_COLUMNS)


def prepare_loads(cfg: Config) -> dict:
    """Before a run's loads: on a warehouse with no source row yet, source_record's secondary
    indexes are dropped for its first load (finish_run builds them); on one with rows, any
    index an interrupted first load left unbuilt is built now."""
    engine = warehouse_engine(cfg.warehouse_url)
    ensure_schema(engine)
    with engine.begin() as conn:
        deferred = defer_indexes(conn)
        built = [] if deferred else build_indexes(conn)
    engine.dispose()
    return {"deferred_indexes": deferred, "built_indexes": built}


def load_quarantined(cfg: Config, run_id: str, source_name: str) -> dict:
    """Load one source's quarantined rows of a run (one transaction)."""
    folder = run_dir(cfg, run_id) / "quarantined" / source_name
    engine = warehouse_engine(cfg.warehouse_url)
    ensure_schema(engine)
    rows, rules = _read([folder / "records.parquet"]), _read([folder / "rules.parquet"])
    tally: Counter = Counter()
    with engine.begin() as conn:
        lock_buckets(conn, range(cfg.buckets))  # its rows' people may live in any bucket
        changed = load_source_rows(conn, rows, cfg.buckets, quarantined=rules, tally=tally)
        record_load(conn, run_id, QUARANTINE_LOAD, tally)
    engine.dispose()
    log.info("source %s: %d quarantined rows, %d changed", source_name, len(rows), changed)
    return {"source_name": source_name, "rows": len(rows), "changed": changed}


def person_chunks(table: pa.Table, buckets: int, chunk_rows: int = CHUNK_ROWS
                  ) -> Iterator[pd.DataFrame]:
    """A bucket's rows in parts of about `chunk_rows`, never splitting a person's rows: part k
    holds the IDs whose first 17 digits, divided by the bucket count, are k modulo the parts."""
    parts = max(1, math.ceil(table.num_rows / chunk_rows))
    if parts == 1:
        yield table.to_pandas()
        return
    numbers = pc.cast(pc.utf8_slice_codeunits(table["id_number"], 0, 17), pa.int64())
    part = (numbers.to_numpy() // buckets) % parts
    for k in range(parts):
        yield table.filter(pa.array(part == k)).to_pandas()


def staged_sources(cfg: Config, run_id: str) -> list[str]:
    """The sources whose stage finished in this run (it wrote their manifest last). A source
    that failed mid-read may have left part files; they are never loaded."""
    return [m["source_name"] for m in manifests(cfg, run_id)]


def _staged_paths(cfg: Config, run_id: str, bucket: int) -> list[Path]:
    folder = run_dir(cfg, run_id) / "accepted"
    return [path for name in staged_sources(cfg, run_id)
            if (path := folder / name / f"part-{bucket:04d}.parquet").exists()]


def load_workers(workers: int | None, load_pool: ProcessPoolExecutor | None) -> int:
    """How many bucket loads run at once: the pool's workers, or one without a pool."""
    return (workers or os.cpu_count() or 1) if load_pool else 1


def bucket_groups(cfg: Config, run_id: str, workers: int) -> list[list[int]]:
    """The buckets in groups to load together: one bucket per group when the run brings many
    rows (a group's rows are held at once), fewer and larger groups (never fewer than
    `workers`) when it brings few, so that a run that changed a few thousand rows pays the
    reconciliation's fixed cost once per group rather than once per bucket."""
    rows = sum(pq.ParquetFile(path).metadata.num_rows for bucket in range(cfg.buckets)
               for path in _staged_paths(cfg, run_id, bucket))
    groups = min(cfg.buckets, max(workers, math.ceil(rows / CHUNK_ROWS)))
    return [[int(b) for b in part] for part in np.array_split(np.arange(cfg.buckets), groups)]


def load_bucket(cfg: Config, run_id: str, bucket: int, valid_from: datetime) -> dict:
    """load_buckets of one bucket."""
    return load_buckets(cfg, run_id, [bucket], valid_from)


def load_buckets(cfg: Config, run_id: str, group: list[int], valid_from: datetime) -> dict:
    """Load every staged source's accepted rows of a group of buckets and recompute their dirty
    people, in one transaction. Each bucket's rows are written apart (its own run_load
    figures), a part of the bucket at a time so memory does not grow with it; a lone bucket's
    people are reconciled after each part, a group's all at once at the end (bucket_groups
    forms groups only of few rows)."""
    engine = warehouse_engine(cfg.warehouse_url)
    ensure_schema(engine)
    clock = Stopwatch()
    rows, changed, people = 0, 0, dict(NOTHING)

    def count(result: dict[str, int]) -> None:
        for key in people:
            people[key] += result[key]

    with engine.begin() as conn:  # one transaction per group: rows and golden records
        lock_buckets(conn, group)
        for bucket in group:
            paths = _staged_paths(cfg, run_id, bucket)
            table = (pa.concat_tables([pq.read_table(p) for p in paths]) if paths
                     else RECORD_SCHEMA.empty_table())
            rows += table.num_rows
            tally: Counter = Counter()
            sources = pc.unique(table["source_system"]).to_pylist()
            first = bool(sources) and is_first_load(conn, run_id, bucket, sources)
            ahead = run_dir(cfg, run_id) / "reconciled"
            if first and has_bucket(ahead, bucket):  # reconciled on Spark: written as it is
                result = load_reconciled(conn, ahead, bucket, run_id, tally)
                changed += result["changed"]
                count(result)
                clock.lap("write_reconciled")
                record_load(conn, run_id, bucket, tally)
                continue
            for part in person_chunks(table, cfg.buckets):
                if first:
                    result = load_first_rows(conn, part, run_id, valid_from, cfg.buckets,
                                             cfg.survivorship)
                    tally_of(part, tally)
                    changed += result["changed"]
                    count(result)
                    clock.lap("write_first_rows")
                    continue
                changed += load_source_rows(conn, part, cfg.buckets, tally=tally)
                clock.lap("write_rows")
                if len(group) == 1:
                    count(recompute_dirty(conn, run_id, valid_from, cfg.buckets, group,
                                          cfg.survivorship))
                    clock.lap("reconcile")
            record_load(conn, run_id, bucket, tally)
        # the group's people (and any marked dirty by an earlier, interrupted run)
        count(recompute_dirty(conn, run_id, valid_from, cfg.buckets, group, cfg.survivorship))
        clock.lap("reconcile")
    engine.dispose()
    log.info("buckets %s: %d accepted rows, %d changed, %d persons written, %d removed",
             ",".join(map(str, group)), rows, changed, people["persons_written"],
             people["persons_removed"])
    return {"buckets": group, "rows": rows, "changed": changed, **people,
            "timings": clock.seconds, "peak_rss_mib": peak_rss_mib()}


def publish_data_docs(cfg: Config, run_id: str) -> dict:
    """The run's staged sources validated by GX (those not validated yet), and the results
    rendered into Data Docs; the index page and the results by source."""
    return validate_and_publish(cfg, run_id, staged_sources(cfg, run_id))


def manifests(cfg: Config, run_id: str) -> list[dict]:
    folder = run_dir(cfg, run_id) / "manifests"
    return [json.loads(p.read_text("utf-8")) for p in sorted(folder.glob("*.json"))]


def finish_run(cfg: Config, run_id: str, valid_from: datetime,
               before_ledger: Callable[[], object] | None = None, bulk=None) -> dict:
    """Recompute any people still dirty, then write the ledger and advance the watermarks.
    `before_ledger`: waited for before the ledger is written (the run's GX validation, which
    runs beside the loads and this; a run whose validation failed never commits). `bulk`:
    where a full match runs (loaders.matching.refresh)."""
    engine = warehouse_engine(cfg.warehouse_url)
    ensure_schema(engine)
    clock = Stopwatch()
    with engine.begin() as conn:  # before anything reads rows by ID number
        built = build_indexes(conn)
    clock.lap("build_indexes")
    with engine.begin() as conn:
        lock_buckets(conn, range(cfg.buckets))
        swept = recompute_dirty(conn, run_id, valid_from, cfg.buckets, policy=cfg.survivorship)
    clock.lap("sweep")
    with engine.begin() as conn:
        analyzed = analyze_changed_tables(conn)
    clock.lap("analyze")
    with engine.begin() as conn:
        lock_buckets(conn, range(cfg.buckets))  # another run's finish syncs the same cases
        suspects = refresh_suspected_duplicates(conn, run_id, bulk=bulk)
    clock.lap("match")
    if before_ledger is not None:
        before_ledger()
    clock.lap("validation_wait")
    staged = manifests(cfg, run_id)
    written = loads_of(engine, run_id)
    entries = [{
        "source_name": m["source_name"], "window_since": m["window_since"],
        "window_until": m["window_until"], "extracted": m["extracted"],
        "accepted": m["accepted"], "quarantined": m["quarantined"],
        "new_watermark": m["new_watermark"], "seconds": m["seconds"], "status": "loaded",
        "finished_at": datetime.now(UTC).replace(tzinfo=None),
        "new_rows": written.get(m["source_name"], (0, 0))[0],
        "changed_rows": written.get(m["source_name"], (0, 0))[1],
        "detail": json.dumps({k: m.get(k) for k in ("rules", "repairs", "warnings", "as_of")},
                             ensure_ascii=False),
    } for m in staged]
    stats = [{"source_name": m["source_name"], "pooling_region": region, "measure": measure,
              "item": item, "rows": rows}
             for m in staged for region, measure, item, rows in m.get("stats", [])]
    record_run(engine, run_id, entries, stats)
    engine.dispose()
    clock.lap("ledger")
    staging.committed(cfg.staging_root, run_id, cfg.retention_days)
    staging.sweep(cfg.staging_root, cfg.retention_days, cfg.abandoned_days, keep=run_id)
    clock.lap("staging_sweep")
    log.info("run %s committed: %d sources in the ledger, %d people recomputed at the end, "
             "suspected duplicates %s", run_id, len(entries), swept["persons_written"],
             {k: v for k, v in suspects.items() if isinstance(v, int)})
    return {"swept": swept, "sources": len(entries), "analyzed": analyzed, "built": built,
            "suspected_duplicates": suspects, "timings": clock.seconds}


def failure_reason(error: BaseException) -> str:
    """One line about an error, fit for the ledger: no personal data, no password."""
    from extractors.sql import reason

    known = ("SourceUnavailable", "SourceBroken", "ConfigError", "ExportFormatError",
             "WarehouseError", "RunLocked")
    text = str(error) if type(error).__name__ in known else (
        f"{type(error).__name__}: {reason(error)}")
    return scrubbed(text)[:2000]


def record_failure(cfg: Config, run_id: str, source: str, stage: str,
                   error: BaseException) -> None:
    """Keep why a run (or one source of it) failed, for `jinbao status`; best effort: a
    warehouse that cannot be written is why some runs fail."""
    try:
        engine = warehouse_engine(cfg.warehouse_url)
        with engine.begin() as conn:
            conn.execute(delete(run_failure).where(run_failure.c.run_id == run_id,
                                                   run_failure.c.source_name == source))
            conn.execute(run_failure.insert().values(
                run_id=run_id, source_name=source, stage=stage, reason=failure_reason(error),
                failed_at=datetime.now(UTC).replace(tzinfo=None, microsecond=0)))
        engine.dispose()
    except Exception as again:  # noqa: BLE001 - the first error is the one to report
        log.warning("run %s: could not record its failure (%s)", run_id, type(again).__name__)


def source_windows(cfg: Config, names: list[str], since: str | None,
                   until: str | None) -> dict[str, tuple[str | None, str | None]]:
    """Each source's window: the given bounds, else from its last committed watermark."""
    engine = warehouse_engine(cfg.warehouse_url)
    ensure_schema(engine)
    marks = watermarks(engine)
    engine.dispose()
    return {name: (since if since is not None else marks.get(name), until) for name in names}


@dataclass
class RunSummary:
    run_id: str
    sources: list[dict]
    buckets: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    matching: dict = field(default_factory=dict)  # the suspected-duplicate refresh's figures
    validation: dict = field(default_factory=dict)  # GX results by source, the Data Docs index
    finish_timings: dict[str, float] = field(default_factory=dict)  # the finish's steps
    failed: dict[str, str] = field(default_factory=dict)  # sources skipped, and why


def _gone(pid: int) -> bool:
    """Whether process `pid` has ended (a zombie counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] in "ZX"
    except (OSError, IndexError):
        return False


def _watch(run: int) -> None:
    while not _gone(run):
        time.sleep(0.5)
    os._exit(1)


def _die_with(run: int) -> None:
    """Worker start-up: the worker ends when the process that started the run dies (kill -9
    included), so no worker outlives its run. Its parent is the fork server, which outlives
    the run while workers live, so a watchdog thread checks on the run's process itself."""
    if _gone(run):
        os._exit(1)
    threading.Thread(target=_watch, args=(run,), daemon=True, name="jinbao-watchdog").start()


def worker_pool(workers: int | None = None) -> ProcessPoolExecutor | None:
    """Worker processes for stages and buckets, one per core by default (None for one worker:
    run in this process)."""
    workers = workers or os.cpu_count() or 1
    if workers <= 1:
        return None
    # Workers come from a fork server, not from this process: a process that has run DuckDB
    # (the linkage) cannot be forked safely (its objects crash the child's garbage collector).
    # The server imports the stages once; every worker it forks starts with them imported.
    # Not GX: it takes seconds to import, every worker would wait for it, and only the
    # validation worker needs it (it imports GX beside the loads).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["jinbao.runner"])
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_die_with,
                               initargs=(os.getpid(),))


def in_workers(pool: ProcessPoolExecutor | None, fn, items: list, note: Progress, start: str,
          done: str, key: str) -> list:
    """fn(item) for every item, in worker processes when there is a pool; results in order."""
    results: dict[int, object] = {}
    if pool is None:
        for i, item in enumerate(items):
            note(start, {key: item})
            results[i] = fn(item)
            note(done, results[i])
    else:
        futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
        for item in items:
            note(start, {key: item})
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            note(done, results[futures[future]])
    return [results[i] for i in range(len(items))]


def run_pipeline(cfg: Config, since: str | None = None, until: str | None = None,
                 sources: list[str] | None = None, progress: Progress | None = None,
                 started: datetime | None = None, run_id: str | None = None,
                 workers: int | None = None, pool: ProcessPoolExecutor | None = None
                 ) -> RunSummary:
    """Every stage in order: what `jinbao run` does. Sources are staged, and buckets loaded,
    in `workers` processes (default: one per core), or in `pool` when the caller keeps one
    across runs (a backfill does); a SQLite warehouse loads one bucket at a time, since SQLite
    has a single writer."""
    began = time.perf_counter()
    started = started or datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    run_id = run_id or new_run_id(started)
    note = progress or (lambda _stage, _detail: None)
    names = sources or list(cfg.sources)
    for name in names:
        cfg.source(name)  # fail early on an unknown source name
    windows = source_windows(cfg, names, *window(since, until))
    clock = Stopwatch()
    owned = pool is None
    pool = worker_pool(workers) if owned else pool
    load_pool = None if cfg.warehouse_url.startswith("sqlite") else pool
    step = "stage"
    try:
        try:
            staged = in_workers(pool, partial(_stage, cfg, run_id, windows), names, note,
                                "extract", "extracted", "source")
            clock.lap("stage_sources")
            step = "load"
            # GX validates the staged rows and renders the Data Docs beside the loads
            docs = pool.submit(publish_data_docs, cfg, run_id) if pool else None
            prepare_loads(cfg)
            in_workers(load_pool, partial(load_quarantined, cfg, run_id), names, note,
                       "quarantine", "quarantined", "source")
            clock.lap("load_quarantined")
            groups = bucket_groups(cfg, run_id, load_workers(workers, load_pool))
            loaded = in_workers(load_pool, partial(load_buckets, cfg, run_id,
                                                   valid_from=started),
                                groups, note, "load", "loaded", "buckets")
            clock.lap("load_buckets")
            step = "finish"
            note("finish", {})
            validation: dict = {}

            def validated_docs() -> None:
                validation.update(docs.result() if docs else publish_data_docs(cfg, run_id))

            finished = finish_run(cfg, run_id, started, before_ledger=validated_docs)
            clock.lap("finish")
        finally:
            if pool and owned:
                pool.shutdown(cancel_futures=True)
    except Exception as error:
        record_failure(cfg, run_id, getattr(error, "jinbao_source", ""), step, error)
        raise
    return RunSummary(run_id, staged, loaded, round(time.perf_counter() - began, 2),
                      clock.seconds, finished["suspected_duplicates"], validation,
                      finished["timings"])


def _stage(cfg: Config, run_id: str, windows: dict, name: str) -> dict:
    try:
        return stage_source(cfg, run_id, name, *windows[name])
    except Exception as error:
        error.jinbao_source = name  # kept across the worker boundary (pickled with __dict__)
        raise
