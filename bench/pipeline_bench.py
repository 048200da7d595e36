"""End-to-end benchmark on the realistic estate: throughput, stage shares, memory, incremental.

    .venv/bin/python bench/pipeline_bench.py --rows 1000000 [--rows 4000000] [--out bench/out]

For each size it builds the realistic estate (pension and maternity on PostgreSQL, medical on
MariaDB with charset gbk, unemployment on SQLite, injury as GB18030 CSV), loads it into a fresh
PostgreSQL warehouse in a child process (so peak RSS is the pipeline's alone), then reports:
source rows per second end to end, each stage's share of the time, peak RSS, the load stage's
rows per second as a ratio to a raw binary COPY (ADBC ingest) of the same rows into the same
server, an incremental run after 1% of the database rows changed, as a share of the full
run's time, and the seconds and bytes of `jinbao report` for the full run. Figures are
ratios within one run on one machine; nothing here asserts a time.
The peers, in the same run on the same rows (skipped with --no-peers; `pip install -e '.[bench]'`):
dlt merging on each source key and replacing (bench/dlt_peer.py, with its incremental run after
the same change), and a raw extract + binary COPY (bench/raw_copy.py); jinbao's rows/s is
reported as a ratio to each.
Writes a table to stdout and JSON to <out>/pipeline.json. Needs the local PostgreSQL and MariaDB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/{db}"
MARIADB = "mysql+pymysql://root@127.0.0.1:3306/{db}?charset=utf8mb4"
ROWS_PER_PERSON = 3.15  # measured on the simulator: source rows per simulated person


def _sql(url_template: str, statements: list[str], db: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url_template.format(db=db), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def fresh_databases(tag: str) -> dict[str, str]:
    names = {s: f"jinbao_bench_{tag}_{s}" for s in ("pension", "maternity", "warehouse")}
    for name in names.values():
        _sql(PG, [f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"],
             "postgres")
    medical = f"jinbao_bench_{tag}_medical"
    _sql(MARIADB, [f"DROP DATABASE IF EXISTS {medical}",
                   f"CREATE DATABASE {medical} CHARACTER SET utf8mb4"], "")
    return {"pension": PG.format(db=names["pension"]),
            "maternity": PG.format(db=names["maternity"]),
            "medical": MARIADB.format(db=medical),
            "warehouse": PG.format(db=names["warehouse"])}


def build(rows: int, folder: Path, urls: dict[str, str]) -> dict:
    """Build the estate in its own process: this one must stay small, since a child started
    from a large process inherits its peak RSS (Linux keeps ru_maxrss across exec)."""
    began = time.perf_counter()
    engines = [f"--engine={k}={urls[k]}" for k in ("pension", "maternity", "medical")]
    subprocess.run([str(Path(sys.executable).parent / "jinbao"), "estate", "build",
                    "--persons", str(int(rows / ROWS_PER_PERSON)), "--seed", "7",
                    "--out", str(folder), *engines], check=True, capture_output=True)
    truth = (folder / "truth.csv").read_text("utf-8").splitlines()[1:]
    counts = {}
    for line in truth:
        system = line.split(",", 1)[0]
        counts[system] = counts.get(system, 0) + 1
    config = (folder / "jinbao.toml").read_text("utf-8").replace(
        'url = "sqlite:///warehouse.db"', f'url = "{urls["warehouse"]}"').replace(
        "buckets = 4", "buckets = 8\nretention_days = 1")  # the raw COPY rereads staged rows
    (folder / "jinbao.toml").write_text(config, "utf-8")
    return {"counts": counts, "seconds": round(time.perf_counter() - began, 1)}


def child(config: str, since: str | None) -> None:
    """Run the pipeline once; print its summary and this process's peak RSS as JSON."""
    from jinbao.config import load_config
    from jinbao.runner import run_pipeline

    summary = run_pipeline(load_config(config), since=since)
    peak_kib = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                   resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)  # workers too
    print(json.dumps({"run_id": summary.run_id, "seconds": summary.seconds,
                      "timings": summary.timings, "finish_timings": summary.finish_timings,
                      "sources": summary.sources,
                      "buckets": summary.buckets, "peak_rss_mib": round(peak_kib / 1024, 1)}))


def run_child(config: Path, since: str | None = None) -> dict:
    args = [sys.executable, __file__, "--child", str(config)]
    if since:
        args += ["--since", since]
    done = subprocess.run(args, capture_output=True, text=True, check=True,
                          env={**os.environ, "GX_ANALYTICS_ENABLED": "false"})
    return json.loads(done.stdout.strip().splitlines()[-1])


def raw_copy_rows_per_second(config: Path, run_id: str, warehouse: str) -> float:
    """Binary COPY (ADBC ingest) of the run's staged source rows into a new table."""
    import adbc_driver_postgresql.dbapi as adbc
    import pyarrow.dataset as ds
    from sqlalchemy import make_url

    from jinbao.config import load_config

    cfg = load_config(config)
    staged = ds.dataset(str(cfg.staging_root / run_id / "accepted"), format="parquet").to_table()
    uri = make_url(warehouse).set(drivername="postgresql").render_as_string(hide_password=False)
    with adbc.connect(uri) as conn, conn.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_copy")
        conn.commit()
        began = time.perf_counter()
        cursor.adbc_ingest("bench_raw_copy", staged, mode="create")
        conn.commit()
        seconds = time.perf_counter() - began
        cursor.execute("DROP TABLE bench_raw_copy")
        conn.commit()
    return staged.num_rows / seconds


def report_cost(config: Path, run_id: str, out: Path) -> dict:
    """Seconds and bytes of `jinbao report` for the full run (the CLI, start-up included)."""
    began = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "jinbao"), "report", "--config",
                    str(config), "--run", run_id, "--out", str(out)], check=True,
                   capture_output=True)
    size = sum(p.stat().st_size for p in out.glob("report.*"))
    return {"report_seconds": round(time.perf_counter() - began, 2), "report_bytes": size}


def change_one_percent(folder: Path, urls: dict[str, str]) -> int:
    """Touch 1% of the database systems' rows: a new name and a later change time."""
    from sqlalchemy import create_engine, text

    changed = 0
    later = "2025-06-01 00:00:00"
    updates = {
        "pension": ("UPDATE ac01 SET aac003 = aac003 || '改', aae036 = :t "
                    "WHERE aac001 % 100 = 7", urls["pension"]),
        "maternity": ("UPDATE sy_cbry SET xm = xm || '改', gxsj = :t "
                      "WHERE CAST(substr(grbh, 2) AS INTEGER) % 100 = 7", urls["maternity"]),
        "medical": ("UPDATE mi_insured SET psn_name = CONCAT(psn_name, '改'), updt_time = :t "
                    "WHERE CAST(RIGHT(psn_no, 8) AS UNSIGNED) % 100 = 7", urls["medical"]),
    }
    for statement, url in updates.values():
        engine = create_engine(url)
        with engine.begin() as conn:
            changed += conn.execute(text(statement), {"t": later}).rowcount
        engine.dispose()
    with sqlite3.connect(folder / "unemployment.db") as conn:
        changed += conn.execute(
            "UPDATE 失业参保人员 SET 姓名 = 姓名 || '改', 修改时间 = '2025/06/01 00:00:00' "
            "WHERE CAST(substr(个人编号, 2) AS INTEGER) % 100 = 7").rowcount
    return changed


def measure(rows: int, out: Path, with_peers: bool) -> dict:
    tag = f"{rows // 1000}k"
    folder = out / f"estate_{tag}"
    urls = fresh_databases(tag)
    estate = build(rows, folder, urls)
    total = sum(v for k, v in estate["counts"].items() if k != "persons")
    full = run_child(folder / "jinbao.toml")
    load_seconds = sum(full["timings"][k] for k in ("load_quarantined", "load_buckets", "finish"))
    raw = raw_copy_rows_per_second(folder / "jinbao.toml", full["run_id"], urls["warehouse"])
    report = report_cost(folder / "jinbao.toml", full["run_id"], folder / "report")
    peers = {}
    if with_peers:  # the same rows through dlt and a raw COPY, into the same server
        from bench import dlt_peer, raw_copy

        sources = {**urls, "unemployment": f"sqlite:///{(folder / 'unemployment.db').resolve()}"}
        peers["raw"] = raw_copy.run(sources, folder, folder / "injury", urls["warehouse"])
        for mode in ("merge", "replace"):
            peers[f"dlt_{mode}"] = dlt_peer.run(sources, folder / "injury", urls["warehouse"],
                                                mode, folder / "dlt")
    changed = change_one_percent(folder, urls)
    incremental = run_child(folder / "jinbao.toml")
    if with_peers:
        peers["dlt_merge_incremental"] = dlt_peer.run(sources, folder / "injury",
                                                      urls["warehouse"], "merge", folder / "dlt")
    work = {}  # worker-seconds per step, summed over sources and buckets
    for source in full["sources"]:
        for step, seconds in source["timings"].items():
            work[step] = work.get(step, 0.0) + seconds
    for bucket in full["buckets"]:
        for step, seconds in bucket["timings"].items():
            work[f"load_{step}"] = work.get(f"load_{step}", 0.0) + seconds
    busy = sum(work.values())
    return {
        "source_rows": total, "cores": os.cpu_count(), "estate_build_seconds": estate["seconds"],
        "full_seconds": full["seconds"], "rows_per_second": round(total / full["seconds"]),
        "wall_seconds": full["timings"],
        "wall_share": {k: round(v / full["seconds"], 3) for k, v in full["timings"].items()},
        "finish_seconds": full.get("finish_timings", {}),
        "worker_seconds": {k: round(v, 2) for k, v in work.items()},
        "worker_share": {k: round(v / busy, 3) for k, v in work.items()},
        "peak_rss_mib": full["peak_rss_mib"],
        "load_rows_per_second": round(total / load_seconds),
        "raw_copy_rows_per_second": round(raw),
        "load_vs_raw_copy": round(total / load_seconds / raw, 3),
        "incremental_changed_rows": changed,
        "incremental_seconds": incremental["seconds"],
        "incremental_share_of_full": round(incremental["seconds"] / full["seconds"], 3),
        "incremental_wall_seconds": incremental["timings"],
        "incremental_finish_seconds": incremental.get("finish_timings", {}),
        "incremental_peak_rss_mib": incremental["peak_rss_mib"],
        **report,
        "peers": peers,
        # the same estate through each: jinbao's rows/s over a peer's is the peer's time over
        # jinbao's (the peers count table rows, ac01 and ac02 apart; jinbao counts source rows)
        **({"vs_dlt_merge": round(peers["dlt_merge"]["seconds"] / full["seconds"], 3),
            "vs_dlt_replace": round(peers["dlt_replace"]["seconds"] / full["seconds"], 3),
            "vs_raw": round(peers["raw"]["seconds"] / full["seconds"], 3),
            "incremental_vs_dlt": round(incremental["seconds"]
                                        / peers["dlt_merge_incremental"]["seconds"], 2)}
           if with_peers else {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append",
                        help="source rows of an estate (repeatable; default 1,000,000)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out"))
    parser.add_argument("--no-peers", action="store_true",
                        help="skip dlt and the raw extract + COPY (the `bench` extra)")
    parser.add_argument("--child")
    parser.add_argument("--since")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.since)
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = [measure(rows, out, not args.no_peers) for rows in args.rows or [1_000_000]]
    if len(results) > 1:
        base = results[0]["peak_rss_mib"]
        for result in results[1:]:
            result["peak_rss_vs_first"] = round(result["peak_rss_mib"] / base, 3)
    (out / "pipeline.json").write_text(json.dumps(results, indent=1), "utf-8")
    print(f"{'source rows':>12} {'rows/s':>9} {'peak MiB':>9} {'load/COPY':>10} "
          f"{'incr/full':>10} {'report s':>9} {'report KB':>9}  wall time by stage | "
          "worker time by step")
    for r in results:
        wall = ", ".join(f"{k} {v:.0%}" for k, v in r["wall_share"].items())
        work = ", ".join(f"{k} {v:.0%}" for k, v in sorted(
            r["worker_share"].items(), key=lambda kv: -kv[1]))
        print(f"{r['source_rows']:>12,} {r['rows_per_second']:>9,} {r['peak_rss_mib']:>9,.0f} "
              f"{r['load_vs_raw_copy']:>10.2f} {r['incremental_share_of_full']:>10.2f} "
              f"{r['report_seconds']:>9.1f} {r['report_bytes'] / 1024:>9.0f}  "
              f"{wall} | {work}")
    for r in (r for r in results if r["peers"]):
        print(f"\n{r['source_rows']:,} source rows, the same run: seconds, table rows moved, "
              "source rows/s")
        print(f"{'jinbao':>24} {r['full_seconds']:>8.1f} {'':>10} {r['rows_per_second']:>9,}")
        for name, peer in r["peers"].items():
            rate = "" if name.endswith("incremental") else (
                f"{round(r['source_rows'] / max(peer['seconds'], 1e-9)):,}")
            print(f"{name:>24} {peer['seconds']:>8.1f} {peer['rows']:>10,} {rate:>9}")
        print(f"jinbao's rows/s over dlt merge {r['vs_dlt_merge']:.2f}x, over dlt replace "
              f"{r['vs_dlt_replace']:.2f}x, over raw extract + COPY {r['vs_raw']:.2f}x; "
              f"incremental {r['incremental_seconds']:.1f} s = {r['incremental_vs_dlt']:.1f}x "
              "dlt's")
    print(f"JSON: {out / 'pipeline.json'} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
