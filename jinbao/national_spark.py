"""The national tier's bulk work on Spark: what grows with the country, not with one run's
changes. Two steps, each the same computation as on one machine, spread over Spark's workers:

    reconcile_first_load   a first national load (an empty national warehouse): every staged
                           province row's person, grouped by person, reconciled by
                           loaders.reconciled (golden records, enrollments, cases), written as
                           Parquet under the run's staging folder for the bucket loads
    SparkMatcher           a full match (the first, a retrained model, `match rerun`): entities
                           built, the model trained on its sample and every candidate pair
                           scored on Spark (transforms.linkage.on_spark)

Incremental national runs (what the provinces changed) stay bucket by bucket against the
warehouse, and their matching against its indexes: their work is the size of the change.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from sqlalchemy import Connection

from jinbao.config import Config
from jinbao.stage import run_dir
from loaders.bulk import read_frame
from loaders.reconciled import BUCKET, SCHEMA, TABLE, reconciled_table
from loaders.warehouse import picks, warehouse_engine
from transforms.linkage import model, on_spark
from transforms.linkage.entities import COLUMNS, STRING
from transforms.survivorship import Survivorship

log = logging.getLogger("jinbao")
GROUP_ROWS = 100_000
"""Rows a Spark task reconciles at once (its memory grows with them), as a bucket's load
reads a part at a time (runner.CHUNK_ROWS)."""


def reconciled_folder(cfg: Config, run_id: str) -> Path:
    return run_dir(cfg, run_id) / "reconciled"


def _group_work(run_id: str, valid_from: datetime, buckets: int, policy: Survivorship | None,
                chosen: pd.DataFrame):
    """The function Spark runs on each group (typed: PySpark tells its kind by the hints)."""

    def reconciled(table: pa.Table) -> pa.Table:
        return reconciled_table(table.drop_columns(["_group"]), run_id, valid_from, buckets,
                                policy, chosen)

    return reconciled


def reconcile_first_load(spark, cfg: Config, run_id: str, valid_from: datetime,
                         provinces: list[str]) -> dict:
    """Reconcile the staged accepted rows of these provinces (every person of a first load) on
    Spark; the results go to reconciled_folder for the bucket loads. Returns rows, groups and
    seconds."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    began = time.perf_counter()
    folder = run_dir(cfg, run_id) / "accepted"
    paths = [str(p) for name in provinces for p in sorted((folder / name).glob("part-*.parquet"))]
    if not paths:
        return {"rows": 0, "groups": 0, "seconds": 0.0}
    rows = spark.read.parquet(*paths)
    total = rows.count()
    parts = max(1, math.ceil(total / cfg.buckets / GROUP_ROWS))
    # a person's rows stay in one group: the bucket, then a part of it by the number (as
    # runner.person_chunks splits a bucket's load)
    number = F.substring("id_number", 1, 17).cast("long")
    grouped = rows.withColumn("_group", F.col("bucket") * parts
                              + F.pmod(F.floor(number / cfg.buckets), F.lit(parts)))
    engine = warehouse_engine(cfg.warehouse_url)
    with engine.connect() as conn:
        chosen = picks(conn)
    engine.dispose()
    work = _group_work(run_id, valid_from, cfg.buckets, cfg.survivorship, chosen)
    spark.conf.set("spark.sql.shuffle.partitions", str(on_spark.partitions_for(total)))
    out = reconciled_folder(cfg, run_id)
    (grouped.groupBy("_group").applyInArrow(work, from_arrow_schema(SCHEMA))
     .write.mode("overwrite").partitionBy(TABLE, BUCKET).parquet(str(out)))
    seconds = round(time.perf_counter() - began, 2)
    log.info("spark: %d rows of %d provinces reconciled in %d groups (%.1f s)", total,
             len(provinces), cfg.buckets * parts, seconds)
    return {"rows": total, "groups": cfg.buckets * parts, "seconds": seconds}


class SparkMatcher:
    """A full match on Spark, for loaders.matching.refresh: `entities` on Spark, `parts` of
    them for the match index, `trained` and `links` learnt and scored over them. The session
    (jinbao.spark.LazySession) starts only when a full match is asked for."""

    def __init__(self, session, scratch: Path) -> None:
        self.session, self.scratch = session, scratch

    @property
    def spark(self):
        return self.session.get()

    def _exported(self, conn: Connection, name: str, query, chunk: int = 500_000):
        """A warehouse query's rows as a Parquet file Spark reads (read and written a chunk
        at a time: the country's persons do not fit in one frame)."""
        from loaders.matching import _text

        self.scratch.mkdir(parents=True, exist_ok=True)
        path = self.scratch / f"{name}.parquet"
        writer = None
        try:
            for part in _chunks(conn, query, chunk):
                table = pa.Table.from_pandas(_text(part), preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(path, table.schema)
                writer.write_table(table.cast(writer.schema))
        finally:
            if writer is not None:
                writer.close()
        if writer is None:  # nothing: an empty file of the query's columns
            frame = _text(read_frame(conn, query.limit(0)))
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
        return self.spark.read.parquet(str(path))

    def entities(self, conn: Connection, persons_query, loose_query):
        """Every entity of the warehouse's persons and loose rows (the queries'), on Spark,
        written once under the scratch folder."""
        persons = self._exported(conn, "persons", persons_query)
        loose = self._exported(conn, "loose", loose_query)
        path = self.scratch / "entities"
        on_spark.entities_of(persons, loose).write.mode("overwrite").parquet(str(path))
        return self.spark.read.parquet(str(path))

    def parts(self, _entities, rows: int = 500_000):
        """The entities as frames of `rows`, for the match index (read from what entities
        wrote, a part at a time)."""
        for batch in ds.dataset(str(self.scratch / "entities")).to_batches(batch_size=rows):
            yield batch.to_pandas(types_mapper={pa.string(): STRING}.get)[list(COLUMNS)]

    def trained(self, entities) -> tuple[dict, float]:
        """model.trained over the entities: the sample taken on Spark, trained on it here."""
        return model.trained_on(on_spark.training_sample(entities))

    def links(self, entities, stored_model: dict, threshold: float, national: bool
              ) -> tuple[pd.DataFrame, int]:
        """The scored pairs at or above the threshold (between provinces only, at the national
        tier), as model.scored gives them, and how many pairs were scored from FLOOR up."""
        from pyspark.sql import functions as F

        pairs = on_spark.scored(self.spark, entities, stored_model)
        if national:  # the region's first two digits: its province
            pairs = pairs.where(F.substring("region_l", 1, 2) != F.substring("region_r", 1, 2))
        path = self.scratch / "pairs"
        pairs.drop("region_l", "region_r").write.mode("overwrite").parquet(str(path))
        pairs = self.spark.read.parquet(str(path))
        kept = pairs.where(F.col("match_probability") >= threshold).toArrow().to_pandas(
            types_mapper={pa.string(): STRING}.get)
        return kept, pairs.count()


def _chunks(conn: Connection, query, size: int):
    """The query's rows in frames of `size` (read_frame of each slice by row offset would
    re-run the query: one result, read a part at a time)."""
    # the option for this statement alone: set on the connection, it would stay, and every
    # later statement (a DELETE) would be sent through a server-side cursor
    result = conn.execute(query, execution_options={"yield_per": size})
    for part in result.partitions():
        yield pd.DataFrame(part, columns=list(result.keys()))

