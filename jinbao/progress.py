"""Monthly progress (月调度): per province and month, the figures the ministry tracks, read from
the province warehouses (read only) and the national warehouse, and kept in the national
warehouse's monthly_progress table (the last national run of a month leaves that month's).

    persons          persons in the province's warehouse
    coverage         persons actively enrolled, per scheme (item: the scheme code)
    runs             province runs committed in the month
    rows_read        source rows those runs read (extracted)
    rows_quarantined source rows of those that were quarantined
    rows_loaded      source rows they wrote: new or changed
    quarantine_rate  share of the rows they read that each rule quarantined (item: the rule;
                     a row may break several)
    open_cases       the province's open review cases by age at the month's end (item: band)
    national_cases   open national cases with a row of the province (item: the case kind)
    last_load        when the province's last run committed (text)
    status           ok; late (no run committed in the month); missing (never); unreachable
                     (the warehouse could not be read): the ministry's flag (text)

Counts only: no ID number, no name.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Connection, and_, delete, func, literal, select

from schemas.warehouse import (
    enrollment,
    mart_input,
    monthly_progress,
    person,
    review_case,
    review_case_row,
    review_decision,
    run_ledger,
    run_stat,
)

log = logging.getLogger("jinbao")
AGE_BANDS = ((30, "0-30d"), (90, "31-90d"), (365, "91-365d"), (None, ">365d"))
UNKNOWN_AGE = "unknown"  # a case opened by a decision, whose run is not in the ledger


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[first moment, first moment of the next month) of 'YYYY-MM'."""
    start = datetime.strptime(month, "%Y-%m")
    return start, (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def _moment(value) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _band(days: float | None) -> str:
    if days is None or pd.isna(days):
        return UNKNOWN_AGE
    return next(name for top, name in AGE_BANDS if top is None or days <= top)


def province_figures(conn: Connection, month: str) -> list[tuple[str, str, float | None,
                                                                 str | None]]:
    """(measure, item, value, text) of one province warehouse for `month`."""
    start, end = month_bounds(month)
    figures: list[tuple[str, str, float | None, str | None]] = []
    figures.append(("persons", "", float(conn.execute(
        select(func.count()).select_from(person)).scalar_one()), None))
    for scheme, covered in conn.execute(
            select(enrollment.c.scheme, func.count(enrollment.c.id_number.distinct()))
            .where(enrollment.c.status == "1").group_by(enrollment.c.scheme)):
        figures.append(("coverage", scheme, float(covered), None))
    finished = func.max(run_ledger.c.finished_at).label("finished")
    runs = pd.DataFrame(conn.execute(
        select(run_ledger.c.run_id, finished, func.sum(run_ledger.c.extracted),
               func.sum(run_ledger.c.quarantined),
               func.sum(func.coalesce(run_ledger.c.new_rows, 0)
                        + func.coalesce(run_ledger.c.changed_rows, 0)))
        .where(run_ledger.c.status == "loaded").group_by(run_ledger.c.run_id)).all(),
        columns=["run_id", "finished", "extracted", "quarantined", "loaded"])
    runs["finished"] = pd.to_datetime(runs["finished"])
    in_month = runs[(runs["finished"] >= start) & (runs["finished"] < end)]
    read = float(in_month["extracted"].sum())
    figures += [("runs", "", float(len(in_month)), None), ("rows_read", "", read, None),
                ("rows_quarantined", "", float(in_month["quarantined"].sum()), None),
                ("rows_loaded", "", float(in_month["loaded"].sum()), None)]
    if len(in_month):
        ruled = conn.execute(select(run_stat.c.item, func.sum(run_stat.c.rows)).where(
            run_stat.c.measure == "rule", run_stat.c.run_id.in_(in_month["run_id"].tolist()))
            .group_by(run_stat.c.item)).all()
        figures += [("quarantine_rate", rule, round(int(n) / read, 6) if read else 0.0, None)
                    for rule, n in ruled]
    opened = pd.DataFrame(conn.execute(select(review_case.c.opened_run, func.count()).where(
        review_case.c.status == "open").group_by(review_case.c.opened_run)).all(),
        columns=["run_id", "cases"])
    ages = opened.merge(runs[["run_id", "finished"]], on="run_id", how="left")
    ages["band"] = [_band((end - f).days if pd.notna(f) else None) for f in ages["finished"]]
    for band, count in ages.groupby("band")["cases"].sum().items():
        figures.append(("open_cases", band, float(count), None))
    before = runs[runs["finished"] < end]
    last = _moment(before["finished"].max()) if len(before) else None
    figures.append(("last_load", "", None, f"{last:%Y-%m-%d %H:%M:%S}" if last else None))
    status = "missing" if last is None else ("ok" if len(in_month) else "late")
    figures.append(("status", "", None, status))
    return figures


def national_case_figures(conn: Connection, province: str) -> list[tuple[str, str, float, None]]:
    """Open national cases (by kind) with a row from the province ('anhui/...')."""
    ids = select(review_case_row.c.case_id).where(
        review_case_row.c.source_system.like(f"{province}/%")).distinct()
    counted = conn.execute(select(review_case.c.kind, func.count()).where(
        review_case.c.status == "open", review_case.c.case_id.in_(ids))
        .group_by(review_case.c.kind)).all()
    return [("national_cases", kind, float(n), None) for kind, n in counted]


def change_marks(conn: Connection, runs: bool = True) -> dict[str, str | int | None]:
    """What a warehouse's marts are counted from changes with: its committed runs (`runs`) and
    its reviewers' decisions (counts and last moments). Equal marks: nothing to count again.
    (The national warehouse's own runs are not marks: a national run that wrote anything
    counts its marts again anyway.)"""
    decided = conn.execute(select(func.count(), func.max(review_decision.c.decided_at),
                                  func.max(review_decision.c.undone_at))).one()
    marks = {"decisions": int(decided[0]), "last_decided": _text(decided[1]),
             "last_undone": _text(decided[2])}
    if runs:
        committed = conn.execute(select(func.count(), func.max(run_ledger.c.finished_at))).one()
        marks.update(runs=int(committed[0]), last_run=_text(committed[1]))
    return marks


def _text(moment) -> str | None:
    return None if moment is None else str(moment)


def counted_from(conn: Connection, month: str, scope: str) -> dict | None:
    """The inputs the month's figures of `scope` were last counted from (None: never)."""
    found = conn.execute(select(mart_input.c.inputs).where(
        mart_input.c.month == month, mart_input.c.scope == scope)).scalar()
    return None if found is None else json.loads(found)


def store_counted_from(conn: Connection, month: str, scope: str, inputs: dict,
                       run_id: str) -> None:
    conn.execute(delete(mart_input).where(mart_input.c.month == month,
                                          mart_input.c.scope == scope))
    conn.execute(mart_input.insert().values(month=month, scope=scope, run_id=run_id,
                                            inputs=json.dumps(inputs, sort_keys=True)))


def stored_status(conn: Connection, month: str, province: str) -> str | None:
    return conn.execute(select(monthly_progress.c.text).where(
        monthly_progress.c.month == month, monthly_progress.c.province == province,
        monthly_progress.c.measure == "status")).scalar()


def store_progress(conn: Connection, month: str, province: str, figures: list[tuple],
                   run_id: str) -> None:
    """Replace the month's figures of the province (in the open transaction)."""
    conn.execute(delete(monthly_progress).where(and_(
        monthly_progress.c.month == month, monthly_progress.c.province == province)))
    rows = [{"month": month, "province": province, "measure": m, "item": i, "value": v,
             "text": t, "run_id": run_id} for m, i, v, t in figures]
    if rows:
        conn.execute(monthly_progress.insert(), rows)


def stored_progress(conn: Connection, month: str | None = None) -> pd.DataFrame:
    """The stored figures (of one month, or all), ordered by month, province and measure."""
    query = select(monthly_progress)
    if month:
        query = query.where(monthly_progress.c.month == literal(month))
    frame = pd.DataFrame(conn.execute(query.order_by(
        monthly_progress.c.month, monthly_progress.c.province, monthly_progress.c.measure,
        monthly_progress.c.item)).all(), columns=[c.name for c in monthly_progress.columns])
    return frame
