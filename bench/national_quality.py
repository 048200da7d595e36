"""The national tier's reconciliation against the estates' truth: pairwise precision and recall
of one national person per citizen over every province's rows, and the recall and precision of
the cross-province duplicate enrollment cases, for each damage model (the legacy estate's
catalogue, and the field-level corruptor whose damage this project did not design).

    .venv/bin/python bench/national_quality.py [--persons 6000] [--provinces 3] [--seed 5]

Builds national estates (a tenth of the people in two provinces), runs each province, then the
national tier (Spark when [spark] is enabled and PySpark is installed), and scores the national
warehouse with jinbao.evaluate. Prints a table and writes <out>/national_quality.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def scored(persons: int, provinces: tuple[str, ...], seed: int, damage: str,
           folder: Path) -> dict:
    from estate.national import build_national_estates
    from jinbao.config import load_config
    from jinbao.evaluate import duplicate_enrollment_scores, pairwise_scores
    from jinbao.national import load_national_config, national_run
    from jinbao.runner import run_pipeline
    from loaders.warehouse import warehouse_engine

    shutil.rmtree(folder, ignore_errors=True)
    build_national_estates(persons, seed, folder, provinces, damage=damage)
    for province in provinces:
        run_pipeline(load_config(folder / province / "jinbao.toml"))
    cfg = load_national_config(folder / "national.toml")
    summary = national_run(cfg)
    engine = warehouse_engine(cfg.consolidation.warehouse_url)
    pairs = pairwise_scores(engine, folder / "truth.csv")
    doubled = duplicate_enrollment_scores(engine, folder / "truth.csv")
    engine.dispose()
    return {"damage": damage, "rows": sum(m["extracted"] for m in summary.sources),
            "pairwise": pairs, "duplicate_enrollment": doubled}


def main() -> None:
    from estate.national import PROVINCE_CITIES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=6000)
    parser.add_argument("--provinces", type=int, default=3)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "bench" / "out"))
    args = parser.parse_args()
    provinces = tuple(PROVINCE_CITIES)[:args.provinces]
    out = Path(args.out)
    results = [scored(args.persons, provinces, args.seed, damage,
                      out / f"national_quality_{damage}") for damage in ("catalogue", "corruptor")]
    print(f"{'damage':10} {'rows':>8} {'precision':>10} {'recall':>8} {'doubled':>8} "
          f"{'found':>6} {'precision':>10} {'recall':>7}")
    for r in results:
        p, d = r["pairwise"], r["duplicate_enrollment"]
        print(f"{r['damage']:10} {r['rows']:>8,} {p['precision']:>10.4f} {p['recall']:>8.4f} "
              f"{d['findable']:>8} {d['found']:>6} {d['precision']:>10.4f} {d['recall']:>7.4f}")
    path = out / "national_quality.json"
    path.write_text(json.dumps({"persons": args.persons, "provinces": list(provinces),
                                "seed": args.seed, "results": results}, indent=1,
                               default=str), encoding="utf-8")
    print(f"JSON: {path}")


if __name__ == "__main__":
    main()
