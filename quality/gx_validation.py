"""The Great Expectations record: a suite built from schemas.fields, run on each accepted batch.

Results are persisted in a file context and rendered as Data Docs. The result format is BASIC with
no unexpected values listed, so no ID number or name is copied into results or docs.
"""

from __future__ import annotations

import fcntl
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


def _context(root: Path):
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    root.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(root))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


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


def validate_accepted(rows: pd.DataFrame, source_name: str, run_id: str, root: Path) -> dict:
    """Validate one source's accepted rows of a run; return the statistics and the docs path."""
    with _project_lock(root):
        return _validated(rows, source_name, run_id, root)


def _validated(rows: pd.DataFrame, source_name: str, run_id: str, root: Path) -> dict:
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    context = _context(root)
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=SUITE, expectations=expectations()))
    datasource = context.data_sources.add_or_update_pandas("jinbao")
    asset = next((a for a in datasource.assets if a.name == source_name), None)
    asset = asset or datasource.add_dataframe_asset(source_name)
    batch = next((b for b in asset.batch_definitions if b.name == "accepted"), None)
    batch = batch or asset.add_batch_definition_whole_dataframe("accepted")
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=f"{source_name}_accepted", data=batch, suite=suite))
    checkpoint = context.checkpoints.add_or_update(gx.Checkpoint(
        name=f"{source_name}_accepted", validation_definitions=[definition],
        actions=[UpdateDataDocsAction(name="data_docs")], result_format=RESULT_FORMAT))
    columns = [f.name for f in SOURCE_ROW]
    frame = rows[columns]
    result = checkpoint.run(batch_parameters={"dataframe": frame},
                            run_id=gx.RunIdentifier(run_name=run_id))
    stats = next(iter(result.run_results.values())).statistics
    failed = [r.expectation_config.type + ":" + str(r.expectation_config.kwargs.get("column"))
              for v in result.run_results.values() for r in v.results if not r.success]
    return {"success": bool(result.success), "evaluated": stats["evaluated_expectations"],
            "unsuccessful": stats["unsuccessful_expectations"], "failed": failed,
            "data_docs": str(root / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html")}
