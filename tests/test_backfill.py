"""Backfills: monthly slices, the same warehouse as one run over the range, resumable."""

from __future__ import annotations

import pytest

from jinbao.backfill import backfill_id, backfill_slices, run_backfill
from jinbao.runner import run_pipeline
from loaders.warehouse import warehouse_engine
from tests.conftest import fresh_config, settled, standing, warehouse_dump


def test_slices_tile_the_range_by_month_or_by_day():
    slices = backfill_slices("2024-11", "2025-02")
    assert [s[0] for s in slices] == ["2024-11", "2024-12", "2025-01", "2025-02"]
    assert slices[0][1:] == ("2024-10-31 23:59:59", "2024-11-30 23:59:59")
    assert all(a[2] == b[1] for a, b in zip(slices, slices[1:], strict=False))  # no gap
    assert slices[-1][2] == "2025-02-28 23:59:59"
    days = backfill_slices("2024-02-28", "2024-03-01")
    assert days == [("2024-02-28", "2024-02-27 23:59:59", "2024-02-28 23:59:59"),
                    ("2024-02-29", "2024-02-28 23:59:59", "2024-02-29 23:59:59"),
                    ("2024-03-01", "2024-02-29 23:59:59", "2024-03-01 23:59:59")]
    with pytest.raises(ValueError, match="before --start"):
        backfill_slices("2024-05", "2024-01")
    with pytest.raises(ValueError, match="both as months .* or both as days"):
        backfill_slices("2024-05", "2024-06-15")
    with pytest.raises(ValueError, match="neither a day"):
        backfill_slices("2024/05", "2024-06")
    assert backfill_id("2024-01", "2024-03", ["b", "a"]) == backfill_id("2024-01", "2024-03",
                                                                         ["a", "b"])
    assert backfill_id("2024-01-01", "2024-01-03", ["a"]) != backfill_id("2024-01", "2024-01",
                                                                         ["a"])


def current_state(engine) -> dict:
    """The warehouse as it stands, its linkage settled (tests.conftest.settled). person_history
    and withdrawn cases are left out: loading month by month, golden records change and cases
    come and go as each month's rows arrive, and the record rightly says so."""
    settled(engine)
    state = standing(warehouse_dump(engine, ignore_runs=True))
    del state["person_history"]
    return state


def test_backfill_equals_one_run_over_the_range_and_resumes(small_estate, tmp_path):
    cfg = fresh_config(small_estate, tmp_path / "one")
    run_pipeline(cfg, since="2024-08-31 23:59:59", until="2024-12-31 23:59:59")
    expected = current_state(warehouse_engine(cfg.warehouse_url))
    assert expected["source_record"], "the range must hold rows for the test to mean anything"

    cfg = fresh_config(small_estate, tmp_path / "backfill")
    calls = []

    def crash_on_third(*args, **kwargs):
        calls.append(kwargs["since"])
        if len(calls) == 3:
            raise RuntimeError("simulated crash in the third slice")
        return run_pipeline(*args, **kwargs)

    with pytest.raises(RuntimeError, match="simulated crash"):
        run_backfill(cfg, "2024-09", "2024-12", run=crash_on_third)
    report = run_backfill(cfg, "2024-09", "2024-12")
    assert [r["status"] for r in report] == ["done earlier", "done earlier", "loaded", "loaded"]
    engine = warehouse_engine(cfg.warehouse_url)
    assert current_state(engine) == expected
    before = warehouse_dump(engine)
    again = run_backfill(cfg, "2024-09", "2024-12", restart=True)
    assert [r["status"] for r in again] == ["loaded"] * 4
    assert warehouse_dump(engine) == before  # repeating a backfill changes nothing
