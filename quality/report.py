"""The auditors' report as data: what a run (or a month) read, loaded, rejected and merged, what
waits for a human, coverage, and trends over runs. Every figure is a count the warehouse itself
holds; no ID number or name leaves unmasked.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import Engine, func, select

from quality.masking import masked_key
from schemas.codes import code_table
from schemas.warehouse import enrollment, person, quarantine, review_case, run_ledger, source_record

EXAMPLES_PER_RULE = 3
TREND_RUNS = 30


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
    latest = ledger.sort_values("finished_at").iloc[-1]["run_id"]
    return [latest]


def _in_province(column, province: str | None):
    return column.like(f"{province}%") if province else True


def report_data(engine: Engine, run_id: str | None = None, month: str | None = None,
                province: str | None = None) -> dict:
    """Every section of the report, as plain data (the JSON twin of the HTML)."""
    with engine.connect() as conn:
        ledger = pd.read_sql(select(run_ledger), conn)
        runs = _runs(ledger, run_id, month)
        mine = ledger[ledger["run_id"].isin(runs)]
        sources = (mine.groupby("source_name")[["extracted", "accepted", "quarantined"]].sum()
                   .reset_index())
        sources["balances"] = sources["extracted"] == sources["accepted"] + sources["quarantined"]

        ruled = (select(quarantine.c.rule, quarantine.c.source_system, quarantine.c.source_key,
                        quarantine.c.detail)
                 .join(source_record, (source_record.c.source_system == quarantine.c.source_system)
                       & (source_record.c.source_key == quarantine.c.source_key))
                 .where(quarantine.c.run_id.in_(runs),
                        _in_province(source_record.c.pooling_region, province)))
        rules = pd.read_sql(ruled, conn)

        accepted = pd.read_sql(select(source_record.c.source_system, source_record.c.id_number)
                               .where(source_record.c.outcome == "accepted",
                                      _in_province(source_record.c.pooling_region, province)),
                               conn)
        persons = conn.execute(select(func.count()).select_from(person)).scalar_one()
        enrolled = pd.read_sql(select(enrollment.c.id_number, enrollment.c.scheme,
                                      enrollment.c.status).where(
            _in_province(enrollment.c.pooling_region, province)), conn)
        cases = pd.read_sql(select(review_case.c.kind, review_case.c.status,
                                   review_case.c.opened_run), conn)
        by_rule = pd.read_sql(select(quarantine.c.run_id, quarantine.c.rule,
                                     func.count().label("rows")).group_by(
            quarantine.c.run_id, quarantine.c.rule), conn)
    return {
        "scope": {"runs": runs, "month": month, "province": province,
                  "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")},
        "ledger": _ledger(sources),
        "quarantine": _quarantine(rules),
        "merges": _merges(accepted),
        "cases": _cases(cases),
        # in a province: the share of the persons enrolled there at all
        "coverage": _coverage(enrolled, enrolled["id_number"].nunique() if province else persons),
        "trends": _trends(ledger, cases, by_rule),
    }


def _ledger(sources: pd.DataFrame) -> dict:
    rows = [{k: (bool(v) if k == "balances" else (int(v) if k != "source_name" else v))
             for k, v in r.items()} for r in sources.to_dict("records")]
    total = {k: int(sources[k].sum()) for k in ("extracted", "accepted", "quarantined")}
    return {"sources": rows, "total": {**total, "balances": bool(sources["balances"].all())}}


def _quarantine(rules: pd.DataFrame) -> list[dict]:
    out = []
    for rule, group in rules.groupby("rule", sort=False):
        examples = group.sort_values(["source_system", "source_key"]).head(EXAMPLES_PER_RULE)
        out.append({"rule": rule, "rows": int(len(group)),
                    "examples": [{"source": masked_key(f"{r.source_system}|{r.source_key}"),
                                  "detail": r.detail} for r in examples.itertuples()]})
    return sorted(out, key=lambda r: (-r["rows"], r["rule"]))


def _merges(accepted: pd.DataFrame) -> dict:
    """Source rows -> persons: how many persons several rows formed, within and across
    systems."""
    per_person = accepted.groupby("id_number")
    systems = per_person["source_system"].nunique()
    rows = per_person.size()
    by_system = []
    for system, group in accepted.groupby("source_system"):
        files = group.groupby("id_number").size()
        by_system.append({"source_system": system, "rows": int(len(group)),
                          "persons": int(len(files)),
                          "persons_with_several_files": int((files > 1).sum())})
    return {"rows": int(len(accepted)), "persons": int(len(rows)),
            "persons_from_several_rows": int((rows > 1).sum()),
            "persons_across_systems": int((systems > 1).sum()), "by_system": by_system}


def _cases(cases: pd.DataFrame) -> dict:
    counts = cases.groupby(["kind", "status"]).size()
    kinds = sorted(set(cases["kind"]))
    return {kind: {status: int(counts.get((kind, status), 0))
                   for status in ("open", "resolved", "withdrawn")} for kind in kinds}


def _coverage(enrolled: pd.DataFrame, persons: int) -> list[dict]:
    active = enrolled[enrolled["status"] == "1"]
    labels = code_table("scheme")
    out = []
    for scheme, group in active.groupby("scheme"):
        covered = group["id_number"].nunique()
        out.append({"scheme": scheme, "label": labels.get(scheme, ""), "persons": int(covered),
                    "share": round(covered / persons, 4) if persons else 0.0})
    return out


def _trends(ledger: pd.DataFrame, cases: pd.DataFrame, by_rule: pd.DataFrame) -> list[dict]:
    """Per run, oldest first: rows, rejection rate (all rules and per rule: rows each rule
    quarantined in that run over the rows it read), and cases it opened."""
    runs = (ledger.groupby("run_id").agg(
        finished_at=("finished_at", "max"), extracted=("extracted", "sum"),
        accepted=("accepted", "sum"), quarantined=("quarantined", "sum"))
        .sort_values("finished_at").tail(TREND_RUNS))
    opened = cases.groupby("opened_run").size()
    rules = {run: dict(zip(g["rule"], g["rows"], strict=True))
             for run, g in by_rule.groupby("run_id")}

    def rate(count: int, extracted: int) -> float:
        return round(count / extracted, 4) if extracted else 0.0

    return [{"run_id": run, "finished_at": str(r.finished_at)[:19], "extracted": int(r.extracted),
             "accepted": int(r.accepted), "quarantined": int(r.quarantined),
             "rejection_rate": rate(r.quarantined, r.extracted),
             "rule_rates": {k: rate(v, r.extracted) for k, v in sorted(rules.get(run, {}).items())},
             "cases_opened": int(opened.get(run, 0))} for run, r in runs.iterrows()]
