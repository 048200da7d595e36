"""The jinbao command line: demo, estate build, run, backfill, report, review, status."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from jinbao.config import Config, ConfigError, default_config, load_config

out = Console(highlight=False, soft_wrap=True)  # paths stay whole, never wrapped
err = Console(stderr=True, highlight=False, soft_wrap=True)

DEMO_PERSONS = 2000
DEMO_SEED = 20261125


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn(
        "{task.completed}/{task.total}"), TimeElapsedColumn(), console=err, transient=True)


def run_with_progress(cfg: Config, since: str | None, until: str | None,
                      sources: list[str] | None):
    """run_pipeline with a progress bar over its steps and rows/s per source."""
    from jinbao.runner import run_pipeline

    names = sources or list(cfg.sources)
    with _progress() as bar:
        task = bar.add_task("starting", total=2 * len(names) + cfg.buckets + 1)

        def note(stage: str, detail: dict) -> None:
            if stage == "extract":
                bar.update(task, description=f"extract {detail['source']}")
            elif stage == "extracted":
                rate = detail["extracted"] / max(detail["seconds"], 1e-6)
                err.print(f"  {detail['source_name']:<14} {detail['extracted']:>9,} rows "
                          f"{rate:>10,.0f} rows/s")
                bar.advance(task)
            elif stage == "quarantine":
                bar.update(task, description=f"quarantine {detail['source']}")
                bar.advance(task)
            elif stage == "load":
                bar.update(task, description=f"load bucket {detail['bucket']}")
            elif stage == "loaded":
                bar.advance(task)
            elif stage == "finish":
                bar.update(task, description="ledger and watermarks")
                bar.advance(task)

        return run_pipeline(cfg, since=since, until=until, sources=sources, progress=note)


def print_summary(cfg: Config, summary) -> None:
    """One screen: rows per source, quarantine by rule, persons, enrollments, Data Docs."""
    from jinbao.status import cases_line, warehouse_counts

    table = Table(title=f"run {summary.run_id} ({summary.seconds:.1f} s)")
    for column in ("source", "window", "extracted", "accepted", "quarantined", "balances"):
        table.add_column(column, justify="left" if column in ("source", "window") else "right")
    rules: dict[str, int] = {}
    for m in summary.sources:
        window = f"{m['window_since'] or '…'} → {m['window_until'] or '…'}"
        ok = m["extracted"] == m["accepted"] + m["quarantined"]
        table.add_row(m["source_name"], window, f"{m['extracted']:,}", f"{m['accepted']:,}",
                      f"{m['quarantined']:,}", "yes" if ok else "[red]NO[/red]")
        for rule, count in m["rules"].items():
            rules[rule] = rules.get(rule, 0) + count
    out.print(table)
    if rules:
        by_rule = Table(title="quarantined rows by rule (a row may break several)")
        by_rule.add_column("rule")
        by_rule.add_column("rows", justify="right")
        for rule, count in sorted(rules.items(), key=lambda kv: -kv[1]):
            by_rule.add_row(rule, f"{count:,}")
        out.print(by_rule)
    counts = warehouse_counts(cfg)
    out.print(f"persons {counts['person']:,} · enrollments {counts['enrollment']:,} · "
              f"source rows {counts['source_record']:,} · quarantine rows {counts['quarantine']:,}")
    out.print(cases_line(cfg))
    gx = [m["gx"] for m in summary.sources if m["gx"].get("data_docs")]
    failed = sum(1 for g in gx if not g["success"])
    out.print(f"GX validations: {len(gx)} run, {failed} with failed expectations")
    if gx:
        out.print(f"Data Docs: {gx[0]['data_docs']}")
    out.print(f"warehouse: {cfg.warehouse_url}")


def cmd_demo(args: argparse.Namespace) -> int:
    from estate import build_estate

    cfg = default_config()
    estate = Path.cwd() / ".jinbao" / "estate"
    if not (estate / "truth.csv").exists():
        err.print(f"building the demo estate ({DEMO_PERSONS:,} persons) in {estate}")
        build_estate(DEMO_PERSONS, DEMO_SEED, estate)
    summary = run_with_progress(cfg, None, None, None)
    print_summary(cfg, summary)
    from jinbao.evaluate import pairwise_scores
    from loaders.warehouse import warehouse_engine

    scores = pairwise_scores(warehouse_engine(cfg.warehouse_url), estate / "truth.csv")
    out.print(f"reconciliation against truth.csv: pairwise precision {scores['precision']:.4f}, "
              f"recall {scores['recall']:.4f} over {scores['accepted_rows']:,} accepted rows")
    from jinbao.reports import run_report

    page = run_report(cfg, summary.run_id)
    out.print(f"report: {page}")
    return 0


def cmd_estate_build(args: argparse.Namespace) -> int:
    from estate import build_estate

    engines = {}
    for spec in args.engine or []:
        system, _, url = spec.partition("=")
        if not url:
            raise ConfigError(f"--engine {spec!r}: write it as SYSTEM=URL, e.g. "
                              "pension=postgresql+psycopg://postgres@127.0.0.1/pension")
        engines[system] = url
    with _progress() as bar:
        task = bar.add_task("estate", total=None)
        try:
            counts = build_estate(args.persons, args.seed, Path(args.out),
                                  progress=lambda step: bar.update(task, description=step),
                                  engines=engines)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    rows = sum(v for k, v in counts.items() if k != "persons")
    out.print(f"estate of {args.persons:,} persons, {rows:,} source rows in {args.out}")
    for system, count in counts.items():
        if system != "persons":
            out.print(f"  {system:<14}{count:>9,}")
    out.print(f"configuration: {Path(args.out) / 'jinbao.toml'}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    sources = args.sources.split(",") if args.sources else None
    summary = run_with_progress(cfg, args.since, args.until, sources)
    print_summary(cfg, summary)
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    from jinbao.backfill import backfill_slices, run_backfill

    cfg = load_config(args.config)
    sources = args.sources.split(",") if args.sources else None
    try:
        total = len(backfill_slices(args.start, args.end))
    except ValueError as error:
        raise ConfigError(str(error)) from None
    with _progress() as bar:
        task = bar.add_task("backfill", total=total)

        def note(month: str, event: str, detail: dict) -> None:
            if event == "start":
                bar.update(task, description=f"slice {month}")
            elif event in ("done", "skipped"):
                err.print(f"  {month}  {detail['status']:<13} {detail['extracted']:>9,} rows "
                          f"({detail['seconds'] or 0:.1f} s)")
                bar.advance(task)

        report = run_backfill(cfg, args.start, args.end, sources, restart=args.restart,
                              note=note)
    table = Table(title=f"backfill {args.start} → {args.end} ({report[0]['backfill_id']})")
    for column in ("slice", "status", "run", "extracted", "accepted", "quarantined", "seconds"):
        table.add_column(column, justify="right" if column in (
            "extracted", "accepted", "quarantined", "seconds") else "left")
    for r in report:
        table.add_row(r["slice"], r["status"], r["run_id"], f"{r['extracted']:,}",
                      f"{r['accepted']:,}", f"{r['quarantined']:,}", f"{r['seconds'] or 0:.1f}")
    out.print(table)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from jinbao.reports import write_report
    from quality.report import ReportError

    try:
        page = write_report(load_config(args.config), Path(args.out), args.run, args.month,
                            args.province)
    except ReportError as error:
        raise ConfigError(str(error)) from None
    out.print(f"report: {page} (and {page.with_suffix('.json').name})")
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    import getpass

    from jinbao import review

    cfg = load_config(args.config)
    if args.review_command == "list":
        review.list_cases(cfg, out, args.kind, args.status, args.limit)
    elif args.review_command == "show":
        review.show_case(cfg, out, args.case_id)
    elif args.review_command == "resolve":
        done = review.resolve_case(cfg, args.case_id, args.decision, args.by or getpass.getuser(),
                                   args.keep, args.row, args.note)
        out.print(f"{args.case_id}: {done['decision']} recorded as {done['decision_id']} and "
                  "applied; later runs keep it; `jinbao review undo` reverses it")
    else:
        done = review.undo_case(cfg, args.case_id, args.by or getpass.getuser())
        out.print(f"{args.case_id}: {done['decision']} ({done['decision_id']}) undone; "
                  "the case is open again")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from jinbao.status import print_status

    print_status(load_config(args.config), out)
    return 0


def cmd_pools(args: argparse.Namespace) -> int:
    from jinbao.dag_specs import DagConfigError, dag_specs, pools

    try:
        wanted = pools(dag_specs())
    except DagConfigError as error:
        raise ConfigError(str(error)) from None
    text = json.dumps(wanted, indent=2, ensure_ascii=False)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
        err.print(f"{len(wanted)} pools written to {args.out}; load them with "
                  f"`airflow pools import {args.out}`")
    else:
        print(text)
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="jinbao", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="build the embedded estate if absent, run everything")
    demo.set_defaults(func=cmd_demo)

    estate = commands.add_parser("estate", help="the estate simulator")
    estate_commands = estate.add_subparsers(dest="estate_command", required=True)
    build = estate_commands.add_parser("build", help="write five simulated legacy systems")
    build.add_argument("--persons", type=int, default=DEMO_PERSONS)
    build.add_argument("--seed", type=int, default=DEMO_SEED)
    build.add_argument("--out", default=".jinbao/estate")
    build.add_argument("--engine", action="append", metavar="SYSTEM=URL",
                       help="place a database system on another engine (repeatable)")
    build.set_defaults(func=cmd_estate_build)

    run = commands.add_parser("run", help="extract, repair, reconcile and load every source")
    run.add_argument("--config", help="TOML file (default: $JINBAO_CONFIG or the embedded estate)")
    run.add_argument("--since", help="window start, exclusive (default: each source's watermark)")
    run.add_argument("--until", help="window end, inclusive (default: open)")
    run.add_argument("--sources", help="comma-separated source names (default: all)")
    run.set_defaults(func=cmd_run)

    backfill = commands.add_parser(
        "backfill", help="reload a date range in monthly or daily slices (resumable, safe to repeat)")
    backfill.add_argument("--config")
    backfill.add_argument("--start", required=True, help="first month (YYYY-MM) or day (YYYY-MM-DD)")
    backfill.add_argument("--end", required=True, help="last month or day, included")
    backfill.add_argument("--sources", help="comma-separated source names (default: all)")
    backfill.add_argument("--restart", action="store_true",
                          help="reload slices an earlier run of this backfill committed")
    backfill.set_defaults(func=cmd_backfill)

    report = commands.add_parser("report", help="the auditors' report: HTML and JSON, masked")
    report.add_argument("--config")
    report.add_argument("--out", required=True, help="folder for report.html and report.json")
    scope = report.add_mutually_exclusive_group()
    scope.add_argument("--run", help="one run (default: the latest)")
    scope.add_argument("--month", help="every run finished in YYYY-MM")
    report.add_argument("--province", help="two-digit province code (pooling regions in it)")
    report.set_defaults(func=cmd_report)

    review = commands.add_parser("review", help="cases awaiting a human decision")
    review_commands = review.add_subparsers(dest="review_command", required=True)
    listing = review_commands.add_parser("list", help="case counts, then the first cases")
    listing.add_argument("--kind", choices=("attribute_conflict", "suspected_duplicate",
                                            "duplicate_enrollment"))
    listing.add_argument("--status", choices=("open", "resolved", "withdrawn"))
    listing.add_argument("--limit", type=int, default=20)
    show = review_commands.add_parser("show", help="one case: evidence and source rows, masked")
    show.add_argument("case_id")
    resolve = review_commands.add_parser(
        "resolve", help="decide a case: merge | keep_apart | pick | confirm | dismiss")
    resolve.add_argument("case_id")
    resolve.add_argument("decision", choices=("merge", "keep_apart", "pick", "confirm",
                                              "dismiss"))
    resolve.add_argument("--keep", type=int, default=1,
                         help="merge: the entity (1 or 2, as `show` lists them) whose number stays")
    resolve.add_argument("--row", help="pick: the row whose value is right (its number in show)")
    resolve.add_argument("--note", help="why (kept with the decision)")
    resolve.add_argument("--by", help="who decides (default: the login name)")
    undo = review_commands.add_parser("undo", help="reverse a case's decision (unmerge)")
    undo.add_argument("case_id")
    undo.add_argument("--by")
    for sub in (listing, show, resolve, undo):
        sub.add_argument("--config")
        sub.set_defaults(func=cmd_review)

    pools = commands.add_parser(
        "pools", help="the Airflow pools the DAGs need (JSON for `airflow pools import`)")
    pools.add_argument("--out", help="write to this file (default: print)")
    pools.set_defaults(func=cmd_pools)

    status = commands.add_parser("status", help="watermarks, last runs, warehouse counts")
    status.add_argument("--config")
    status.set_defaults(func=cmd_status)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from extractors.injury import ExportFormatError
    from jinbao.errors import SourceBroken, SourceUnavailable
    from loaders.decisions import DecisionError

    try:
        return args.func(args)
    except (ConfigError, SourceUnavailable, SourceBroken, ExportFormatError,
            DecisionError) as error:
        err.print(f"error: {error}", markup=False, style="red")
        return 2
    except KeyboardInterrupt:
        err.print("interrupted: committed buckets stay; rerun to finish")
        return 130


if __name__ == "__main__":
    sys.exit(main())
