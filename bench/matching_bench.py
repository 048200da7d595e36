"""Suspected-duplicate matching at scale, on two estates whose damage differs: the simulator's
damage catalogue and the field-level corruptor that shares nothing with it.

    .venv/bin/python bench/matching_bench.py [--persons 20000 --persons 200000 ...]
                                             [--damage catalogue --damage corruptor] [--out DIR]

Per estate and size: the pipeline's first run (which trains the model and matches), then in
a rolled-back transaction the training alone and a full re-match alone, the comparisons the
blocking rules generate per entity, an incremental run after 1% of the rows changed (its
matching seconds as a share of the full re-match), and the links scored against truth.csv:
exact merges plus cases, pairwise. Writes a table to stdout and JSON to <out>/matching.json.
The peer (bench/splink_peer.py, skipped with --no-peer): plain Splink on the same entities,
scored the same way, in the same run. Nothing here feeds back into the model: the figures are
measured, never used to choose.
"""

from __future__ import annotations

import argparse
import json
import platform
import sqlite3
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEEDS = {"catalogue": 31337, "corruptor": 4711}


def change_one_percent(folder: Path) -> int:
    """Touch 1% of the SQLite systems' persons: a new name, a later change time."""
    later = (datetime.now() - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")  # not future
    statements = {
        "pension.db": "UPDATE ac01 SET aac003 = aac003 || '改', aae036 = ? "
                      "WHERE aac001 % 100 = 7",
        "maternity.db": "UPDATE sy_cbry SET xm = xm || '改', gxsj = ? "
                        "WHERE CAST(substr(grbh, 2) AS INTEGER) % 100 = 7",
        "unemployment.db": "UPDATE 失业参保人员 SET 姓名 = 姓名 || '改', 修改时间 = "
                           "replace(?, '-', '/') WHERE CAST(substr(个人编号, 2) AS INTEGER) "
                           "% 100 = 7",
    }
    changed = 0
    for name, statement in statements.items():
        with sqlite3.connect(folder / name) as conn:
            changed += conn.execute(statement, (later,)).rowcount
    return changed


def measure(persons: int, damage: str, out: Path, with_peer: bool) -> dict:
    from sqlalchemy import select

    from estate import build_estate
    from jinbao.evaluate import pairwise_scores, suspect_scores
    from jinbao.runner import run_pipeline
    from loaders import matching
    from loaders.bulk import read_frame
    from loaders.warehouse import warehouse_engine
    from schemas.warehouse import match_entity
    from tests.conftest import fresh_config
    from transforms.linkage import model

    folder = out / f"matching_{damage}_{persons // 1000}k"
    if not (folder / "truth.csv").exists():
        build_estate(persons, SEEDS[damage], folder, damage=damage)
    cfg = fresh_config(folder, folder / f"work-{time.time_ns()}")
    began = time.perf_counter()
    first = run_pipeline(cfg)
    pipeline = time.perf_counter() - began
    engine = warehouse_engine(cfg.warehouse_url)
    exact = pairwise_scores(engine, folder / "truth.csv")
    cases = suspect_scores(engine, folder / "truth.csv")
    with engine.connect() as conn, conn.begin() as transaction:
        model.forget_trained()  # the first run's model is remembered: train for real
        began = time.perf_counter()
        matching.train(conn, "bench")
        train_seconds = time.perf_counter() - began
        transaction.rollback()
    with engine.connect() as conn, conn.begin() as transaction:
        full = matching.refresh(conn, "bench", full=True)
        stored = matching.latest_model(conn)
        entities = read_frame(conn, select(*(match_entity.c[c] for c in matching.STORED)))
        transaction.rollback()
    by_rule = model.comparison_counts(matching._text(entities).assign(changed=1),
                                      stored["model"])
    comparisons = sum(by_rule.values())
    peer = {}
    if with_peer:  # the same entities through plain Splink, scored the same way
        from bench.splink_peer import peer_clusters
        from jinbao.evaluate import cluster_scores

        found = peer_clusters(matching._text(entities))
        scores = cluster_scores(engine, folder / "truth.csv", found["clusters"])
        peer = {"peer_train_seconds": found["train_seconds"],
                "peer_match_seconds": found["match_seconds"],
                **{f"peer_{k}": round(v, 5) if isinstance(v, float) else v
                   for k, v in scores.items() if k in ("cases", "false_per_true",
                                                        "proposed_precision",
                                                        "proposed_recall", "proposed_f1")}}
    touched = change_one_percent(folder)
    incremental = run_pipeline(cfg).matching
    engine.dispose()
    return {
        "damage": damage, "persons_simulated": persons, "entities": len(entities),
        "pipeline_seconds": round(pipeline, 1), "first_match_seconds": first.matching["seconds"],
        "train_seconds": round(train_seconds, 2), "full_match_seconds": full["seconds"],
        "comparisons": comparisons,
        "comparisons_per_entity": round(comparisons / max(len(entities), 1), 3),
        "per_entity_by_rule": {rule: round(n / max(len(entities), 1), 4)
                               for rule, n in by_rule.items()},
        "threshold": stored["threshold"],
        "rows_changed": touched, "incremental_entities": incremental["entities"],
        "incremental_match_seconds": incremental["seconds"],
        "incremental_share": round(incremental["seconds"] / max(full["seconds"], 1e-9), 3),
        "exact_precision": round(exact["precision"], 5), "exact_recall": round(exact["recall"], 5),
        **{k: round(v, 5) if isinstance(v, float) else v for k, v in cases.items()}, **peer}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, action="append",
                        help="simulated persons (repeatable; default 20,000 and 200,000)")
    parser.add_argument("--damage", action="append", choices=sorted(SEEDS),
                        help="which estates (repeatable; default both)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out"))
    parser.add_argument("--no-peer", action="store_true",
                        help="skip plain Splink on the same entities (bench/splink_peer.py)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = [measure(n, damage, out, not args.no_peer) for damage in args.damage or sorted(SEEDS)
               for n in args.persons or [20_000, 200_000]]
    machine = {"python": platform.python_version(), "cores": __import__("os").cpu_count(),
               "platform": platform.platform()}
    (out / "matching.json").write_text(json.dumps({"machine": machine, "results": results},
                                                  indent=1), "utf-8")
    print(f"{'damage':>9} {'persons':>9} {'entities':>9} {'per entity':>10} {'train s':>7} "
          f"{'match s':>7} {'incr s':>6} {'incr %':>6} {'cases':>6} {'false/true':>10} "
          f"{'P exact':>7} {'F1 exact':>8} {'F1 +cases':>9}")
    for r in results:
        print(f"{r['damage']:>9} {r['persons_simulated']:>9,} {r['entities']:>9,} "
              f"{r['comparisons_per_entity']:>10.3f} {r['train_seconds']:>7.1f} "
              f"{r['full_match_seconds']:>7.1f} {r['incremental_match_seconds']:>6.1f} "
              f"{r['incremental_share']:>6.1%} {r['cases']:>6,} {r['false_per_true']:>10.4f} "
              f"{r['exact_precision']:>7.4f} {r['exact_f1']:>8.4f} {r['proposed_f1']:>9.4f}")
    peers = [r for r in results if "peer_proposed_f1" in r]
    if peers:
        print("\nthe peer: plain Splink on the same entities and candidate pairs, same scoring")
        print(f"{'damage':>9} {'persons':>9} {'train s':>7} {'match s':>7} {'cases':>6} "
              f"{'false/true':>10} {'P':>6} {'R':>6} {'F1':>6} {'jinbao F1 / peer':>16}")
        for r in peers:
            print(f"{r['damage']:>9} {r['persons_simulated']:>9,} {r['peer_train_seconds']:>7.1f} "
                  f"{r['peer_match_seconds']:>7.1f} {r['peer_cases']:>6,} "
                  f"{r['peer_false_per_true']:>10.4f} {r['peer_proposed_precision']:>6.4f} "
                  f"{r['peer_proposed_recall']:>6.4f} {r['peer_proposed_f1']:>6.4f} "
                  f"{r['proposed_f1'] / max(r['peer_proposed_f1'], 1e-9):>16.4f}")
    print("\ncomparisons per entity, by the blocking rule that first finds the pair")
    print(" ".join(f"{r['damage'][:4]}{r['persons_simulated'] // 1000:>5}k" for r in results),
          "rule")
    for rule in results[0]["per_entity_by_rule"]:
        print(" ".join(f"{r['per_entity_by_rule'].get(rule, 0):>10.4f}" for r in results), rule)
    print(f"JSON: {out / 'matching.json'}")


if __name__ == "__main__":
    main()
