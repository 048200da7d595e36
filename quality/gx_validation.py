"""The Great Expectations record: every standardised row of every batch, before the accepted /
quarantined split, against a suite built from the standard: the field specs (schemas.fields)
and every row rule (schemas.rules), the latter as a column per rule that says whether the row
passes it. So Data Docs show each rule's real unexpected percentage per source and run.

Results are persisted in a file context and rendered as Data Docs that open offline: the pages'
styles and scripts are served from the site itself (quality/data_docs_assets), never a CDN. The
result format is BASIC with no unexpected values listed, so no ID number or name is copied into
results or docs.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import sys
import time
import warnings
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import pandas as pd

from schemas.codes import code_table
from schemas.fields import SOURCE_ROW
from schemas.rules import RULES

# GX narrates every step, its imports included, at INFO: in a task's log that was most of the
# lines. Set before any GX import (each import below is inside a function).
logging.getLogger("great_expectations").setLevel(logging.WARNING)
# GX imports PySpark where it is installed (the national tier's engine), whose check of the
# pandas version warns on every run; the pandas GX and jinbao use here is not Spark's business
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                        category=FutureWarning)

log = logging.getLogger("jinbao")
SUITE = "jinbao_source_row"
BATCH = "standardized"
REQUIRED = ("id_number", "name", "scheme", "pooling_region", "status")
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0,
                 "include_unexpected_rows": False}


PASSES = "passes_"
"""Prefix of the column that says whether a row passes one rule (passes_id_checksum)."""


def rule_columns(failures: pd.DataFrame) -> pd.DataFrame:
    """One boolean column per rule: True where the row passes it."""
    return pd.DataFrame({f"{PASSES}{name}": ~failures[name].to_numpy()
                         for name in failures.columns}, index=failures.index)


def expectations() -> list:
    """The expectations of a standardised source row: every rule passed, and the field specs
    met (which a quarantined row may not)."""
    import great_expectations.expectations as gxe

    result = [gxe.ExpectColumnValuesToBeInSet(
        column=f"{PASSES}{rule.name}", value_set=[True], description=f"rule {rule.name}: "
        f"{rule.description}", meta={"rule": rule.name}) for rule in RULES]
    for spec in SOURCE_ROW:
        if spec.name in REQUIRED:
            result.append(gxe.ExpectColumnValuesToNotBeNull(column=spec.name))
        if spec.code_table:
            result.append(gxe.ExpectColumnValuesToBeInSet(
                column=spec.name, value_set=sorted(code_table(spec.code_table))))
        if spec.pattern:
            result.append(gxe.ExpectColumnValuesToMatchRegex(column=spec.name, regex=spec.pattern))
        if spec.kind in ("char", "varchar") and spec.length:
            result.append(gxe.ExpectColumnValueLengthsToBeBetween(
                column=spec.name, min_value=1, max_value=spec.length))
    return result


_CONTEXTS: dict[Path, tuple] = {}  # per process: (file context, definitions by source name)


def _context(root: Path) -> tuple:
    """This process's context of the project, read under the project lock (another process may
    be writing its files)."""
    if root not in _CONTEXTS:
        with _project_lock(root):
            _open(root)
    return _CONTEXTS[root]


def _without_spark_connect() -> None:
    """PySpark (the national tier's engine) ends the whole process, with status 0, when its
    Spark Connect module is imported in an interpreter whose __main__ has no file (`python -c`,
    a pytest-xdist worker): it takes that for its own doctests. GX imports the module wherever
    PySpark is installed. jinbao never uses Spark Connect: there, it is marked absent first,
    and GX goes without it."""
    main = sys.modules.get("__main__")
    if (main is not None and getattr(main, "__spec__", None) is None
            and not hasattr(main, "__file__") and not hasattr(sys, "ps1")):
        sys.modules.setdefault("pyspark.sql.connect", None)


_without_spark_connect()  # before any GX import below


def _open(root: Path) -> None:
    """Read the project into this process's context (the caller holds the project lock)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    mended = mend_project(root)
    if mended:
        log.warning("GX project %s: %d unreadable files removed (a process killed while "
                    "writing them); jinbao writes them again", root, len(mended))
    try:
        context = gx.get_context(mode="file", project_root_dir=str(root))
    except Exception:  # noqa: BLE001 - settings cut short can still parse, then fail in GX
        settings = root / "gx" / "great_expectations.yml"
        if not settings.exists():
            raise
        settings.replace(settings.with_name("great_expectations.yml.unreadable"))
        log.warning("GX project %s: its settings could not be used (a process killed while "
                    "writing them?); set up anew, the old file kept as %s.unreadable", root,
                    settings.name)
        context = gx.get_context(mode="file", project_root_dir=str(root))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    _CONTEXTS[root] = (context, {})


def _readable(path: Path) -> bool:
    import yaml

    try:
        text = path.read_text("utf-8")
        found = yaml.safe_load(text) if path.suffix == ".yml" else json.loads(text)
    except (OSError, ValueError, yaml.YAMLError):
        return False
    return isinstance(found, dict)


def mend_project(root: Path) -> list[Path]:
    """Remove the project's configuration files that cannot be read whole (a process killed
    while GX wrote one leaves it cut short, and GX then fails on it for good); returns them.
    What they held is jinbao's to write again: the project's settings (GX writes them anew),
    the suite and the validation definitions (_definition). Validation results stay."""
    project = root / "gx"
    files = [project / "great_expectations.yml",
             *(project / "expectations").glob("*.json"),
             *(project / "validation_definitions").glob("*.json")]
    broken = [f for f in files if f.exists() and not _readable(f)]
    for path in broken:
        path.unlink()
    return broken


@contextmanager
def _project_lock(root: Path):
    """One writer at a time per GX project: parallel stages share its config and docs files."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".jinbao.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _signature(suite) -> list[str]:
    """A suite's expectations as comparable text (stored ones carry ids, new ones do not)."""
    return sorted(json.dumps([e.configuration.type, e.configuration.kwargs], sort_keys=True,
                             default=str) for e in suite.expectations)


def _saved(store, wanted, same) -> bool:
    """Whether `wanted` had to be saved: the stored object named like it is kept if
    `same(stored)`. Parallel stages must not rewrite what is already right: GX refuses to run
    on objects another process saved since they were loaded."""
    try:
        stored = store.get(wanted.name)
    except Exception:  # GX raises a different error per store for "not found"
        stored = None
    if stored is not None and same(stored):
        return False
    store.add_or_update(wanted)
    return True


def _definition(root: Path, source_name: str, all_sources: tuple[str, ...]):
    """The source's validation definition. The first call in a process sets up every source's
    at once, under the project lock, so that later validations (which read the project's files
    outside the lock) never meet a file another process is writing."""
    context, definitions = _context(root)
    if source_name not in definitions:
        with _project_lock(root):
            if _set_up(context, (source_name, *all_sources)):
                # what this process saved is read back as a later process reads it: objects
                # made here from a stored data source's asset run without the project behind
                # them (GX: MissingDataContextError)
                _open(root)
                context, definitions = _CONTEXTS[root]
            for name in dict.fromkeys((source_name, *all_sources)):
                definitions[name] = context.validation_definitions.get(f"{name}_{BATCH}")
    return definitions[source_name]


def _set_up(context, names: tuple[str, ...]) -> bool:
    """The suite, data source, assets and validation definitions of these sources, saved where
    missing or not as wanted; whether anything was saved."""
    import great_expectations as gx

    wanted = gx.ExpectationSuite(name=SUITE, expectations=expectations())
    saved = _saved(context.suites, wanted, lambda stored: _signature(stored) == _signature(wanted))
    suite = context.suites.get(SUITE)
    sources = context.data_sources
    if "jinbao" not in sources.all():
        sources.add_pandas("jinbao")
        saved = True
    datasource = sources.get("jinbao")
    for name in dict.fromkeys(names):
        asset = next((a for a in datasource.assets if a.name == name), None)
        if asset is None:
            asset, saved = datasource.add_dataframe_asset(name), True
        batch = next((b for b in asset.batch_definitions if b.name == BATCH), None)
        if batch is None:
            batch, saved = asset.add_batch_definition_whole_dataframe(BATCH), True
        saved |= _saved(
            context.validation_definitions,
            gx.ValidationDefinition(name=f"{name}_{BATCH}", data=batch, suite=suite),
            lambda stored, b=batch: stored.suite.id == suite.id and stored.data.id == b.id)
    return saved


def validation_frame(rows: pd.DataFrame, failures: pd.DataFrame) -> pd.DataFrame:
    """What GX validates of a batch: the standardised fields and one pass column per rule."""
    return pd.concat([rows[[f.name for f in SOURCE_ROW]], rule_columns(failures)], axis=1)


def validate_rows(rows: pd.DataFrame, failures: pd.DataFrame, source_name: str, run_id: str,
                  root: Path, all_sources: tuple[str, ...] = ()) -> dict:
    """validate_frame of a batch of standardised rows and the rules each failed."""
    return validate_frame(validation_frame(rows, failures), source_name, run_id, root,
                          all_sources)


def validate_frame(frame: pd.DataFrame, source_name: str, run_id: str, root: Path,
                   all_sources: tuple[str, ...] = ()) -> dict:
    """Validate one batch of a source's standardised rows (accepted and quarantined, with
    their pass columns); the result is stored under the run's name (each batch its own file,
    so parallel validations need no lock). `all_sources`: every source the run stages (their
    definitions are set up together). Returns the statistics, with each rule's share of rows
    that broke it."""
    import great_expectations as gx

    definition = _definition(root, source_name, all_sources)
    result = definition.run(batch_parameters={"dataframe": frame}, result_format=RESULT_FORMAT,
                            run_id=gx.RunIdentifier(run_name=run_id))
    stats = result.statistics
    failed = [r.expectation_config.type + ":" + str(r.expectation_config.kwargs.get("column"))
              for r in result.results if not r.success]
    broken = {str(r.expectation_config.kwargs["column"]).removeprefix(PASSES):
              round(float(r.result.get("unexpected_percent") or 0.0), 4)
              for r in result.results if not r.success
              and str(r.expectation_config.kwargs.get("column")).startswith(PASSES)}
    return {"success": bool(result.success), "evaluated": stats["evaluated_expectations"],
            "unsuccessful": stats["unsuccessful_expectations"], "failed": failed,
            "rules_percent": broken, "rows": len(frame), "data_docs": str(data_docs_index(root))}


def summary(results: list[dict]) -> dict:
    """A source's batches' results as one: every expectation met or not, and each rule's share
    of all the source's rows."""
    if not results:
        return {"success": True, "evaluated": 0, "unsuccessful": 0, "batches": 0}
    rows = sum(r["rows"] for r in results)
    broken: dict[str, float] = {}
    for r in results:  # each batch's share of its rows, weighed into the source's share
        for rule, percent in r["rules_percent"].items():
            broken[rule] = broken.get(rule, 0.0) + percent * r["rows"] / max(rows, 1)
    return {"success": all(r["success"] for r in results),
            "evaluated": sum(r["evaluated"] for r in results),
            "unsuccessful": sum(r["unsuccessful"] for r in results),
            "failed": sorted({f for r in results for f in r["failed"]}),
            "rules_percent": {k: round(v, 4) for k, v in sorted(broken.items())},
            "rows": rows, "batches": len(results), "data_docs": results[0]["data_docs"]}


def data_docs_index(root: Path) -> Path:
    return root / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def build_data_docs(root: Path, run_id: str) -> Path:
    """Render the run's validation results into the Data Docs site (earlier runs' pages stay),
    rebuild its index, and make the pages written open offline; returns the index page."""
    context, _ = _context(root)
    with _project_lock(root):
        keys = [k for k in context.validation_results_store.list_keys()
                if k.run_id.run_name == run_id]
        if keys:
            began = time.time() - 1
            context.build_data_docs(resource_identifiers=keys)
            offline_site(data_docs_index(root).parent, since=began)
    return data_docs_index(root)


ASSETS = Path(__file__).parent / "data_docs_assets"
# What GX's page templates load from CDNs, and the local copy each becomes ('' drops it: vega
# draws charts our expectations never ask for; the dark theme is optional)
CDN = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js":
        "bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css":
        "bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.js": "bootstrap-table-filter-control.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.css": "bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.css": "bootstrap-table-filter-control.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/"
    "bootstrap-datepicker.min.js": "bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/"
    "bootstrap-datepicker.min.css": "bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css":
        "fontawesome/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/vega@5": "",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/"
    "bootstrap-prefers-dark.css": "",
}
_TAG = re.compile(r'<(script|link)\b[^>]*?(?:src|href)="(https?://[^"]+)"[^>]*>(?:</script>)?')
_REMOTE_IMAGE = re.compile(r'https://great-expectations-web-assets\.s3[^"\']*?/([a-z_-]+\.png)'
                           r'[^"\']*')


def _local(match: re.Match, static: str) -> str:
    """A CDN <script> or <link> tag as one for the site's own copy (or nothing)."""
    tag, url = match.group(1), match.group(2)
    if url not in CDN:
        return match.group(0)
    if not CDN[url]:
        return ""
    path = f"{static}/vendor/{CDN[url]}"
    return f'<script src="{path}"></script>' if tag == "script" else \
        f'<link rel="stylesheet" href="{path}">'


def offline_site(site: Path, since: float = 0.0) -> int:
    """Serve the site's styles and scripts from the site (static/vendor/) and its logo from
    static/images; pages written since `since` are rewritten. Returns how many."""
    vendor = site / "static" / "vendor"
    if not (vendor / "jquery.min.js").exists():
        shutil.copytree(ASSETS, vendor, dirs_exist_ok=True)
    rewritten = 0
    for page in site.rglob("*.html"):
        if page.stat().st_mtime < since:
            continue
        text = page.read_text("utf-8")
        static = os.path.relpath(site / "static", page.parent)
        offline = _TAG.sub(partial(_local, static=static), text)
        offline = _REMOTE_IMAGE.sub(lambda m, s=static: f"{s}/images/{m.group(1)}", offline)
        if offline != text:
            page.write_text(offline, "utf-8")
            rewritten += 1
    return rewritten
