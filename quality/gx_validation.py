"""The Great Expectations record: a suite built from schemas.fields, run on each accepted batch.

Results are persisted in a file context and rendered as Data Docs. The result format is BASIC with
no unexpected values listed, so no ID number or name is copied into results or docs.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from schemas.codes import code_table
from schemas.fields import SOURCE_ROW

SUITE = "jinbao_source_row"
REQUIRED = ("id_number", "name", "scheme", "pooling_region", "status")
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0,
                 "include_unexpected_rows": False}


def expectations() -> list:
    """The expectations of an accepted source row, derived from the field specs."""
    import great_expectations.expectations as gxe

    result = []
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
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        # GX narrates every step at INFO: in a task's log that is most of the lines
        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        with _project_lock(root):
            context = gx.get_context(mode="file", project_root_dir=str(root))
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        _CONTEXTS[root] = (context, {})
    return _CONTEXTS[root]


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


def _saved(store, wanted, same) -> object:
    """The stored object named like `wanted`, if `same(stored)`; else `wanted`, saved. Parallel
    stages must not rewrite what is already right: GX refuses to run on objects another process
    saved since they were loaded."""
    try:
        stored = store.get(wanted.name)
    except Exception:  # GX raises a different error per store for "not found"
        stored = None
    return stored if stored is not None and same(stored) else store.add_or_update(wanted)


def _definition(root: Path, source_name: str, all_sources: tuple[str, ...]):
    """The source's validation definition. The first call in a process sets up every source's
    at once, under the project lock, so that later validations (which read the project's files
    outside the lock) never meet a file another process is writing."""
    import great_expectations as gx

    context, definitions = _context(root)
    if source_name not in definitions:
        with _project_lock(root):
            wanted = gx.ExpectationSuite(name=SUITE, expectations=expectations())
            suite = _saved(context.suites, wanted,
                           lambda stored: _signature(stored) == _signature(wanted))
            sources = context.data_sources
            datasource = (sources.get("jinbao") if "jinbao" in sources.all()
                          else sources.add_pandas("jinbao"))
            for name in dict.fromkeys((source_name, *all_sources)):
                asset = next((a for a in datasource.assets if a.name == name), None)
                asset = asset or datasource.add_dataframe_asset(name)
                batch = next((b for b in asset.batch_definitions if b.name == "accepted"), None)
                batch = batch or asset.add_batch_definition_whole_dataframe("accepted")
                definitions[name] = _saved(
                    context.validation_definitions,
                    gx.ValidationDefinition(name=f"{name}_accepted", data=batch, suite=suite),
                    lambda stored, b=batch: stored.suite.id == suite.id and stored.data.id == b.id)
    return definitions[source_name]


def validate_accepted(rows: pd.DataFrame, source_name: str, run_id: str, root: Path,
                      all_sources: tuple[str, ...] = ()) -> dict:
    """Validate one batch of a source's accepted rows; the result is stored under the run's
    name (each batch its own file, so parallel stages need no lock). `all_sources`: every source
    the run stages (their definitions are set up together). Returns the statistics."""
    import great_expectations as gx

    definition = _definition(root, source_name, all_sources)
    frame = rows[[f.name for f in SOURCE_ROW]]
    result = definition.run(batch_parameters={"dataframe": frame}, result_format=RESULT_FORMAT,
                            run_id=gx.RunIdentifier(run_name=run_id))
    stats = result.statistics
    failed = [r.expectation_config.type + ":" + str(r.expectation_config.kwargs.get("column"))
              for r in result.results if not r.success]
    return {"success": bool(result.success), "evaluated": stats["evaluated_expectations"],
            "unsuccessful": stats["unsuccessful_expectations"], "failed": failed,
            "data_docs": str(data_docs_index(root))}


def data_docs_index(root: Path) -> Path:
    return root / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def build_data_docs(root: Path, run_id: str) -> Path:
    """Render the run's validation results into the Data Docs site (earlier runs' pages stay)
    and rebuild its index; returns the index page."""
    context, _ = _context(root)
    with _project_lock(root):
        keys = [k for k in context.validation_results_store.list_keys()
                if k.run_id.run_name == run_id]
        if keys:
            context.build_data_docs(resource_identifiers=keys)
    return data_docs_index(root)
