"""The national tier's benchmark: a first national run over province warehouses, a rerun with
nothing changed (its cost as a share of the first), and a run after one province changed, on
each engine asked for (Spark, or `here`: this process and its workers), against the floor of
moving the same rows (every province's source rows read into Arrow and binary-COPYed into one
unindexed table of the same server).

    .venv/bin/python bench/national_bench.py --persons 9000
    .venv/bin/python bench/national_bench.py --persons 1000000 --provinces 10 \\
        --warehouse postgres --engine spark --engine here
    .venv/bin/python bench/national_bench.py --persons 10000000 --provinces 10 \\
        --warehouse postgres --engine spark --keep

For each size it builds national estates (estate.national: a tenth of the people in two
provinces) and runs each province's pipeline into its own SQLite warehouse (kept under
<out>/national_<persons>_<provinces>/ with --keep, and reused), then the national tier per
engine, each into a fresh national warehouse (SQLite, or a PostgreSQL database of its own).
Peak memory is the whole process tree's (Spark's JVM and Python workers included), sampled
every second. Prints a table and writes <out>/national.json. Figures are ratios within one run
on one machine; nothing is asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import sqlite3
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/{}"


class TreeMemory:
    """The peak resident memory of this process and all its descendants, sampled."""

    def __init__(self, every: float = 1.0) -> None:
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(every,), daemon=True)

    @staticmethod
    def _now() -> int:
        parents, rss = {}, {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(stat[1])
                rss[int(entry.name)] = int(stat[21]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, IndexError, ValueError):
                continue
        tree, grown = {os.getpid()}, True
        while grown:
            found = {pid for pid, parent in parents.items() if parent in tree} - tree
            tree |= found
            grown = bool(found)
        return sum(rss.get(pid, 0) for pid in tree)

    def _watch(self, every: float) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._now())
            time.sleep(every)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        return round(self.peak / 2**20, 1)


def provinces_built(persons: int, provinces: tuple[str, ...], folder: Path, keep: bool) -> dict:
    """The province estates and their warehouses (built, or reused with --keep)."""
    from estate.national import build_national_estates
    from jinbao.config import load_config
    from jinbao.runner import run_pipeline

    done = folder / "provinces.json"
    if keep and done.exists():
        return json.loads(done.read_text("utf-8"))
    shutil.rmtree(folder, ignore_errors=True)
    began = time.perf_counter()
    counts = build_national_estates(persons, 12, folder, provinces)
    built = round(time.perf_counter() - began, 1)
    runs = {}
    for province in provinces:
        began = time.perf_counter()
        summary = run_pipeline(load_config(folder / province / "jinbao.toml"))
        runs[province] = {"seconds": round(time.perf_counter() - began, 1),
                          "rows": sum(m["extracted"] for m in summary.sources)}
        print(f"  province {province}: {runs[province]['rows']:,} rows in "
              f"{runs[province]['seconds']:.0f} s", flush=True)
    found = {"estate_seconds": built,
             "province_persons": {p: c["persons"] for p, c in counts.items()},
             "province_runs": runs}
    done.write_text(json.dumps(found, indent=1), encoding="utf-8")
    return found


def _fresh_warehouse(kind: str, folder: Path, name: str) -> tuple[str, object]:
    """A new national warehouse URL and a function that drops it."""
    if kind == "sqlite":
        path = folder / f"{name}.db"
        for leftover in folder.glob(f"{name}.db*"):
            leftover.unlink()
        return f"sqlite:///{path}", lambda: None
    from sqlalchemy import create_engine, text

    database = f"jinbao_bench_{name}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(SERVER.format("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {database}"))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        admin.dispose()

    return SERVER.format(database), drop


def raw_copy(folder: Path, provinces: tuple[str, ...]) -> dict:
    """The floor: every province's source rows read into Arrow (connectorx) and written by
    binary COPY (ADBC ingest) into one new unindexed table of the PostgreSQL server."""
    import adbc_driver_postgresql.dbapi as adbc
    import connectorx as cx

    url, drop = _fresh_warehouse("postgres", folder, "raw")
    uri = url.replace("postgresql+psycopg", "postgresql")
    began, rows = time.perf_counter(), 0
    try:
        with adbc.connect(uri) as conn, conn.cursor() as cursor:
            mode = "create"
            for province in provinces:
                data = cx.read_sql(f"sqlite://{folder / province / 'warehouse.db'}",
                                   "SELECT * FROM source_record", return_type="arrow")
                cursor.adbc_ingest("raw_source_record", data, mode=mode)
                mode, rows = "append", rows + data.num_rows
            conn.commit()
        return {"seconds": round(time.perf_counter() - began, 2), "rows": rows}
    finally:
        drop()


def national(folder: Path, engine: str, warehouse: str, persons: int) -> tuple[object, object]:
    """The engine's national configuration over the built provinces, with a warehouse and
    staging of its own (and buckets of about 150,000 persons: a bucket's first load is held
    at once); and the function that drops its warehouse."""
    from jinbao.national import load_national_config

    cfg = load_national_config(folder / "national.toml")
    url, drop = _fresh_warehouse(warehouse, folder, f"national_{engine}")
    staging = folder / f"staging_{engine}"
    shutil.rmtree(staging, ignore_errors=True)
    buckets = max(cfg.consolidation.buckets, 2 ** math.ceil(math.log2(persons / 150_000 + 1)))
    consolidation = dataclasses.replace(cfg.consolidation, warehouse_url=url,
                                        staging_root=staging, buckets=buckets)
    return dataclasses.replace(cfg, consolidation=consolidation, spark=dataclasses.replace(
        cfg.spark, enabled=engine == "spark")), drop


def measure(persons: int, provinces: tuple[str, ...], engines: list[str], warehouse: str,
            out: Path, keep: bool) -> dict:
    from jinbao.config import load_config
    from jinbao.national import national_run
    from jinbao.runner import run_pipeline

    folder = out / f"national_{persons}_{len(provinces)}"
    built = provinces_built(persons, provinces, folder, keep)
    result = {"persons": persons, "provinces": len(provinces), "warehouse": warehouse, **built,
              "raw_copy": raw_copy(folder, provinces), "engines": {}}
    configs = {engine: national(folder, engine, warehouse, persons) for engine in engines}
    for engine, (cfg, _) in configs.items():
        with TreeMemory() as memory:
            first = national_run(cfg)
        again = national_run(cfg)
        result["engines"][engine] = {
            "first_seconds": first.seconds, "first_wall_seconds": first.timings,
            "first_finish_seconds": first.finish_timings, "peak_tree_mib": memory.peak_mib,
            "province_rows": sum(m["extracted"] for m in first.sources),
            "national_persons": first.matching.get("entities"),
            "matching": {k: v for k, v in first.matching.items() if k != "seconds"},
            "rerun_seconds": again.seconds,
            "rerun_share_of_first": round(again.seconds / first.seconds, 4)}
        print(f"  {engine}: first {first.seconds:.1f} s, rerun {again.seconds:.2f} s", flush=True)
    changed_province = provinces[1]
    with sqlite3.connect(folder / changed_province / "pension.db") as conn:
        changed = conn.execute("UPDATE ac01 SET aac003 = aac003 || '改', "
                               "aae036 = '2025-06-01 00:00:00' WHERE aac001 % 100 = 7").rowcount
    run_pipeline(load_config(folder / changed_province / "jinbao.toml"))
    for engine, (cfg, drop) in configs.items():
        after = national_run(cfg)
        result["engines"][engine].update({
            "changed_pension_rows": changed, "after_change_seconds": after.seconds,
            "after_change_rows_read": {m["source_name"]: m["extracted"] for m in after.sources},
            "after_change_persons_written": sum(b["persons_written"] for b in after.buckets)})
        drop()
    return result


def main() -> None:
    from estate.national import PROVINCE_CITIES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, action="append",
                        help="persons in all provinces (repeatable; default 9000)")
    parser.add_argument("--provinces", type=int, default=3,
                        help=f"how many provinces (2 to {len(PROVINCE_CITIES)}; default 3)")
    parser.add_argument("--engine", action="append", choices=("spark", "here"),
                        help="repeatable; default both")
    parser.add_argument("--warehouse", choices=("sqlite", "postgres"), default="sqlite",
                        help="the national warehouse (the provinces' are SQLite files)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the built provinces and reuse them next time")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    provinces = tuple(PROVINCE_CITIES)[:args.provinces]
    # `here` first: a Spark session's JVM outlives it in this process, and would count in the
    # peak memory of whatever ran after
    engines = sorted(set(args.engine or ["spark", "here"]), key=["here", "spark"].index)
    results = [measure(n, provinces, engines, args.warehouse, out, args.keep)
               for n in args.persons or [9000]]
    print(f"{'persons':>10} {'rows':>11} {'engine':>6} {'first s':>8} {'rows/s':>8} "
          f"{'x raw COPY':>10} {'peak MiB':>9} {'rerun s':>8} {'rerun/first':>11} "
          f"{'after s':>8}")
    for r in results:
        for engine, e in r["engines"].items():
            print(f"{r['persons']:>10,} {e['province_rows']:>11,} {engine:>6} "
                  f"{e['first_seconds']:>8.1f} {e['province_rows'] / e['first_seconds']:>8,.0f} "
                  f"{r['raw_copy']['seconds'] / e['first_seconds']:>10.3f} "
                  f"{e['peak_tree_mib']:>9,.0f} {e['rerun_seconds']:>8.2f} "
                  f"{e['rerun_share_of_first']:>11.1%} {e['after_change_seconds']:>8.1f}")
    path = out / "national.json"
    path.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"JSON: {path}")


if __name__ == "__main__":
    main()
