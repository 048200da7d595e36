"""The jinbao command line: demo, estate, run, backfill, report, review, status, doctor, db,
config, pools.

Every error is one sentence on stderr that names the source, file or rule, with exit status 2;
`--debug` shows the traceback instead. Nothing printed holds a full ID number, name or password.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import re
import sys
import traceback
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from jinbao.config import (
    Config,
    ConfigError,
    default_config,
    load_config,
    masked_url,
    served_config,
)

out = Console(highlight=False, soft_wrap=True)  # paths stay whole, never wrapped
err = Console(stderr=True, highlight=False, soft_wrap=True)

DEMO_PERSONS = 2000
DEMO_SEED = 20261125
MAX_PERSONS = 50_000_000
CONFIG_HELP = "configuration file (default: $JINBAO_CONFIG, else the embedded estate in .jinbao/)"


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn(
        "{task.completed}/{task.total}"), TimeElapsedColumn(), console=err, transient=True)


def _locked(cfg: Config, what: str):
    """The warehouse held for this command's run (another run: wait, then refuse)."""
    from loaders.run_lock import run_lock

    return run_lock(cfg.warehouse_url, what, cfg.lock_wait, lambda said: err.print(said))


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
                for warning in detail.get("warnings", []):
                    err.print(f"  warning: {warning}", markup=False, style="yellow")
                bar.advance(task)
            elif stage == "quarantine":
                bar.update(task, description=f"quarantine {detail['source']}")
                bar.advance(task)
            elif stage == "load":
                names = ",".join(map(str, detail["buckets"]))
                bar.update(task, description=f"load buckets {names}")
            elif stage == "loaded":
                bar.advance(task, len(detail["buckets"]))
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
    gx = [g for g in summary.validation.get("sources", {}).values() if g["batches"]]
    failed = sum(1 for g in gx if not g["success"])
    if summary.validation:  # the national tier validates nothing: its provinces did
        out.print(f"GX validations: {len(gx)} sources validated before the split; {failed} "
                  "with unmet expectations (their quarantined rows, rule by rule, in the Data "
                  "Docs)")
    if gx:
        out.print(f"Data Docs: {summary.validation['data_docs']}")
    out.print(f"warehouse: {masked_url(cfg.warehouse_url)}", markup=False)


def cmd_demo(args: argparse.Namespace) -> int:
    from estate import build_estate

    cfg = default_config()
    estate = Path.cwd() / ".jinbao" / "estate"
    if not (estate / "truth.csv").exists():
        err.print(f"building the demo estate ({DEMO_PERSONS:,} persons) in {estate}")
        build_estate(DEMO_PERSONS, DEMO_SEED, estate)
    with _locked(cfg, "jinbao demo"):
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
    target = Path(args.out)
    if target.exists() and not target.is_dir():
        raise ConfigError(f"--out {target} is a file; name a folder for the estate")
    with _progress() as bar:
        task = bar.add_task("estate", total=None)
        try:
            counts = build_estate(args.persons, args.seed, target,
                                  progress=lambda step: bar.update(task, description=step),
                                  engines=engines, damage=args.damage)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    rows = sum(v for k, v in counts.items() if k != "persons")
    out.print(f"estate of {args.persons:,} persons, {rows:,} source rows in {args.out}")
    for system, count in counts.items():
        if system != "persons":
            out.print(f"  {system:<14}{count:>9,}")
    out.print(f"configuration: {target / 'jinbao.toml'}")
    return 0


def cmd_estate_national(args: argparse.Namespace) -> int:
    from estate.national import build_national_estates

    provinces = tuple(p.strip() for p in args.provinces.split(",") if p.strip())
    target = Path(args.out)
    if target.exists() and not target.is_dir():
        raise ConfigError(f"--out {target} is a file; name a folder for the estates")
    try:
        counts = build_national_estates(args.persons, args.seed, target, provinces, args.movers,
                                        args.damage)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    for province, figures in counts.items():
        rows = sum(v for k, v in figures.items() if k != "persons")
        out.print(f"  {province:<12}{figures['persons']:>9,} persons {rows:>10,} source rows  "
                  f"{target / province / 'jinbao.toml'}")
    out.print(f"national configuration: {target / 'national.toml'}")
    return 0


def cmd_national_run(args: argparse.Namespace) -> int:
    from jinbao.national import load_national_config, national_run

    cfg = load_national_config(args.config)
    with _locked(cfg.consolidation, "jinbao national run"):
        summary = national_run(cfg)
    print_summary(cfg.consolidation, summary)
    for province, reason in summary.failed.items():
        err.print(f"province {province} was not read: {reason}", markup=False, style="red")
    return 2 if summary.failed else 0


def _sources(cfg: Config, text: str | None) -> list[str] | None:
    if not text:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        cfg.source(name)  # an unknown name is a sentence before anything runs
    return names


def cmd_run(args: argparse.Namespace) -> int:
    from jinbao.windows import window

    cfg = load_config(args.config)
    sources = _sources(cfg, args.sources)
    since, until = window(args.since, args.until)
    with _locked(cfg, "jinbao run"):
        summary = run_with_progress(cfg, since, until, sources)
    print_summary(cfg, summary)
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    from jinbao.backfill import backfill_slices, run_backfill

    cfg = load_config(args.config)
    sources = _sources(cfg, args.sources)
    try:
        total = len(backfill_slices(args.start, args.end))
    except ValueError as error:
        raise ConfigError(str(error)) from None
    with _progress() as bar, _locked(cfg, "jinbao backfill"):
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


def _province(code: str | None) -> str | None:
    from schemas.codes import code_table

    if code is None:
        return None
    provinces = code_table("province")
    if code not in provinces:
        raise ConfigError(f"--province {code!r} is not a province: give its two-digit GB/T 2260 "
                          f"code, e.g. 44 for {provinces.get('44', 'Guangdong')}")
    return code


def cmd_report(args: argparse.Namespace) -> int:
    from jinbao.reports import write_report
    from quality.report import ReportError

    folder = Path(args.out)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--out {folder} is a file; name a folder for report.html and "
                          "report.json")
    try:
        if args.national:
            page = _progress_report(args, folder)
        else:
            page = write_report(load_config(args.config), folder, args.run, args.month,
                                _province(args.province))
    except ReportError as error:
        raise ConfigError(str(error)) from None
    out.print(f"report: {page} (and {page.with_suffix('.json').name})")
    return 0


def _progress_report(args: argparse.Namespace, folder: Path) -> Path:
    """`report --national --month M`: the national tier's monthly progress."""
    from jinbao.national import load_national_config
    from jinbao.reports import write_progress_report
    from quality.progress_report import ProgressError

    if not args.config or not args.month or args.run or args.province:
        raise ConfigError("report --national needs --config national.toml and --month YYYY-MM "
                          "(and neither --run nor --province)")
    try:
        datetime.strptime(args.month, "%Y-%m")
    except ValueError:
        raise ConfigError(f"--month {args.month!r}: write it as YYYY-MM") from None
    try:
        return write_progress_report(load_national_config(args.config), folder, args.month)
    except ProgressError as error:
        raise ConfigError(str(error)) from None


def _reviewer(cfg: Config, given: str | None) -> str:
    """Who decides: --by, else [review] reviewer, else $JINBAO_REVIEWER; never guessed."""
    who = given or cfg.reviewer or os.environ.get("JINBAO_REVIEWER")
    if not who or not who.strip():
        raise ConfigError("who decides? give --by NAME (or set [review] reviewer in the "
                          "configuration, or JINBAO_REVIEWER): every decision is recorded under "
                          "the reviewer's name")
    return who.strip()[:64]


def _entity_list(text: str) -> list[int]:
    """'2,3' -> [2, 3]: entities as `review show` numbers them."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"expected entity numbers such as 2,3, not {text!r}")
    return [int(p) for p in parts]


def _review_config(args: argparse.Namespace) -> tuple[Config, str | None]:
    """The warehouse whose cases a review command works on, and the province whose people the
    view keeps to: a province's own; the national one (--config national.toml: the ministry's
    review); or, --national, the national cases about this province's people."""
    from jinbao.config import is_national_file

    if args.config and is_national_file(args.config):
        from jinbao.national import load_national_config

        return load_national_config(args.config).consolidation, None
    cfg = load_config(args.config)
    if not getattr(args, "national", False):
        return cfg, None
    if not cfg.national_url:
        raise ConfigError(f"{cfg.path or 'the configuration'} has no [national] section: add "
                          '[national] warehouse = "<the national warehouse URL>" and province = '
                          '"<this province\'s name there>" to see its cases')
    return dataclasses.replace(cfg, warehouse_url=cfg.national_url), cfg.national_province


def cmd_review(args: argparse.Namespace) -> int:
    from jinbao import review

    cfg, province = _review_config(args)
    if args.review_command == "list":
        listing = review.case_listing(cfg, args.kind, args.status, args.limit, province)
        if args.json:
            print(json.dumps(listing, ensure_ascii=False, indent=1))
        else:
            review.print_listing(listing, out)
    elif args.review_command == "show":
        review.show_case(cfg, out, args.case_id, province)
    elif args.review_command == "resolve":
        if args.decision == "merge" and args.keep is None:
            raise ConfigError("merge needs --keep N: the entity (as `jinbao review show` "
                              "numbers them) whose ID number stays")
        if province:
            done = review.resolve_national_case(cfg, province, args.case_id, args.decision,
                                                _reviewer(cfg, args.by), args.note)
        else:
            done = review.resolve_case(cfg, args.case_id, args.decision,
                                       _reviewer(cfg, args.by), args.keep, args.row, args.note,
                                       args.joining)
        out.print(f"{args.case_id}: {done['decision']} recorded as {done['decision_id']} and "
                  "applied; later runs keep it; `jinbao review undo` reverses it")
    else:
        who = _reviewer(cfg, args.by)
        done = (review.undo_national_case(cfg, province, args.case_id, who) if province
                else review.undo_case(cfg, args.case_id, who))
        out.print(f"{args.case_id}: {done['decision']} ({done['decision_id']}) undone; "
                  "the case is open again")
    return 0


def cmd_match(args: argparse.Namespace) -> int:
    from jinbao import match

    cfg = load_config(args.config)
    with _locked(cfg, f"jinbao match {args.match_command}"):
        if args.match_command == "train":
            result = match.train_model(cfg)
            if args.json:
                print(json.dumps(result, ensure_ascii=False, indent=1))
            else:
                match.print_training(result, out)
        else:
            result = match.rerun(cfg, args.apply)
            if args.json:
                print(json.dumps({k: v for k, v in result.items() if k != "about"}, indent=1))
            else:
                match.print_rerun(result, out)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from jinbao.status import print_status, status_data

    data = status_data(load_config(args.config))
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=1))
    else:
        print_status(data, out)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.app import CONFIG_VARIABLE, create_app

    cfg = served_config(args.config)
    host, port = args.host or cfg.service.host, args.port or cfg.service.port
    workers = args.workers or cfg.service.workers
    create_app(cfg)  # a bad warehouse or schema is said here, once, not by every worker
    err.print(f"jinbao serve: http://{host}:{port}/ over {masked_url(cfg.warehouse_url)}, "
              f"{workers} worker process{'es' if workers > 1 else ''} (Ctrl-C stops it)")
    # no access log: a look-up's path holds the number looked up; the service keeps its own
    # record of every look-up (access_log), masked
    os.environ[CONFIG_VARIABLE] = str(cfg.path) if cfg.path else ""
    uvicorn.run("service.app:served_app", factory=True, host=host, port=port, workers=workers,
                access_log=False, log_level="warning")
    return 0


def _password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ConfigError("the two passwords differ; nothing was changed")
    return first


def cmd_users(args: argparse.Namespace) -> int:
    from loaders.schema import ensure_schema
    from loaders.warehouse import warehouse_engine
    from service import accounts

    cfg = served_config(args.config)
    engine = warehouse_engine(cfg.warehouse_url)
    ensure_schema(engine)
    try:
        with engine.begin() as conn:
            if args.users_command == "add":
                user = accounts.add_user(conn, args.name, args.role, _password())
                err.print(f"account {user.name} ({user.role}) added")
            elif args.users_command == "disable":
                accounts.disable_user(conn, args.name)
                err.print(f"account {args.name} disabled: its logins stop at once")
            else:
                table = Table(title="accounts")
                for column in ("name", "role", "created", "disabled"):
                    table.add_column(column)
                for row in accounts.users(conn):
                    table.add_row(row["name"], row["role"], f"{row['created_at']:%Y-%m-%d %H:%M}",
                                  f"{row['disabled_at']:%Y-%m-%d %H:%M}"
                                  if row["disabled_at"] else "")
                out.print(table)
    except accounts.AccountError as error:
        raise ConfigError(str(error)) from None
    finally:
        engine.dispose()
    return 0


def cmd_pools(args: argparse.Namespace) -> int:
    from jinbao.dag_specs import DagConfigError, dag_specs, national_specs_and_broken, pools

    national, broken = national_specs_and_broken()
    if broken:
        raise DagConfigError("\n".join(b.error for b in broken))
    wanted = pools(dag_specs(), national)
    text = json.dumps(wanted, indent=2, ensure_ascii=False)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
        err.print(f"{len(wanted)} pools written to {args.out}; load them with "
                  f"`airflow pools import {args.out}`")
    else:
        print(text)
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from loaders import schema
    from loaders.warehouse import warehouse_engine

    cfg = load_config(args.config)
    engine = warehouse_engine(cfg.warehouse_url)
    where = masked_url(cfg.warehouse_url)
    try:
        if args.db_command == "upgrade":
            with _locked(cfg, "jinbao db upgrade"):
                before, after = schema.upgrade(engine)
            said = ("created" if before is None else "already current" if before == after
                    else f"upgraded from {before}")
            out.print(f"warehouse {where}: schema revision {after} ({said})", markup=False)
        else:
            with engine.connect() as conn:
                current = schema.revision_of(conn)
            head = schema.head_revision()
            state = ("empty" if current is None else "current" if current == head
                     else f"behind: run `jinbao db upgrade` to reach {head}")
            out.print(f"warehouse {where}: schema revision {current or '-'} ({state})",
                      markup=False)
    finally:
        engine.dispose()
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from jinbao.config_model import json_schema

    if args.config_command == "schema":
        text = json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
        if args.out:
            Path(args.out).write_text(text, encoding="utf-8")
            err.print(f"JSON Schema written to {args.out}; editors pick it up from a "
                      f"`#:schema {args.out}` first line in the TOML file")
        else:
            print(text, end="")
        return 0
    cfg = load_config(args.config)
    out.print(f"{cfg.path or 'the embedded default'}: valid; warehouse "
              f"{masked_url(cfg.warehouse_url)}, {len(cfg.sources)} sources, {cfg.buckets} buckets",
              markup=False)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from jinbao.doctor import FAIL, OK, findings

    cfg = load_config(args.config)
    found = findings(cfg, airflow=not args.no_airflow)
    out.print(f"jinbao doctor: {cfg.path or 'the embedded default'}", markup=False)
    styles = {OK: "green", FAIL: "red"}
    for f in found:
        out.print(f"{f.state:>8}  {f.area}: {f.said}", style=styles.get(f.state, "yellow"),
                  markup=False)
        if f.fix and f.state != OK:
            out.print(f"          -> {f.fix}", markup=False)
    problems = sum(f.state == FAIL for f in found)
    out.print(f"{problems} problem(s), {sum(f.state not in (OK, FAIL) for f in found)} warning(s)")
    return 2 if problems else 0


def _version() -> str:
    try:
        return version("jinbao")
    except PackageNotFoundError:
        return "unknown"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="jinbao", description=__doc__.split("\n\n")[0])
    top.add_argument("--version", action="version", version=f"jinbao {_version()}")
    top.add_argument("--debug", action="store_true",
                     help="show the traceback of an error (it may show personal data)")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", help="build the embedded estate if absent, run everything")
    demo.set_defaults(func=cmd_demo)

    estate = commands.add_parser("estate", help="the estate simulator")
    estate_commands = estate.add_subparsers(dest="estate_command", required=True)
    build = estate_commands.add_parser("build", help="write five simulated legacy systems")
    build.add_argument("--persons", type=_count("--persons", 1, MAX_PERSONS), default=DEMO_PERSONS,
                       help=f"natural persons to simulate (default {DEMO_PERSONS:,})")
    build.add_argument("--seed", type=int, default=DEMO_SEED,
                       help="random seed: the same seed gives the same estate")
    build.add_argument("--out", default=".jinbao/estate",
                       help="folder for the systems, truth.csv, damage.csv and jinbao.toml")
    build.add_argument("--engine", action="append", metavar="SYSTEM=URL",
                       help="place a database system on another engine (repeatable)")
    build.add_argument("--damage", choices=("catalogue", "corruptor"), default="catalogue",
                       help="catalogue: legacy-estate's damage catalogue (default); corruptor: "
                            "a field-level corruptor that shares nothing with it")
    build.set_defaults(func=cmd_estate_build)

    national_estate = estate_commands.add_parser(
        "national", help="one population in several province estates, some people in two")
    national_estate.add_argument("--persons", type=_count("--persons", 1, MAX_PERSONS),
                                 default=DEMO_PERSONS, help="natural persons in all provinces")
    national_estate.add_argument("--seed", type=int, default=DEMO_SEED, help="random seed")
    national_estate.add_argument("--out", default=".jinbao/national",
                                 help="folder for the province estates and national.toml")
    national_estate.add_argument("--provinces", default="guangdong,anhui,sichuan",
                                 help="comma-separated province names (estate.national)")
    national_estate.add_argument("--movers", type=float, default=0.1,
                                 help="share of people who also lived in a second province")
    national_estate.add_argument("--damage", choices=("catalogue", "corruptor"),
                                 default="catalogue", help="as for estate build")
    national_estate.set_defaults(func=cmd_estate_national)

    national = commands.add_parser("national", help="the national tier over province warehouses")
    national_commands = national.add_subparsers(dest="national_command", required=True)
    national_run = national_commands.add_parser(
        "run", help="province warehouses (read only) -> the national warehouse, incrementally")
    national_run.add_argument("--config", required=True, help="the national tier's TOML file")
    national_run.set_defaults(func=cmd_national_run)

    run = commands.add_parser("run", help="extract, repair, reconcile and load every source")
    run.add_argument("--config", help=CONFIG_HELP)
    run.add_argument("--since", help="window start, exclusive, YYYY-MM-DD[ HH:MM:SS] local time "
                                     "(default: each source's watermark; 1900-01-01 re-reads all)")
    run.add_argument("--until", help="window end, inclusive (default: open)")
    run.add_argument("--sources", help="comma-separated source names (default: all)")
    run.set_defaults(func=cmd_run)

    backfill = commands.add_parser(
        "backfill", help="reload a date range in monthly or daily slices (resumable, safe to repeat)")
    backfill.add_argument("--config", help=CONFIG_HELP)
    backfill.add_argument("--start", required=True, help="first month (YYYY-MM) or day (YYYY-MM-DD)")
    backfill.add_argument("--end", required=True, help="last month or day, included")
    backfill.add_argument("--sources", help="comma-separated source names (default: all)")
    backfill.add_argument("--restart", action="store_true",
                          help="reload slices an earlier run of this backfill committed")
    backfill.set_defaults(func=cmd_backfill)

    report = commands.add_parser("report", help="the auditors' report: HTML and JSON, masked")
    report.add_argument("--config", help=CONFIG_HELP)
    report.add_argument("--out", required=True, help="folder for report.html and report.json")
    scope = report.add_mutually_exclusive_group()
    scope.add_argument("--run", help="one run (default: the latest)")
    scope.add_argument("--month", help="every run finished in YYYY-MM")
    report.add_argument("--province", help="two-digit province code (pooling regions in it)")
    report.add_argument("--national", action="store_true",
                        help="the national tier's monthly progress (--config national.toml "
                             "--month YYYY-MM)")
    report.set_defaults(func=cmd_report)

    review = commands.add_parser("review", help="cases awaiting a human decision")
    review_commands = review.add_subparsers(dest="review_command", required=True)
    listing = review_commands.add_parser("list", help="case counts, then the first cases")
    listing.add_argument("--kind", choices=("attribute_conflict", "suspected_duplicate",
                                            "duplicate_enrollment"), help="only this kind")
    listing.add_argument("--status", choices=("open", "resolved", "withdrawn"),
                         help="only cases in this status")
    listing.add_argument("--limit", type=_count("--limit", 1, 100_000), default=20,
                         help="cases to list (default 20)")
    listing.add_argument("--json", action="store_true", help="print JSON instead of tables")
    show = review_commands.add_parser("show", help="one case: evidence and source rows, masked")
    show.add_argument("case_id", help="the case (as `review list` shows it)")
    resolve = review_commands.add_parser(
        "resolve", help="decide a case: merge | keep_apart | pick | confirm | dismiss")
    resolve.add_argument("case_id", help="the case (as `review list` shows it)")
    resolve.add_argument("decision", choices=("merge", "keep_apart", "pick", "confirm",
                                              "dismiss"), help="what you decide")
    resolve.add_argument("--keep", type=_count("--keep", 1, 1000),
                         help="merge (required): the entity (as `show` numbers them) whose "
                              "number stays")
    resolve.add_argument("--with", dest="joining", type=_entity_list,
                         help="merge: the entities that join it, e.g. 2,3 (default: all the "
                              "case's others)")
    resolve.add_argument("--row", help="pick: the row whose value is right (its number in show)")
    resolve.add_argument("--note", help="why (kept with the decision)")
    resolve.add_argument("--by", help="who decides (default: [review] reviewer or "
                                      "$JINBAO_REVIEWER; one of them is required)")
    undo = review_commands.add_parser("undo", help="reverse a case's decision (unmerge)")
    undo.add_argument("case_id", help="the case whose standing decision to reverse")
    undo.add_argument("--by", help="who undoes it (default: [review] reviewer or $JINBAO_REVIEWER)")
    for sub in (listing, show, resolve, undo):
        sub.add_argument("--national", action="store_true",
                         help="the national cases about this province's people ([national] in "
                              "its configuration); from a province: confirm, dismiss or "
                              "keep_apart, recorded at the national tier")
    for sub in (listing, show, resolve, undo):
        sub.add_argument("--config", help=CONFIG_HELP)
        sub.set_defaults(func=cmd_review)

    pools = commands.add_parser(
        "pools", help="the Airflow pools the DAGs need (JSON for `airflow pools import`)")
    pools.add_argument("--out", help="write to this file (default: print)")
    pools.set_defaults(func=cmd_pools)

    status = commands.add_parser("status", help="watermarks, last runs, failures, counts")
    status.add_argument("--config", help=CONFIG_HELP)
    status.add_argument("--json", action="store_true", help="print JSON instead of tables")
    status.set_defaults(func=cmd_status)

    doctor = commands.add_parser(
        "doctor", help="check a configuration end to end: files, warehouse, sources, pools")
    doctor.add_argument("--config", help=CONFIG_HELP)
    doctor.add_argument("--no-airflow", action="store_true",
                        help="skip the check of Airflow's pools")
    doctor.set_defaults(func=cmd_doctor)

    matching = commands.add_parser("match", help="the suspected-duplicate linkage model")
    match_commands = matching.add_subparsers(dest="match_command", required=True)
    train = match_commands.add_parser(
        "train", help="train a new model version on the warehouse's rows; print what changed")
    rerun = match_commands.add_parser(
        "rerun", help="score everything with the latest model; show the cases it would open "
                      "and withdraw")
    rerun.add_argument("--apply", action="store_true", help="apply them (default: only show)")
    for sub in (train, rerun):
        sub.add_argument("--json", action="store_true", help="print JSON instead of tables")
        sub.add_argument("--config", help=CONFIG_HELP)
        sub.set_defaults(func=cmd_match)
    db = commands.add_parser("db", help="the warehouse's schema revision")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser("upgrade", help="migrate the warehouse to this jinbao's schema")
    current = db_commands.add_parser("current", help="show the warehouse's schema revision")
    for sub in (upgrade, current):
        sub.add_argument("--config", help=CONFIG_HELP)
        sub.set_defaults(func=cmd_db)

    serve = commands.add_parser(
        "serve", help="the web service: caseworkers' review queue and the 12333 look-up")
    serve.add_argument("--config", help=CONFIG_HELP + " (a national.toml serves the nation's)")
    serve.add_argument("--host", help="address to listen on (default: [service] host)")
    serve.add_argument("--port", type=_count("--port", 1, 65535),
                       help="port (default: [service] port)")
    serve.add_argument("--workers", type=_count("--workers", 1, 64),
                       help="worker processes (default: [service] workers)")
    serve.set_defaults(func=cmd_serve)

    users = commands.add_parser("users", help="the service's accounts")
    users_commands = users.add_subparsers(dest="users_command", required=True)
    add = users_commands.add_parser(
        "add", help="a new account; its password from standard input (or asked twice)")
    add.add_argument("name", help="account name (letters, digits, . _ @ -)")
    add.add_argument("--role", required=True, choices=("caseworker", "checker", "auditor",
                                                       "operator", "admin"))
    users_list = users_commands.add_parser("list", help="the accounts (never a password)")
    disable = users_commands.add_parser("disable", help="end an account (its logins stop at once)")
    disable.add_argument("name")
    for sub in (add, users_list, disable):
        sub.add_argument("--config", help=CONFIG_HELP)
        sub.set_defaults(func=cmd_users)

    config = commands.add_parser("config", help="the configuration file")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    check = config_commands.add_parser("check", help="read the file and report every problem")
    check.add_argument("--config", help=CONFIG_HELP)
    schema = config_commands.add_parser("schema", help="the file's JSON Schema, for editors")
    schema.add_argument("--out", help="write to this file (default: print)")
    for sub in (check, schema):
        sub.set_defaults(func=cmd_config)
    return top


def _count(option: str, low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low:,} and {high:,}")
        return value

    parse.__name__ = option
    return parse


def _logging(debug: bool) -> None:
    from quality.masking import ScrubbingFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ScrubbingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, handlers=[handler],
                        force=True)
    for noisy in ("great_expectations", "alembic", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.ERROR)


def _failure(error: BaseException) -> tuple[str, int]:
    """The sentence and exit status for an error that reached the top."""
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    from extractors.injury import ExportFormatError
    from jinbao.errors import RunLocked, SourceBroken, SourceUnavailable, WarehouseError
    from loaders.decisions import DecisionError
    from quality.masking import scrubbed

    if isinstance(error, ConfigError | SourceUnavailable | SourceBroken | ExportFormatError
                  | DecisionError | WarehouseError | RunLocked):
        return scrubbed(str(error)), 2
    if isinstance(error, DBAPIError | SQLAlchemyError):
        return f"the warehouse cannot be used: {_warehouse_reason(error)}", 2
    if isinstance(error, OSError):
        where = f" {error.filename}" if error.filename else ""
        return scrubbed(f"cannot use{where}: {error.strerror or error}"), 2
    at = _where(error)
    return (f"internal error ({type(error).__name__}{at}); nothing uncommitted was kept, and a "
            "rerun finishes the work. Rerun with --debug to see the traceback (it may show "
            "personal data) and report it"), 1


def _where(error: BaseException) -> str:
    """' at file.py:123', where the error was raised: in a worker process when it came from
    one (the pool re-raises it in this process, whose last frame is the pool's own)."""
    remote = getattr(error.__cause__, "tb", None)  # concurrent.futures' _RemoteTraceback
    if isinstance(remote, str):
        found = re.findall(r'File "([^"]+)", line (\d+)', remote)
        if found:
            return f" at {Path(found[-1][0]).name}:{found[-1][1]}"
    frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    return f" at {Path(frame.filename).name}:{frame.lineno}" if frame else ""


def _warehouse_reason(error: BaseException) -> str:
    from extractors.sql import reason
    from quality.masking import scrubbed

    said = scrubbed(reason(error))
    lowered = said.lower()
    hints = (("readonly", "it is read-only: give jinbao write access to the file and its folder"),
             ("read-only", "it is read-only"),
             ("disk is full", "the disk is full"), ("no space left", "the disk is full"),
             ("permission denied", "the warehouse user lacks a right it needs (CREATE on the "
                                   "schema, or write on a table)"),
             ("unable to open database", "the database file cannot be opened (does its folder "
                                         "exist and may jinbao write it?)"),
             ("connection refused", "it refuses connections: is the server up?"),
             ("could not translate host name", "its host name is unknown"),
             ("timeout", "it did not answer in time"), ("database is locked",
                                                        "another process holds it locked"))
    for marker, hint in hints:
        if marker in lowered:
            return f"{hint} ({said})"
    return said


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    debug = args.debug or bool(os.environ.get("JINBAO_DEBUG"))
    _logging(debug)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        err.print("interrupted: committed buckets stay; rerun to finish")
        return 130
    except Exception as error:
        if debug:
            traceback.print_exc()
        message, status = _failure(error)
        err.print(f"error: {message}", markup=False, style="red")
        return status


if __name__ == "__main__":
    sys.exit(main())
