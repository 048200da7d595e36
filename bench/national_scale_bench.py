"""The national tier's Spark work at a country's scale on this machine: the national
consolidation and the cross-province matching of `--persons` persons (ten million), over the
rows a national run stages from the provinces.

    .venv/bin/python bench/national_scale_bench.py --persons 10000000 --provinces 10

A national warehouse of ten million persons does not fit this machine's disk beside the ten
province warehouses it is built from (each side about 35 GB at 3.5 source rows a person), so the
provinces go one at a time, each built, consolidated, staged for the nation and removed before
the next, and the bench measures what Spark does with the staged rows; the warehouse loads that
follow a national first load are measured by bench/national_bench.py, at a size that fits.

    per province   its estate (estate.national: one population, a tenth of it in two
                   provinces), its own run (jinbao.runner, a SQLite warehouse), its rows
                   staged as a national run stages them (jinbao.national.stage_province);
                   a province runs while the next one's estate is written
    reconcile      jinbao.national_spark.reconcile_first_load over every staged row: golden
                   records, enrollments and cases, person by person, written as Parquet
    match          the entities of the reconciled persons (with their latest row's region and
                   employer) and of the rows quarantined for their number
                   (transforms.linkage.on_spark), the model trained on its sample, every
                   candidate pair scored, the pairs between two provinces at the threshold

Prints a table and writes <out>/national_scale.json: seconds per step, rows, entities, pairs,
the peak memory of the whole process tree (Spark's JVM and workers included) and the disk the
staged and reconciled rows take. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.national_bench import TreeMemory  # noqa: E402

RUN = "run-national-scale"


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def staged_provinces(persons: int, provinces: tuple[str, ...], out: Path) -> tuple[object, dict]:
    """Build, run and stage each province in turn; the national configuration and figures."""
    from estate.national import build_national_estates
    from jinbao.config import load_config
    from jinbao.national import stage_province
    from jinbao.runner import run_pipeline

    done = out / "provinces.json"
    if done.exists():  # a rerun of the Spark steps over what was staged
        figures = json.loads(done.read_text("utf-8"))
        return _national(out, persons), figures
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    figures: dict = {"provinces": {}}
    began = time.perf_counter()

    def consolidate_and_stage(province: str, folder: Path) -> None:
        clock = time.perf_counter()
        summary = run_pipeline(load_config(folder / "jinbao.toml"))
        ran = time.perf_counter() - clock
        cfg = _national(out, persons)
        clock = time.perf_counter()
        manifest = stage_province(cfg, RUN, province)
        figures["provinces"][province] = {
            "rows": sum(m["extracted"] for m in summary.sources),
            "run_seconds": round(ran, 1), "stage_seconds": round(time.perf_counter() - clock, 1),
            "staged_rows": manifest["extracted"]}
        shutil.rmtree(folder)  # the next province needs the disk
        print(f"  {province}: {manifest['extracted']:,} rows, run {ran:.0f} s, staged", flush=True)

    # a province runs in a thread while the next one's estate is written (the writer is one
    # core's Python; the run's workers use the other): never more than one run at a time
    with ThreadPoolExecutor(max_workers=1) as runs:
        running: list[Future] = []

        def after_the_last(province: str, folder: Path) -> None:
            for job in running:
                job.result()
            running[:] = [runs.submit(consolidate_and_stage, province, folder)]

        build_national_estates(persons, 12, out, provinces, built=after_the_last)
        for job in running:
            job.result()
    figures["provinces_seconds"] = round(time.perf_counter() - began, 1)
    done.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return _national(out, persons), figures


def _national(out: Path, persons: int):
    """The national configuration: an empty SQLite national warehouse (watermarks only), the
    staging under `out`, buckets of about 150,000 persons."""
    import dataclasses
    import math

    from jinbao.national import load_national_config

    cfg = load_national_config(out / "national.toml")
    buckets = max(cfg.consolidation.buckets, 2 ** math.ceil(math.log2(persons / 150_000 + 1)))
    # Spark's heap: a third of this machine (local mode runs every executor inside it)
    spark = dataclasses.replace(cfg.spark, conf={"spark.driver.memory": "8g"})
    return dataclasses.replace(cfg, spark=spark, consolidation=dataclasses.replace(
        cfg.consolidation, buckets=buckets, warehouse_url=f"sqlite:///{out / 'national.db'}"))


def latest_persons(spark, reconciled: Path):
    """Each reconciled person with its latest accepted row's region and employer (as
    loaders.matching.persons_query reads them from a warehouse)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    person = spark.read.parquet(str(reconciled / "_table=person"))
    rows = spark.read.parquet(str(reconciled / "_table=source_record"))
    latest = Window.partitionBy("id_number").orderBy(F.col("updated_at").desc_nulls_last(),
                                                     F.col("source_key"))
    ranked = rows.withColumn("n", F.row_number().over(latest)).where(F.col("n") == 1).select(
        "id_number", F.col("pooling_region").alias("region"),
        F.col("employer_id").alias("employer"))
    return person.select("id_number", "name", "sex", "birth_date").join(ranked, "id_number",
                                                                        "left")


def loose_rows(spark, staged: Path):
    """The staged rows quarantined for their ID number (as loaders.matching.loose_query)."""
    from pyspark.sql import functions as F

    from schemas.identity import ID_RULES

    records = spark.read.parquet(str(staged / "quarantined" / "*" / "records.parquet"))
    rules = spark.read.parquet(str(staged / "quarantined" / "*" / "rules.parquet"))
    keys = rules.where(F.col("rule").isin(list(ID_RULES))).select(
        "source_system", "source_key").distinct()
    return records.join(keys, ["source_system", "source_key"]).select(
        "source_system", "source_key", "claimed_id", "name", "sex", "birth_date",
        "pooling_region", "employer_id")


def spark_steps(cfg, out: Path) -> dict:
    from pyspark.sql import functions as F

    from jinbao.national_spark import reconcile_first_load, reconciled_folder
    from jinbao.spark import spark_session
    from transforms.linkage import model, on_spark

    staged = reconciled_folder(cfg.consolidation, RUN).parent
    figures = {"staged_gib": round(_size(staged / "accepted") / 2**30, 2)}
    scratch = out / "spark"
    with TreeMemory() as memory, spark_session(cfg.spark, scratch) as spark:
        began = time.perf_counter()
        reconciled = reconcile_first_load(spark, cfg.consolidation, RUN, datetime.now(
            UTC).replace(tzinfo=None), sorted(cfg.provinces))
        figures["reconcile"] = {**reconciled, "seconds": round(time.perf_counter() - began, 1),
                                "written_gib": round(_size(reconciled_folder(
                                    cfg.consolidation, RUN)) / 2**30, 2)}
        print(f"  reconcile: {reconciled['rows']:,} rows in {figures['reconcile']['seconds']} s",
              flush=True)
        clock = {}
        began = time.perf_counter()
        entities = on_spark.entities_of(latest_persons(spark, reconciled_folder(
            cfg.consolidation, RUN)), loose_rows(spark, staged))
        entities.write.mode("overwrite").parquet(str(scratch / "entities"))
        entities = spark.read.parquet(str(scratch / "entities"))
        count = entities.count()
        clock["entities"] = round(time.perf_counter() - began, 1)
        began = time.perf_counter()
        sample = on_spark.training_sample(entities)
        trained, threshold = model.trained_on(sample)
        clock["train"] = round(time.perf_counter() - began, 1)
        began = time.perf_counter()
        pairs = on_spark.scored(spark, entities, trained).where(
            F.substring("region_l", 1, 2) != F.substring("region_r", 1, 2))
        pairs.write.mode("overwrite").parquet(str(scratch / "pairs"))
        pairs = spark.read.parquet(str(scratch / "pairs"))
        scored, linked = pairs.count(), pairs.where(F.col("match_probability") >= threshold)
        links = linked.count()
        clock["score"] = round(time.perf_counter() - began, 1)
        figures["match"] = {"entities": count, "training_sample": len(sample),
                            "threshold": round(threshold, 4), "pairs_from_floor": scored,
                            "pairs_at_threshold": links, "seconds": clock,
                            "total_seconds": round(sum(clock.values()), 1)}
        print(f"  match: {count:,} entities, {scored:,} pairs scored between provinces, "
              f"{links:,} at the threshold, {figures['match']['total_seconds']} s", flush=True)
    figures["peak_tree_mib"] = memory.peak_mib
    figures["scratch_gib"] = round(_size(scratch) / 2**30, 2) if scratch.exists() else 0
    return figures


def main() -> None:
    from estate.national import PROVINCE_CITIES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=10_000_000)
    parser.add_argument("--provinces", type=int, default=10)
    parser.add_argument("--out", default=str(ROOT / "bench" / "out"))
    args = parser.parse_args()
    provinces = tuple(PROVINCE_CITIES)[:args.provinces]
    out = Path(args.out) / f"national_scale_{args.persons}_{args.provinces}"
    cfg, built = staged_provinces(args.persons, provinces, out)
    result = {"persons": args.persons, "provinces": len(provinces), **built,
              **spark_steps(cfg, out)}
    rows = result["reconcile"]["rows"]
    print(f"{'persons':>11} {'rows':>11} {'reconcile s':>11} {'rows/s':>8} {'entities':>11} "
          f"{'match s':>8} {'pairs':>11} {'peak MiB':>9}")
    print(f"{args.persons:>11,} {rows:>11,} {result['reconcile']['seconds']:>11.0f} "
          f"{rows / result['reconcile']['seconds']:>8,.0f} {result['match']['entities']:>11,} "
          f"{result['match']['total_seconds']:>8.0f} {result['match']['pairs_from_floor']:>11,} "
          f"{result['peak_tree_mib']:>9,.0f}")
    path = Path(args.out) / "national_scale.json"
    path.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"JSON: {path}")


if __name__ == "__main__":
    main()
