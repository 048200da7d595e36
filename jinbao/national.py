"""The national tier: province warehouses (read only) -> the ministry's national warehouse.

A national run is a consolidation whose sources are the provinces' committed source rows: a
province's source 'pension' is the national source 'anhui/pension', its rows keep their content
and row hash and gain the province's name. So the national person of a citizen is computed by the
province tier's own rules (survivorship with provenance: `name_source` = 'anhui/pension|1234'),
over every province's rows of that ID number, and the national cases are those between
provinces (transforms.cases: two provinces' rows disagreeing, active enrollments of one scheme
family in two provinces).

    stage_province   the rows of the province runs committed since the last national run
                     (by the province ledger's commit times) -> staging files, like a stage's
    national_run     every province staged, then the loads and finish of jinbao.runner

The watermark of a province (watermark.source_name = the province's name) is the commit time of
the last province run read; a province run that has not committed yet is read by the next run.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine, create_engine, func, literal, make_url, or_, select, tuple_
from sqlalchemy.exc import DBAPIError, OperationalError

from jinbao import runner, staging
from jinbao.config import Config, resolved_url, service_settings
from jinbao.config_model import NationalFile, read_file
from jinbao.errors import SourceBroken, SourceUnavailable
from jinbao.marts import store_insured_stats
from jinbao.national_spark import SparkMatcher, reconcile_first_load
from jinbao.progress import (
    change_marks,
    counted_from,
    national_case_figures,
    province_figures,
    store_counted_from,
    store_progress,
    stored_status,
)
from jinbao.runner import failure_reason
from jinbao.spark import LazySession, SparkSettings
from jinbao.stage import (
    RECORD_COLUMNS,
    RECORD_SCHEMA,
    RULE_SCHEMA,
    StagingWriter,
    Stopwatch,
    local_now,
    new_run_id,
    peak_rss_mib,
)
from loaders.ledger import loads_of, watermarks
from loaders.schema import ensure_schema
from loaders.warehouse import warehouse_engine
from schemas.identity import ID_RULES
from schemas.warehouse import (
    identity_override,
    quarantine,
    review_decision,
    run_ledger,
    source_record,
)
from transforms.reconcile import bucket_of
from transforms.survivorship import Survivorship

log = logging.getLogger("jinbao")
BATCH_ROWS = 100_000
"""Rows read from a province at a time (memory holds one batch)."""
MOMENT = "%Y-%m-%d %H:%M:%S.%f"


@dataclass(frozen=True)
class NationalConfig:
    """The ministry's warehouse and staging (as a consolidation's) and the provinces'."""

    consolidation: Config
    """Warehouse, staging, buckets and survivorship of the national warehouse."""
    provinces: dict[str, str] = field(default_factory=dict)
    """Province name -> its warehouse's URL (read only)."""
    spark: SparkSettings = SparkSettings()
    """Where a first load and a full match run (jinbao.national_spark)."""


def load_national_config(path: str | Path) -> NationalConfig:
    """Read a national.toml (relative paths and SQLite URLs from the file's folder)."""
    path = Path(path).resolve()
    model = read_file(path, NationalFile)
    base = path.parent
    consolidation = Config(
        warehouse_url=resolved_url(model.warehouse.url, base, f"{path}: [warehouse]"),
        staging_root=(base / model.staging.root).resolve(),
        gx_root=(base / model.staging.gx_root).resolve(),
        buckets=model.staging.buckets, path=path,
        retention_days=model.staging.retention_days,
        abandoned_days=model.staging.abandoned_days,
        lock_wait=model.run.lock_wait, survivorship=Survivorship(),
        timezone=model.airflow.timezone,
        service=service_settings(model.service, f"{path}: [service]"))
    provinces = {name: resolved_url(spec.warehouse, base, f"{path}: [provinces.{name}]")
                 for name, spec in model.provinces.items()}
    spark = SparkSettings(model.spark.enabled, model.spark.master, dict(model.spark.conf))
    return NationalConfig(consolidation, provinces, spark)


def province_engine(url: str) -> Engine:
    """The province's warehouse, opened so that nothing can be written to it."""
    target = make_url(url)
    if target.get_backend_name() == "sqlite":
        database = target.database or ""
        if not Path(database).exists():
            raise SourceBroken(f"province warehouse {database} does not exist")
        return create_engine("sqlite://", creator=lambda: sqlite3.connect(
            f"file:{database}?mode=ro", uri=True))
    if target.get_backend_name() == "postgresql":
        return create_engine(url, connect_args={
            "options": "-c default_transaction_read_only=on"})
    return create_engine(url)


def _runs_since(conn, since: str | None) -> tuple[list[str], str | None]:
    """The province runs committed after `since` (a commit time), and the last commit time."""
    finished = func.max(run_ledger.c.finished_at)
    query = select(run_ledger.c.run_id, finished).group_by(run_ledger.c.run_id)
    if since:
        query = query.having(finished > datetime.strptime(since, MOMENT))
    runs = conn.execute(query).all()
    times = [t if isinstance(t, datetime) else datetime.fromisoformat(str(t))
             for _, t in runs if t is not None]
    return [r for r, _ in runs], (f"{max(times):{MOMENT}}" if times else since)


def _province_rows(frame: pd.DataFrame, province: str, run_id: str, buckets: int,
                   merged: dict[str, str], lifted: set[str]) -> pd.DataFrame:
    """A province's source rows as the national tier's: source 'anhui/pension', the province
    named, the national bucket, this run's id, content unchanged; the row hash also covers the
    person and outcome the province gave the row (a province's merge changes them, not the
    hash it keeps for the row's content). `merged`: the rows a national merge gave a person
    ('anhui/pension|key' -> number); `lifted`: those of them quarantined only for their ID
    number, which the merge accepted."""
    given = frame[["row_hash", "id_number", "outcome"]].astype("string")
    frame = frame.assign(source_system=province + "/" + frame["source_system"].astype("string"),
                         province=province, run_id=run_id,
                         row_hash=pd.util.hash_pandas_object(given, index=False).astype("int64"))
    if merged:
        keys = frame["source_system"] + "|" + frame["source_key"].astype("string")
        target = keys.map(merged)
        hit = target.notna().to_numpy()
        frame.loc[hit, "id_number"] = target[hit]
        frame.loc[hit & keys.isin(lifted).to_numpy(), "outcome"] = "accepted"
    accepted = frame["outcome"] == "accepted"
    return frame.assign(bucket=bucket_of(frame["id_number"].fillna("0"), buckets)
                        .where(accepted))


def _moved_since(conn, since: str | None) -> set[tuple[str, str]]:
    """The rows the province's merges (or their undoing) gave another person since `since`:
    a decision changes rows in place, in no province run, so the runs alone would miss them."""
    decided = review_decision.c
    query = select(decided.detail).where(decided.decision == literal("merge"))
    if since:
        moment = datetime.strptime(since, MOMENT)
        query = query.where(or_(decided.decided_at > moment, decided.undone_at > moment))
    return {(row["source_system"], row["source_key"]) for detail in conn.execute(query).scalars()
            for row in json.loads(detail or "{}").get("rows", [])}


def _by_keys(table, keys: list[tuple[str, str]]):
    return tuple_(table.c.source_system, table.c.source_key).in_(keys)


def _national_merges(engine: Engine, province: str) -> dict[str, str]:
    """The province's rows that a national merge decision gave a person."""
    with engine.connect() as conn:
        found = conn.execute(select(identity_override.c.source_system,
                                    identity_override.c.source_key, identity_override.c.id_number)
                             .where(identity_override.c.source_system.like(f"{province}/%")))
        return {f"{system}|{key}": number for system, key, number in found}


def stage_province(cfg: NationalConfig, run_id: str, province: str) -> dict:
    """Stage the rows of the province's runs committed since its national watermark, and the
    rows its merges (or their undoing) moved since, as the stage of a source does (accepted
    rows by bucket, quarantined rows with their rules, a manifest written last)."""
    began = time.perf_counter()
    national = cfg.consolidation
    folder = staging.run_folder(national.staging_root, run_id)
    for stage in ("accepted", "quarantined"):
        shutil.rmtree(staging.inside(folder, stage, province), ignore_errors=True)
    target = warehouse_engine(national.warehouse_url)
    ensure_schema(target)
    since = watermarks(target).get(province)
    merged = _national_merges(target, province)
    target.dispose()
    engine = province_engine(cfg.provinces[province])
    counts = {"extracted": 0, "accepted": 0, "quarantined": 0, "moved_by_decisions": 0}
    rules: dict[str, int] = {}
    writer, clock = StagingWriter(), Stopwatch()
    columns = [source_record.c[c] for c in RECORD_COLUMNS if c != "province"]
    try:
        with engine.connect() as conn:
            runs, newest = _runs_since(conn, since)
            moved = sorted(_moved_since(conn, since))
            # a run's rows by its id; the rows decisions moved by their keys (once: not those
            # of a run read already)
            scopes = [(source_record.c.run_id.in_(chosen), quarantine.c.run_id.in_(chosen), False)
                      for chosen in (runs[i:i + 500] for i in range(0, len(runs), 500))]
            scopes += [(_by_keys(source_record, keys), _by_keys(quarantine, keys), True)
                       for keys in (moved[i:i + 500] for i in range(0, len(moved), 500))]
            read_runs = set(runs)
            for rows_in, rules_in, by_key in scopes:
                found = pd.DataFrame(conn.execute(select(quarantine).where(rules_in)).all(),
                                     columns=RULE_SCHEMA.names)
                if by_key:
                    found = found[~found["run_id"].isin(read_runs)]
                found = found.assign(source_system=province + "/" + found["source_system"],
                                     run_id=run_id)
                keys = found["source_system"] + "|" + found["source_key"]
                only_id = found.groupby(keys)["rule"].agg(lambda r: set(r) <= set(ID_RULES))
                lifted = set(only_id.index[only_id.astype(bool).to_numpy()]) & set(merged)
                found = found[~keys.isin(lifted).to_numpy()]
                result = conn.execute(select(*columns).where(rows_in),
                                      execution_options={"yield_per": BATCH_ROWS})
                for batch in result.partitions():
                    frame = pd.DataFrame(batch, columns=result.keys())
                    if by_key:
                        frame = frame[~frame["run_id"].isin(read_runs)]
                        counts["moved_by_decisions"] += len(frame)
                    frame = _province_rows(frame, province, run_id, national.buckets, merged,
                                           lifted)
                    _write(writer, folder, province, frame)
                    counts["extracted"] += len(frame)
                    counts["accepted"] += int((frame["outcome"] == "accepted").sum())
                clock.lap("read")
                writer.write(folder / "quarantined" / province / "rules.parquet",
                             pa.Table.from_pandas(found, preserve_index=False).cast(RULE_SCHEMA))
                for name, count in found.groupby("rule").size().items():
                    rules[name] = rules.get(name, 0) + int(count)
    except (SourceBroken, SourceUnavailable):
        raise
    except OperationalError as error:
        raise SourceUnavailable(f"province {province}: its warehouse cannot be reached "
                                f"({failure_reason(error)})") from None
    except DBAPIError as error:
        raise SourceBroken(f"province {province}: its warehouse cannot be read as a jinbao "
                           f"warehouse ({failure_reason(error)})") from None
    finally:
        writer.close()
        engine.dispose()
    counts["quarantined"] = counts["extracted"] - counts["accepted"]
    manifest = {
        "source_name": province, "system": "province", "run_id": run_id,
        "window_since": since, "window_until": newest, **counts, "rules": rules,
        "repairs": {}, "stats": [], "warnings": [], "province_runs": len(runs),
        "as_of": f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}", "new_watermark": newest,
        "timings": clock.seconds, "peak_rss_mib": peak_rss_mib(),
        "seconds": round(time.perf_counter() - began, 3),
    }
    path = folder / "manifests" / f"{province}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    log.info("province %s: %d province runs since %s, %d rows = %d accepted + %d quarantined",
             province, len(runs), since or "the start", counts["extracted"],
             counts["accepted"], counts["quarantined"])
    return manifest


def _write(writer: StagingWriter, folder: Path, province: str, frame: pd.DataFrame) -> None:
    accepted = frame["outcome"] == "accepted"
    for bucket, part in frame[accepted].groupby("bucket"):
        writer.write(folder / "accepted" / province / f"part-{int(bucket):04d}.parquet",
                     _arrow(part))
    writer.write(folder / "quarantined" / province / "records.parquet", _arrow(frame[~accepted]))


def _arrow(frame: pd.DataFrame) -> pa.Table:
    frame = frame.assign(birth_date=pd.to_datetime(frame["birth_date"]).dt.date,
                         enrolled_on=pd.to_datetime(frame["enrolled_on"]).dt.date,
                         updated_at=pd.to_datetime(frame["updated_at"]))
    return pa.Table.from_pandas(frame[RECORD_SCHEMA.names], preserve_index=False
                                ).cast(RECORD_SCHEMA)


def record_progress(cfg: NationalConfig, run_id: str, month: str, changed: bool,
                    national_marks: dict) -> dict[str, str]:
    """The month's progress figures of every province (jinbao.progress), stored in the national
    warehouse; each province's status. A province whose warehouse and national cases give the
    marks its figures were counted from keeps them, when this run `changed` nothing."""
    engine = warehouse_engine(cfg.consolidation.warehouse_url)
    statuses = {}
    with engine.begin() as conn:
        for province, url in cfg.provinces.items():
            scope = f"progress:{province}"
            try:
                source = province_engine(url)
                with source.connect() as read:
                    marks = {"province": change_marks(read), "national": national_marks}
                    kept = stored_status(conn, month, province)
                    if not changed and kept and counted_from(conn, month, scope) == marks:
                        statuses[province] = kept
                        continue
                    figures = province_figures(read, month)
                source.dispose()
            except (SourceBroken, DBAPIError) as error:
                log.warning("province %s: no progress figures (%s)", province,
                            failure_reason(error))
                figures, marks = [("status", "", None, "unreachable")], {}
            figures += national_case_figures(conn, province)
            store_progress(conn, month, province, figures, run_id)
            store_counted_from(conn, month, scope, marks, run_id)
            statuses[province] = next(t for m, _, _, t in figures if m == "status")
    engine.dispose()
    return statuses


def record_insured_stats(cfg: NationalConfig, run_id: str, month: str, changed: bool,
                         national_marks: dict) -> int | None:
    """The month's insured statistics (jinbao.marts), counted again unless this run `changed`
    nothing and the national warehouse gives the marks they were counted from; the groups
    counted (None: kept)."""
    engine = warehouse_engine(cfg.consolidation.warehouse_url)
    with engine.begin() as conn:
        marks = {"national": national_marks}
        if not changed and counted_from(conn, month, "insured_stats") == marks:
            groups = None
        else:
            groups = store_insured_stats(conn, month, run_id)
            store_counted_from(conn, month, "insured_stats", marks, run_id)
    engine.dispose()
    return groups


def changed_anything(cfg: NationalConfig, run_id: str, finished: dict) -> bool:
    """Whether the run wrote a source row, recomputed a person or moved a case."""
    engine = warehouse_engine(cfg.consolidation.warehouse_url)
    written = loads_of(engine, run_id)
    engine.dispose()
    swept, matched = finished["swept"], finished["suspected_duplicates"]
    return bool(any(new or old for new, old in written.values())
                or swept["persons_written"] or swept["persons_removed"]
                or matched.get("opened") or matched.get("withdrawn"))


def national_run(cfg: NationalConfig, workers: int | None = None,
                 progress: runner.Progress | None = None) -> runner.RunSummary:
    """Stage every province (in worker processes), then load and finish as a province run
    does: persons, enrollments and cases of the people whose rows changed, the ledger and a
    watermark per province. A first load (an empty national warehouse) is reconciled on Spark
    and every full match runs there, when [spark] is enabled."""
    began = time.perf_counter()
    national = cfg.consolidation
    started = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    run_id = new_run_id(started)
    note = progress or (lambda _stage, _detail: None)
    spark = spark_of(cfg, run_id)  # PySpark missing: said before anything is read
    engine = warehouse_engine(national.warehouse_url)
    ensure_schema(engine)
    engine.dispose()
    clock = Stopwatch()
    pool = runner.worker_pool(workers)
    load_pool = None if national.warehouse_url.startswith("sqlite") else pool
    names = list(cfg.provinces)
    try:
        tried = runner.in_workers(pool, partial(_staged_or_failed, cfg, run_id), names, note,
                                  "extract", "extracted", "source")
        staged = [m for m in tried if "failed" not in m]
        failed = {m["source_name"]: m["failed"] for m in tried if "failed" in m}
        if not staged:
            raise SourceUnavailable("no province warehouse could be read: " + "; ".join(
                failed.values()))
        clock.lap("stage_provinces")
        note("reconcile", {})
        prepare_loads(cfg, run_id, started, [m["source_name"] for m in staged], spark)
        clock.lap("prepare_loads")
        runner.in_workers(load_pool, partial(runner.load_quarantined, national, run_id),
                          [m["source_name"] for m in staged], note, "quarantine",
                          "quarantined", "source")
        clock.lap("load_quarantined")
        groups = runner.bucket_groups(national, run_id, runner.load_workers(workers, load_pool))
        loaded = runner.in_workers(load_pool, partial(runner.load_buckets, national, run_id,
                                                      valid_from=started),
                                   groups, note, "load", "loaded", "buckets")
        clock.lap("load_buckets")
        note("finish", {})
        finished = finish_national(cfg, run_id, started, failed, spark)
        clock.lap("finish")
    except Exception as error:
        runner.record_failure(national, run_id, getattr(error, "jinbao_source", ""), "national",
                              error)
        raise
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
        if spark is not None:
            spark.close()
    return runner.RunSummary(run_id, staged, loaded, round(time.perf_counter() - began, 2),
                             clock.seconds, finished["suspected_duplicates"], {},
                             finished["timings"], failed)


def prepare_loads(cfg: NationalConfig, run_id: str, started: datetime, staged: list[str],
                  spark: LazySession | None) -> dict:
    """runner.prepare_loads; a first load (the national warehouse empty) is then reconciled on
    `spark`, so that each bucket's load writes what Spark computed."""
    prepared = runner.prepare_loads(cfg.consolidation)
    if spark is None or not prepared["deferred_indexes"]:
        return {**prepared, "reconciled": {}}
    return {**prepared, "reconciled": reconcile_first_load(spark.get(), cfg.consolidation,
                                                           run_id, started, staged)}


def spark_of(cfg: NationalConfig, run_id: str) -> LazySession | None:
    """The run's Spark session, started when first used (None: [spark] is disabled). Its files
    live in the run's staging folder, removed with it."""
    if not cfg.spark.enabled:
        return None
    return LazySession(cfg.spark, staging.inside(cfg.consolidation.staging_root, run_id)
                       / "spark")


def finish_national(cfg: NationalConfig, run_id: str, started: datetime,
                    failed: dict[str, str], spark: LazySession | None = None) -> dict:
    """The finish of a national run: runner.finish_run (people left dirty, matching, ledger and
    watermarks; a full match on `spark`), then the month's progress figures and insured
    statistics, and the provinces that could not be read recorded as the run's failures."""
    national = cfg.consolidation
    matcher = None if spark is None else SparkMatcher(spark, spark.scratch / "matching")
    finished = runner.finish_run(national, run_id, started, bulk=matcher)
    began = time.perf_counter()
    month = f"{local_now(national):%Y-%m}"
    changed = changed_anything(cfg, run_id, finished)
    engine = warehouse_engine(national.warehouse_url)
    with engine.connect() as conn:
        marks = change_marks(conn, runs=False)
    engine.dispose()
    statuses = record_progress(cfg, run_id, month, changed, marks)
    groups = record_insured_stats(cfg, run_id, month, changed, marks)
    for province, reason in failed.items():
        runner.record_failure(national, run_id, province, "stage", SourceUnavailable(reason))
    finished["timings"]["progress"] = round(time.perf_counter() - began, 4)
    return {**finished, "month": month, "statuses": statuses, "insured_groups": groups}


def _staged_or_failed(cfg: NationalConfig, run_id: str, province: str) -> dict:
    """stage_province, or why the province could not be read: one province that is down or
    misnamed never holds back the others (it is read again next run, from its watermark)."""
    try:
        return stage_province(cfg, run_id, province)
    except (SourceBroken, SourceUnavailable) as error:
        log.warning("%s; the other provinces go on", error)
        return {"source_name": province, "failed": str(error)}
