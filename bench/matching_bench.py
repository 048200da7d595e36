"""Suspected-duplicate matching at scale: candidate comparisons and seconds per estate size.

    .venv/bin/python bench/matching_bench.py --persons 20000 --persons 200000 [--out bench/out]

For each size it builds the embedded (SQLite) estate, runs the pipeline once, then times the
matching pass alone (jinbao's own, in a transaction rolled back) and scores it against
truth.csv. Blocking should keep comparisons near-linear: compare comparisons per entity across
sizes. Writes a table to stdout and JSON to <out>/matching.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(persons: int, out: Path) -> dict:
    from estate import build_estate
    from jinbao.evaluate import pairwise_scores, suspect_scores
    from jinbao.runner import run_pipeline
    from loaders.review import refresh_suspected_duplicates
    from loaders.warehouse import warehouse_engine
    from tests.conftest import fresh_config

    folder = out / f"matching_{persons // 1000}k"
    if not (folder / "truth.csv").exists():
        build_estate(persons, 31337, folder)
    cfg = fresh_config(folder, folder / f"work-{time.time_ns()}")
    began = time.perf_counter()
    run_pipeline(cfg)
    pipeline = time.perf_counter() - began
    engine = warehouse_engine(cfg.warehouse_url)
    with engine.connect() as conn, conn.begin() as transaction:
        began = time.perf_counter()
        stats = refresh_suspected_duplicates(conn, "bench")
        seconds = time.perf_counter() - began
        transaction.rollback()
    exact = pairwise_scores(engine, folder / "truth.csv")
    cases = suspect_scores(engine, folder / "truth.csv")
    engine.dispose()
    return {"persons_simulated": persons, "pipeline_seconds": round(pipeline, 1),
            "matching_seconds": round(seconds, 2), **stats,
            "comparisons_per_entity": round(stats["comparisons"] / stats["entities"], 3),
            "exact_precision": round(exact["precision"], 5),
            "exact_recall": round(exact["recall"], 5),
            **{k: round(v, 4) if isinstance(v, float) else v for k, v in cases.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, action="append",
                        help="simulated persons (repeatable; default 20,000 and 200,000)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = [measure(n, out) for n in args.persons or [20_000, 200_000]]
    (out / "matching.json").write_text(json.dumps(results, indent=1), "utf-8")
    print(f"{'persons':>9} {'entities':>9} {'comparisons':>12} {'per entity':>10} "
          f"{'seconds':>8} {'cases':>7} {'case recall':>11} {'false/true':>10} "
          f"{'F1 exact':>8} {'F1 +cases':>9}")
    for r in results:
        print(f"{r['persons_simulated']:>9,} {r['entities']:>9,} {r['comparisons']:>12,} "
              f"{r['comparisons_per_entity']:>10.3f} {r['matching_seconds']:>8.2f} "
              f"{r['cases']:>7,} {r['case_recall']:>11.3f} {r['false_per_true']:>10.3f} "
              f"{r['exact_f1']:>8.4f} {r['proposed_f1']:>9.4f}")
    print(f"JSON: {out / 'matching.json'}")


if __name__ == "__main__":
    main()
