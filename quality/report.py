"""The auditors' report as data: what the runs in scope read, loaded, rejected and repaired, by
source, rule, pooling region and month; what the warehouse now holds (merges, cases,
coverage); and trends over runs. Every figure is a count the warehouse itself holds; no ID
number or name leaves unmasked.

Scope: one run, the latest, or every run finished in a month; `province` (two digits) keeps
the rows whose pooling region lies in it, in every section: per-run figures come from
`run_stat` and `run_load`, which keep them per region; state from the rows' own regions.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import Connection, Engine, and_, case, exists, func, select

from quality.masking import masked_key
from schemas.codes import area_name, code_table
from schemas.warehouse import (
    enrollment,
    person,
    quarantine,
    review_case,
    review_case_row,
    run_ledger,
    run_load,
    run_stat,
    source_record,
)

EXAMPLES_PER_RULE = 3
TREND_RUNS = 30
MONTHS = 24


class ReportError(ValueError):
    """The report's scope names nothing (no such run, no run that month)."""


def _runs(ledger: pd.DataFrame, run_id: str | None, month: str | None) -> list[str]:
    if run_id:
        if run_id not in set(ledger["run_id"]):
            raise ReportError(f"no run {run_id!r} in the ledger")
        return [run_id]
    if month:
        finished = pd.to_datetime(ledger["finished_at"]).dt.strftime("%Y-%m")
        runs = sorted(set(ledger.loc[finished == month, "run_id"]))
        if not runs:
            raise ReportError(f"no run finished in {month}")
        return runs
    if ledger.empty:
        raise ReportError("the ledger is empty: run the pipeline first")
    return [ledger.sort_values("finished_at").iloc[-1]["run_id"]]


def _in_province(column, province: str | None):
    return column.like(f"{province}%") if province else True


def report_data(engine: Engine, run_id: str | None = None, month: str | None = None,
                province: str | None = None) -> dict:
    """Every section of the report, as plain data (the JSON twin of the HTML)."""
    with engine.connect() as conn:
        ledger = pd.read_sql(select(run_ledger), conn)
        runs = _runs(ledger, run_id, month)
        stats = pd.read_sql(select(run_stat).where(
            _in_province(run_stat.c.pooling_region, province)), conn)
        loads = pd.read_sql(select(run_load).where(
            _in_province(run_load.c.pooling_region, province)), conn)
        examples = pd.read_sql(
            select(quarantine.c.rule, quarantine.c.source_system, quarantine.c.source_key,
                   quarantine.c.detail)
            .join(source_record, (source_record.c.source_system == quarantine.c.source_system)
                  & (source_record.c.source_key == quarantine.c.source_key))
            .where(quarantine.c.run_id.in_(runs),
                   _in_province(source_record.c.pooling_region, province)), conn)
        merges = _merges(conn, province)
        persons = conn.execute(select(func.count()).select_from(person)).scalar_one()
        coverage = _coverage(conn, province, persons)
        in_scope = exists().where(and_(
            review_case_row.c.case_id == review_case.c.case_id,
            source_record.c.source_system == review_case_row.c.source_system,
            source_record.c.source_key == review_case_row.c.source_key,
            _in_province(source_record.c.pooling_region, province)))
        cases = pd.read_sql(select(review_case.c.kind, review_case.c.status,
                                   review_case.c.opened_run).where(
            in_scope if province else True), conn)
        doubtful = pd.read_sql(select(review_case.c.case_id, review_case.c.evidence).where(
            review_case.c.kind == "suspected_duplicate", review_case.c.status == "open",
            in_scope if province else True).order_by(review_case.c.score, review_case.c.case_id)
            .limit(WATERFALLS), conn)
    mine = stats[stats["run_id"].isin(runs)]
    return {
        "scope": {"runs": runs, "month": month, "province": province,
                  "province_name": code_table("province").get(province or "", ""),
                  "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")},
        "ledger": _ledger(ledger[ledger["run_id"].isin(runs)], mine,
                          loads[loads["run_id"].isin(runs)], province),
        "rules_by_source": _matrix(mine, "rule"),
        "repairs_by_source": _matrix(mine, "repair"),
        "quarantine": _quarantine(_matrix(mine, "rule"), examples),
        "regions": _regions(mine),
        "months": _months(ledger, stats, loads, province),
        "merges": merges,
        "cases": _cases(cases),
        "coverage": coverage,
        "trends": _trends(ledger, stats, loads, cases, province),
        "linkage": _linkage(doubtful),
    }


WATERFALLS = 3
"""Open suspected_duplicate cases whose weights the report draws: the most doubtful first."""


def _linkage(cases: pd.DataFrame) -> list[dict]:
    """Per case drawn: its id, the model, and its strongest link's prior and comparison weights
    (levels are labels of the model, never values)."""
    out = []
    for drawn in cases.itertuples(index=False):
        evidence = json.loads(drawn.evidence or "{}")
        if not evidence.get("pairs"):
            continue
        pair = evidence["pairs"][0]
        out.append({"case_id": drawn.case_id, "model": evidence.get("model"),
                    "threshold": evidence.get("threshold"), "entities": len(evidence["entities"]),
                    "probability": pair["probability"], "weight": pair["weight"],
                    "prior": pair["prior"], "comparisons": pair["comparisons"]})
    return out


def _counts(mine: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """extracted / accepted / quarantined rows per `by`, from run_stat."""
    rows = mine[mine["measure"].isin(["extracted", "accepted", "quarantined"])]
    table = rows.pivot_table(index=by, columns="measure", values="rows", aggfunc="sum",
                             fill_value=0)
    for column in ("extracted", "accepted", "quarantined"):
        if column not in table:
            table[column] = 0
    return table[["extracted", "accepted", "quarantined"]].astype(int)


def _ledger(entries: pd.DataFrame, mine: pd.DataFrame, loads: pd.DataFrame,
            province: str | None) -> dict:
    """Per source: rows read, accepted, quarantined; of them new, changed, unchanged."""
    if province:  # only what run_stat keeps per region can be scoped to a province
        counts = _counts(mine, ["source_name"])
    else:
        counts = entries.groupby("source_name")[["extracted", "accepted", "quarantined"]].sum()
    written = loads.groupby("source_name")[["new_rows", "changed_rows"]].sum()
    rows = []
    for source, r in counts.sort_index().iterrows():
        new = int(written["new_rows"].get(source, 0)) if len(written) else 0
        changed = int(written["changed_rows"].get(source, 0)) if len(written) else 0
        extracted = int(r["extracted"])
        rows.append({"source_name": source, "extracted": extracted, "accepted": int(r["accepted"]),
                     "quarantined": int(r["quarantined"]), "new": new, "changed": changed,
                     "unchanged": max(extracted - new - changed, 0),
                     "balances": extracted == int(r["accepted"]) + int(r["quarantined"])})
    total = {k: sum(r[k] for r in rows) for k in ("extracted", "accepted", "quarantined", "new",
                                                  "changed", "unchanged")}
    return {"sources": rows, "total": {**total, "balances": all(r["balances"] for r in rows)}}


def _matrix(mine: pd.DataFrame, measure: str) -> dict[str, dict[str, int]]:
    """{item: {source: rows}} of one measure (rules, ID repairs), largest first."""
    rows = mine[mine["measure"] == measure]
    grouped = rows.groupby(["item", "source_name"])["rows"].sum()
    out: dict[str, dict[str, int]] = {}
    for (item, source), n in grouped.items():
        out.setdefault(item, {})[source] = int(n)
    return dict(sorted(out.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])))


def _quarantine(matrix: dict[str, dict[str, int]], examples: pd.DataFrame) -> list[dict]:
    out = []
    for rule, by_source in matrix.items():
        group = examples[examples["rule"] == rule].sort_values(["source_system", "source_key"])
        out.append({"rule": rule, "rows": sum(by_source.values()),
                    "examples": [{"source": masked_key(f"{r.source_system}|{r.source_key}"),
                                  "detail": r.detail}
                                 for r in group.head(EXAMPLES_PER_RULE).itertuples()]})
    return out


def _regions(mine: pd.DataFrame) -> list[dict]:
    """Rows per pooling region ('' for rows whose region is not a GB/T 2260 code)."""
    if mine.empty:
        return []
    counts = _counts(mine, ["pooling_region"])
    return [{"pooling_region": code, "name": area_name(code) if code else "(not a valid code)",
             "extracted": int(r["extracted"]), "accepted": int(r["accepted"]),
             "quarantined": int(r["quarantined"]),
             "rejection_rate": round(r["quarantined"] / r["extracted"], 4) if r["extracted"] else 0}
            for code, r in counts.sort_index().iterrows()]


def _per_run(ledger: pd.DataFrame, stats: pd.DataFrame, loads: pd.DataFrame,
             province: str | None) -> pd.DataFrame:
    """Per run: when it finished, rows read, accepted, quarantined, new, changed."""
    finished = ledger.groupby("run_id")["finished_at"].max()
    if province:
        counts = _counts(stats, ["run_id"])
    else:
        counts = ledger.groupby("run_id")[["extracted", "accepted", "quarantined"]].sum()
    written = loads.groupby("run_id")[["new_rows", "changed_rows"]].sum()
    table = counts.join(finished, how="right").join(written, how="left").fillna(0)
    table["finished_at"] = pd.to_datetime(finished.reindex(table.index))
    return table.sort_values("finished_at")


def _months(ledger: pd.DataFrame, stats: pd.DataFrame, loads: pd.DataFrame,
            province: str | None) -> list[dict]:
    """Per month the runs finished in (the last MONTHS): rows, rejection rate, new, changed."""
    runs = _per_run(ledger, stats, loads, province)
    if runs.empty:
        return []
    runs["month"] = runs["finished_at"].dt.strftime("%Y-%m")
    monthly = runs.groupby("month")[["extracted", "quarantined", "new_rows",
                                      "changed_rows"]].sum().tail(MONTHS)
    counted = runs.groupby("month").size()
    return [{"month": month, "runs": int(counted[month]), "extracted": int(r["extracted"]),
             "quarantined": int(r["quarantined"]), "new": int(r["new_rows"]),
             "changed": int(r["changed_rows"]),
             "rejection_rate": round(r["quarantined"] / r["extracted"], 4) if r["extracted"] else 0}
            for month, r in monthly.iterrows()]


def _merges(conn: Connection, province: str | None) -> dict:
    """Source rows -> persons: how many persons several rows formed, within and across
    systems (counted by the warehouse: no row comes back)."""
    files = (select(source_record.c.source_system, source_record.c.id_number,
                    func.count().label("n"))
             .where(source_record.c.outcome == "accepted",
                    _in_province(source_record.c.pooling_region, province))
             .group_by(source_record.c.source_system, source_record.c.id_number).subquery())
    several = func.sum(case((files.c.n > 1, 1), else_=0))
    by_system = conn.execute(select(files.c.source_system, func.sum(files.c.n), func.count(),
                                    several).group_by(files.c.source_system)
                             .order_by(files.c.source_system)).all()
    people = (select(func.sum(files.c.n).label("n"), func.count().label("systems"))
              .group_by(files.c.id_number).subquery())
    rows, persons, from_several, across = conn.execute(select(
        func.sum(people.c.n), func.count(), func.sum(case((people.c.n > 1, 1), else_=0)),
        func.sum(case((people.c.systems > 1, 1), else_=0)))).one()
    return {"rows": int(rows or 0), "persons": int(persons or 0),
            "persons_from_several_rows": int(from_several or 0),
            "persons_across_systems": int(across or 0),
            "by_system": [{"source_system": system, "rows": int(n), "persons": int(count),
                           "persons_with_several_files": int(more)}
                          for system, n, count, more in by_system]}


def _cases(cases: pd.DataFrame) -> dict:
    counts = cases.groupby(["kind", "status"]).size()
    kinds = sorted(set(cases["kind"]))
    return {kind: {status: int(counts.get((kind, status), 0))
                   for status in ("open", "resolved", "withdrawn")} for kind in kinds}


def _coverage(conn: Connection, province: str | None, persons: int) -> list[dict]:
    """Persons actively enrolled per scheme, and their share of all persons (in a province:
    of the persons enrolled there at all)."""
    where = _in_province(enrollment.c.pooling_region, province)
    if province:
        persons = conn.execute(select(func.count(enrollment.c.id_number.distinct()))
                               .where(where)).scalar_one()
    active = conn.execute(select(enrollment.c.scheme, func.count(enrollment.c.id_number.distinct()))
                          .where(where, enrollment.c.status == "1")
                          .group_by(enrollment.c.scheme).order_by(enrollment.c.scheme)).all()
    labels = code_table("scheme")
    return [{"scheme": scheme, "label": labels.get(scheme, ""), "persons": int(covered),
             "share": round(covered / persons, 4) if persons else 0.0}
            for scheme, covered in active]


def _trends(ledger: pd.DataFrame, stats: pd.DataFrame, loads: pd.DataFrame,
            cases: pd.DataFrame, province: str | None) -> list[dict]:
    """Per run, oldest first: rows, rejection rate (all rules and per rule: rows each rule
    quarantined in that run over the rows it read), new and changed rows, cases it opened."""
    runs = _per_run(ledger, stats, loads, province).tail(TREND_RUNS)
    opened = cases.groupby("opened_run").size()
    ruled = stats[stats["measure"] == "rule"].groupby(["run_id", "item"])["rows"].sum()
    rules: dict[str, dict[str, int]] = {}
    for (run, rule), n in ruled.items():
        rules.setdefault(run, {})[rule] = int(n)

    def rate(count: int, extracted: int) -> float:
        return round(count / extracted, 4) if extracted else 0.0

    return [{"run_id": run, "finished_at": str(r.finished_at)[:19], "extracted": int(r.extracted),
             "accepted": int(r.accepted), "quarantined": int(r.quarantined),
             "new": int(r.new_rows), "changed": int(r.changed_rows),
             "rejection_rate": rate(r.quarantined, r.extracted),
             "rule_rates": {k: rate(v, r.extracted) for k, v in sorted(rules.get(run, {}).items())},
             "cases_opened": int(opened.get(run, 0))} for run, r in runs.iterrows()]
