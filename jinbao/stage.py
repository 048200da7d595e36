"""The stage of one source: extract -> standardise -> rules -> staging files.

    <staging>/<run_id>/accepted/<source>/part-<bucket>.parquet   accepted rows, by person bucket
    <staging>/<run_id>/quarantined/<source>/{records,rules}.parquet
    <staging>/<run_id>/validation_rows/<source>.parquet           what GX validates (jinbao.validate)
    <staging>/<run_id>/manifests/<source>.json                   counts, rules, repairs, regions,
                                                                 warnings, watermark

Memory holds one batch, whatever the source's size; the manifest is written last, so a source
whose stage died has none and is never loaded.
"""

from __future__ import annotations

import json
import logging
import resource
import secrets
import shutil
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from extractors.registry import extract_batches, extract_notes
from extractors.sql import SourceUnavailable
from jinbao import staging
from jinbao.config import Config
from jinbao.stage_stats import StageStats, later, newest_watermark
from loaders.schema import ensure_schema
from loaders.warehouse import warehouse_engine
from quality.gx_validation import PASSES, validation_frame
from quality.outcomes import failed_rules, quarantine_rows, rule_lists
from schemas.fields import SOURCE_ROW
from schemas.rules import RULES
from schemas.warehouse import identity_override
from transforms.identity import with_merged_ids
from transforms.reconcile import bucket_of
from transforms.standardize import standardized

RECORD_COLUMNS = [
    "source_system", "source_key", "row_hash", "outcome", "id_number", "bucket", "claimed_id",
    "id_repairs", "name", "sex", "ethnicity", "birth_date", "scheme", "pooling_region", "status",
    "pay_status", "employer_id", "enrolled_on", "updated_at", "watermark", "run_id", "province",
]
HASHED = [c for c in RECORD_COLUMNS if c not in ("row_hash", "run_id", "bucket", "province")]

log = logging.getLogger("jinbao")


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (reported per stage, to find what grows)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def new_run_id(started: datetime) -> str:
    """A sortable, path-safe run id: run-20261125T143000-1a2b."""
    return f"run-{started:%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"


def safe_run_id(text: str) -> str:
    """An outside run id (Airflow's, say) made safe for paths and keys."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:64]


def run_dir(cfg: Config, run_id: str) -> Path:
    return staging.inside(cfg.staging_root, run_id)


def row_hashes(frame: pd.DataFrame, extra: pd.Series | None = None) -> pd.Series:
    """A stable 64-bit hash of each row's content (plus `extra`, e.g. the rules it failed)."""
    content = frame[HASHED].astype("string")
    if extra is not None:
        content = content.assign(_extra=extra.astype("string"))
    return pd.util.hash_pandas_object(content, index=False).astype("int64")


RECORD_SCHEMA = pa.schema([
    (name, {"row_hash": pa.int64(), "bucket": pa.int64(), "birth_date": pa.date32(),
            "enrolled_on": pa.date32(), "updated_at": pa.timestamp("us")}.get(name, pa.string()))
    for name in RECORD_COLUMNS])
VALIDATION_SCHEMA = pa.schema(
    [RECORD_SCHEMA.field(f.name) for f in SOURCE_ROW]
    + [(f"{PASSES}{rule.name}", pa.bool_()) for rule in RULES])
RULE_SCHEMA = pa.schema([(n, pa.string()) for n in (
    "source_system", "source_key", "rule", "detail", "raw_row", "run_id")])


def _arrow(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    table = pa.Table.from_pandas(frame[schema.names], preserve_index=False)
    return table.cast(schema)


class Stopwatch:
    """Seconds spent per step, summed over batches (for the manifest and the benchmark)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = round(self.seconds.get(step, 0.0) + now - self._last, 4)
        self._last = now


class StagingWriter:
    """Parquet files of one stage, appended batch by batch (one row group per batch)."""

    def __init__(self) -> None:
        self.writers: dict[Path, pq.ParquetWriter] = {}

    def write(self, path: Path, table: pa.Table) -> None:
        if path not in self.writers:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.writers[path] = pq.ParquetWriter(path, table.schema)
        self.writers[path].write_table(table)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


def source_records(raw: pa.Table, system: str, source_name: str, run_id: str,
                   buckets: int, merged: dict[str, str] | None = None,
                   as_of: datetime | None = None
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One raw batch -> (source_record rows, quarantine rows, rule failures per row).
    `merged`: source keys a reviewer merged into a person, with that person's number;
    `as_of`: when the run started, in the legacy systems' local time (a change time after it
    is quarantined)."""
    rows = with_merged_ids(standardized(raw, system), merged or {})
    if as_of is not None:
        rows["_as_of"] = pd.Timestamp(as_of)
    failures = failed_rules(rows)
    rejected = failures.any(axis=1).to_numpy()
    record = pd.DataFrame({
        "source_system": source_name,
        "source_key": rows["_source_key"],
        "outcome": pd.Series(np.where(rejected, "quarantined", "accepted"), index=rows.index,
                             dtype="string"),
        "id_number": rows["id_number"].where(~rejected),
        "claimed_id": rows["claimed_id"],
        "id_repairs": rows["id_repairs"],
        **{c: rows[c] for c in ("name", "sex", "ethnicity", "birth_date", "scheme",
                                "pooling_region", "status", "pay_status", "employer_id",
                                "enrolled_on", "updated_at")},
        "watermark": rows["_watermark"],
        "run_id": run_id,
        "province": pd.Series(pd.NA, index=rows.index, dtype="string"),  # the national tier's
    })
    record["row_hash"] = row_hashes(record, rule_lists(failures))
    record["bucket"] = bucket_of(record["id_number"].fillna("0"), buckets).where(~rejected)
    rules = quarantine_rows(rows, failures, raw).assign(source_system=source_name, run_id=run_id)
    return record[RECORD_COLUMNS], rules, failures


def merged_ids(cfg: Config, source_name: str) -> dict[str, str]:
    """The source's rows that reviewers merged into a person: source key -> ID number."""
    engine = warehouse_engine(cfg.warehouse_url)
    ensure_schema(engine)
    with engine.connect() as conn:
        found = conn.execute(select(identity_override.c.source_key, identity_override.c.id_number)
                             .where(identity_override.c.source_system == source_name)).all()
    engine.dispose()
    return dict(found)


def local_now(cfg: Config) -> datetime:
    """Now, as the legacy systems' naive local clocks say it ([airflow] timezone)."""
    return datetime.now(ZoneInfo(cfg.timezone)).replace(tzinfo=None, microsecond=0)


def stage_source(cfg: Config, run_id: str, source_name: str, since: str | None = None,
                 until: str | None = None, as_of: datetime | None = None) -> dict:
    """Extract, standardise and apply the rules to one source's window, batch by batch; write
    the staging files (GX validates them later: jinbao.validate). Memory holds one batch,
    whatever the source's size. A source that cannot be read (refused, or died mid-read) is
    tried again, cfg.retries times in all, with doubling pauses; then the stage fails with an
    error naming the source, and nothing was loaded.

    Returns the manifest: counts (extracted = accepted + quarantined), quarantine by rule and
    rows by ID repair, the same per pooling region, the window, the newest watermark not later
    than `as_of` (default: now, local time), and warnings.
    """
    as_of = as_of or local_now(cfg)
    for attempt in range(1, cfg.retries + 1):
        try:
            return _stage_once(cfg, run_id, source_name, since, until, as_of)
        except SourceUnavailable as error:
            if attempt == cfg.retries:
                raise SourceUnavailable(f"{error}; gave up after {attempt} attempts") from None
            pause = cfg.retry_delay * 2 ** (attempt - 1)
            log.warning("%s; attempt %d of %d, again in %.0f s", error, attempt, cfg.retries,
                        pause)
            time.sleep(pause)
    raise AssertionError("unreachable")


def _stage_once(cfg: Config, run_id: str, source_name: str, since: str | None,
                until: str | None, as_of: datetime) -> dict:
    began = time.perf_counter()
    source = cfg.source(source_name)
    folder = staging.run_folder(cfg.staging_root, run_id)
    for stage in ("accepted", "quarantined"):  # a retried stage starts clean
        shutil.rmtree(staging.inside(folder, stage, source_name), ignore_errors=True)
    for stale in (folder / "validation_rows" / f"{source_name}.parquet",
                  folder / "validation" / f"{source_name}.json"):
        stale.unlink(missing_ok=True)
    writer = StagingWriter()
    counts = {"extracted": 0, "accepted": 0, "quarantined": 0}
    rules: dict[str, int] = {}
    watermark, beyond = None, 0
    stats = StageStats()
    merged = merged_ids(cfg, source_name)
    clock = Stopwatch()
    try:
        for raw in extract_batches(source, since, until, run_id):
            clock.lap("extract")
            if raw.num_rows == 0:
                continue
            record, rule_rows, failures = source_records(raw, source.system, source_name,
                                                         run_id, cfg.buckets, merged, as_of)
            accepted = record[record["outcome"] == "accepted"]
            clock.lap("transform")
            for bucket, part in accepted.groupby("bucket"):
                writer.write(folder / "accepted" / source_name / f"part-{int(bucket):04d}.parquet",
                             _arrow(part, RECORD_SCHEMA))
            writer.write(folder / "quarantined" / source_name / "records.parquet",
                         _arrow(record[record["outcome"] == "quarantined"], RECORD_SCHEMA))
            writer.write(folder / "quarantined" / source_name / "rules.parquet",
                         _arrow(rule_rows, RULE_SCHEMA))
            counts["extracted"] += len(record)
            counts["accepted"] += len(accepted)
            counts["quarantined"] += len(record) - len(accepted)
            for name, count in failures.sum().items():
                if count:
                    rules[name] = rules.get(name, 0) + int(count)
            top, late = newest_watermark(record["watermark"], as_of)
            watermark, beyond = later(watermark, top), beyond + late
            stats.add(record, failures)
            # every row, before the split: GX's record shows what each rule rejected
            writer.write(folder / "validation_rows" / f"{source_name}.parquet",
                         _arrow(validation_frame(record, failures), VALIDATION_SCHEMA))
            clock.lap("stage_write")
            # free this batch before the next one is read: memory holds one batch, not two
            del raw, record, rule_rows, failures, accepted
    finally:
        writer.close()
    warnings = extract_notes(source, since, until)
    if beyond:
        warnings.append(f"{beyond:,} rows have a change time that cannot be read or lies after "
                        f"the run started ({as_of:%Y-%m-%d %H:%M:%S}): quarantined, and the "
                        "watermark does not pass them, so later runs read them again")
    manifest = {
        "source_name": source_name, "system": source.system, "run_id": run_id,
        "window_since": since, "window_until": until, **counts, "rules": rules,
        "repairs": stats.repairs(), "stats": stats.rows(), "warnings": warnings,
        "as_of": f"{as_of:%Y-%m-%d %H:%M:%S}",
        "new_watermark": watermark, "timings": clock.seconds,
        "peak_rss_mib": peak_rss_mib(),
        "seconds": round(time.perf_counter() - began, 3),
    }
    path = folder / "manifests" / f"{source_name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    log.info("source %s window (%s, %s]: extracted %d = accepted %d + quarantined %d (%.1f s)",
             source_name, since, until, manifest["extracted"], manifest["accepted"],
             manifest["quarantined"], manifest["seconds"])
    return manifest
