"""The national tier's benchmark: a first national run over three province warehouses, a rerun
with nothing changed (its cost as a share of the first), and a run after one province changed.

    .venv/bin/python bench/national_bench.py --persons 9000 [--persons 30000] [--out bench/out]

For each size it builds national estates (estate.national: three provinces, a tenth of the
people in two), runs each province's pipeline into its own SQLite warehouse, then the national
tier three times in this process: first, again with nothing changed, and after 1% of one
province's pension rows changed (and that province ran again). Prints a table and writes
<out>/national.json. Figures are ratios within one run on one machine; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROVINCES = ("guangdong", "anhui", "sichuan")


def measure(persons: int, out: Path) -> dict:
    from estate.national import build_national_estates
    from jinbao.config import load_config
    from jinbao.national import load_national_config, national_run
    from jinbao.runner import run_pipeline

    folder = out / f"national_{persons}"
    shutil.rmtree(folder, ignore_errors=True)
    build_national_estates(persons, 12, folder, PROVINCES)
    for province in PROVINCES:
        run_pipeline(load_config(folder / province / "jinbao.toml"))
    cfg = load_national_config(folder / "national.toml")
    first = national_run(cfg)
    again = national_run(cfg)
    with sqlite3.connect(folder / "anhui" / "pension.db") as conn:
        changed = conn.execute("UPDATE ac01 SET aac003 = aac003 || '改', "
                               "aae036 = '2025-06-01 00:00:00' WHERE aac001 % 100 = 7").rowcount
    run_pipeline(load_config(folder / "anhui" / "jinbao.toml"))
    after = national_run(cfg)
    rows = sum(m["extracted"] for m in first.sources)
    return {
        "persons": persons, "province_rows": rows, "first_seconds": first.seconds,
        "first_rows_per_second": round(rows / first.seconds),
        "first_wall_seconds": first.timings, "first_finish_seconds": first.finish_timings,
        "rerun_seconds": again.seconds, "rerun_share_of_first": round(
            again.seconds / first.seconds, 4),
        "changed_pension_rows": changed, "after_change_seconds": after.seconds,
        "after_change_rows_read": {m["source_name"]: m["extracted"] for m in after.sources},
        "after_change_persons_written": sum(b["persons_written"] for b in after.buckets),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, action="append",
                        help="persons in all provinces (repeatable; default 9000)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = [measure(n, out) for n in args.persons or [9000]]
    print(f"{'persons':>9} {'rows':>9} {'first s':>8} {'rows/s':>8} {'rerun s':>8} "
          f"{'rerun/first':>11} {'after 1% s':>10}")
    for r in results:
        print(f"{r['persons']:>9,} {r['province_rows']:>9,} {r['first_seconds']:>8.1f} "
              f"{r['first_rows_per_second']:>8,} {r['rerun_seconds']:>8.2f} "
              f"{r['rerun_share_of_first']:>11.1%} {r['after_change_seconds']:>10.1f}")
    (out / "national.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"JSON: {out / 'national.json'}")


if __name__ == "__main__":
    main()
