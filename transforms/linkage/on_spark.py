"""Linkage on Spark, for indexes too large for one machine: the same entities, the same model and
the same training sample as on DuckDB (transforms.linkage.entities and .model), with Splink's
Spark backend scoring every candidate pair. Spark DataFrames in, Spark DataFrames out; what
comes back to the driver is bounded: a training sample, and the pairs that make cases.

    entities_of      entity rows (entities.entity_frame) from persons and loose rows, per batch
    training_sample  model.training_sample, computed on Spark (the same rows, by the same hash)
    scored           model.scored on Spark: candidate pairs from FLOOR up
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import pandas as pd
import pyarrow as pa

from transforms.linkage import model
from transforms.linkage.entities import COLUMNS, STRING, entity_frame

log = logging.getLogger(__name__)
ENTITY_SCHEMA = pa.schema([(c, pa.int8() if c in ("is_person", "changed") else pa.string())
                           for c in COLUMNS])
PERSON_INPUT = ("id_number", "name", "sex", "birth_date", "region", "employer")
LOOSE_INPUT = ("source_system", "source_key", "claimed_id", "name", "sex", "birth_date",
               "pooling_region", "employer_id")


def _entity_batches(batches: Iterator[pa.RecordBatch], persons: bool
                    ) -> Iterator[pa.RecordBatch]:
    empty = {name: pd.Series(dtype="string") for name in (LOOSE_INPUT if persons
                                                           else PERSON_INPUT)}
    for batch in batches:
        if batch.num_rows == 0:
            continue
        frame = batch.to_pandas()
        for column in frame.columns:
            if column != "birth_date":
                frame[column] = frame[column].astype("string")
        found = (entity_frame(frame, pd.DataFrame(empty)) if persons
                 else entity_frame(pd.DataFrame(empty), frame))
        yield from pa.Table.from_pandas(found, preserve_index=False).cast(
            ENTITY_SCHEMA).to_batches()


def _spark_schema():
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(ENTITY_SCHEMA)


def entities_of(persons, loose):
    """The entities of persons (Spark DataFrame: PERSON_INPUT) and rows quarantined for their
    ID (LOOSE_INPUT), derived batch by batch as entities.entity_frame derives them."""
    schema = _spark_schema()
    return (persons.select(*PERSON_INPUT).mapInArrow(
        lambda b: _entity_batches(b, persons=True), schema)
        .unionByName(loose.select(*LOOSE_INPUT).mapInArrow(
            lambda b: _entity_batches(b, persons=False), schema)))


def _block_pairs(entities, key: str) -> int:
    from pyspark.sql import functions as F

    sizes = entities.where(F.col(key).isNotNull()).groupBy(key).count()
    found = sizes.agg(F.sum(F.col("count") * (F.col("count") - 1) / 2)).first()[0]
    return int(found or 0)


def _sampled(batches: Iterator[pa.RecordBatch], share: float) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        frame = batch.to_pandas()
        kept = model.sampled(frame, share)
        yield from pa.Table.from_pandas(kept, preserve_index=False).cast(
            ENTITY_SCHEMA).to_batches()


def training_sample(entities) -> pd.DataFrame:
    """model.training_sample of the entities, as a pandas frame on the driver: the share is
    chosen from the block sizes over all entities, the rows by a hash of each one's id."""
    largest = max(_block_pairs(entities, key) for key in model.EM_KEYS)
    share = model.sample_share(largest, entities.count())
    if share < 1:
        entities = entities.mapInArrow(lambda b: _sampled(b, share), _spark_schema())
    sample = entities.toArrow().cast(ENTITY_SCHEMA)
    return sample.to_pandas(types_mapper={pa.string(): STRING}.get).sort_values(
        "unique_id", ignore_index=True)


def term_frequency_lookups(entities) -> dict:
    """Per term-frequency column, each value's share of the non-null values (Spark)."""
    from pyspark.sql import functions as F

    out = {}
    for column in model.TF_COLUMNS:
        present = entities.where(F.col(column).isNotNull())
        total = max(present.count(), 1)
        out[column] = present.groupBy(column).count().select(
            column, (F.col("count") / F.lit(total)).alias(f"tf_{column}"))
    return out


def scored(spark, entities, stored_model: dict):
    """Every candidate pair of the entities (Spark DataFrame) from the blocking rules, scored by
    the model, from model.FLOOR up: the columns model.scored keeps."""
    from splink import Linker, SparkAPI

    # Splink spreads the blocked pairs over this many partitions: a few per core for a test's
    # hundreds of entities, more as the entities grow (each partition's pairs are held at once)
    partitions = max(spark.sparkContext.defaultParallelism * 2,
                     partitions_for(entities.count(), 50_000))
    db = SparkAPI(spark_session=spark, num_partitions_on_repartition=partitions)
    table = db.register(entities, dataset_display_name="entities")
    linker = Linker(table, model.in_dialect(stored_model, "spark"), log_level=logging.WARNING)
    for column, frequencies in term_frequency_lookups(entities).items():
        lookup = db.register(frequencies, dataset_display_name=f"tf_{column}")
        linker.table_management.register_term_frequency_lookup(lookup, column)
    found = linker.inference.predict_within(table, threshold_match_probability=model.FLOOR,
                                            warning_mode="never").as_spark_dataframe()
    kept = [c for c in found.columns if c.startswith(model.KEPT_PREFIXES)]
    return found.select(*kept, "region_l", "region_r")


def partitions_for(rows: int, per_partition: int = 200_000) -> int:
    """Shuffle partitions for `rows` rows (Spark's default of 200 suits neither a test's few
    hundred rows nor a country's billions)."""
    return max(2, math.ceil(rows / per_partition))
