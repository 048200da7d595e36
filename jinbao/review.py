"""`jinbao review list | show | resolve | undo`: cases for caseworkers, personal data masked.

ID numbers show as their first six and last four characters and names as their first character;
a reviewer decides by entity number (1, 2) or by source row (SYSTEM|KEY), never by typing a
personal value.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from jinbao.config import Config
from loaders.decisions import Context, DecisionError, decide, undo
from loaders.schema import ensure_schema
from loaders.warehouse import warehouse_engine
from quality.masking import masked_id, masked_key, masked_name
from schemas.warehouse import review_case, review_case_row, review_decision, source_record


def decision_context(cfg: Config, by: str) -> Context:
    """Who decides, and when, with what recomputing people needs."""
    return Context(cfg.buckets, cfg.survivorship, by,
                   datetime.now(UTC).replace(tzinfo=None, microsecond=0))


def _masked_entity(entity: str) -> str:
    return masked_key(entity) if "|" in entity else masked_id(entity)


def linkage_lines(evidence: dict) -> list[str]:
    """A suspected_duplicate's evidence as a reviewer reads it: the entities (masked), then per
    linked pair the prior, each comparison's level and weight, and the probability."""
    lines = [f"model v{evidence.get('model')}: a pair is a case from match probability "
             f"{evidence.get('threshold')}; entities:"]
    lines += [f"  {i} = {_masked_entity(e)}" for i, e in enumerate(evidence["entities"], start=1)]
    for pair in evidence.get("pairs", []):
        a, b = pair["between"]
        lines.append(f"  {a} ~ {b}: probability {pair['probability']:.4f}, match weight "
                     f"{pair['weight']:+.2f} = prior {pair['prior']:+.2f}")
        lines += [f"      {c['weight']:+7.2f}  {c['comparison']}: {c['level']}"
                  for c in pair["comparisons"]]
    return lines


def _masked_evidence(case: dict) -> str:
    evidence = json.loads(case["evidence"] or "{}")
    if case["kind"] == "suspected_duplicate":
        return "\n".join(linkage_lines(evidence))
    if case["kind"] == "attribute_conflict":
        masked = masked_name if evidence["attribute"] == "name" else str
        values = "; ".join(f"{masked(v['value'])} in {', '.join(map(masked_key, v['rows']))}"
                           for v in evidence["values"])
        says = f" (the ID says {evidence['id_says']})" if "id_says" in evidence else ""
        return f"{evidence['attribute']}: {values}{says}"
    return "; ".join(f"{e['scheme']} in {e['pooling_region']} ({masked_key(e['source'])})"
                     for e in evidence["enrollments"])


def _of_province(province: str):
    """The national cases with a row of the province (its rows are 'anhui/<source>')."""
    return review_case.c.case_id.in_(select(review_case_row.c.case_id).where(
        review_case_row.c.source_system.like(f"{province}/%")))


def case_listing(cfg: Config, kind: str | None, status: str | None, limit: int,
                 province: str | None = None) -> dict:
    """Case counts by kind and status, then the first `limit` cases (masked): `review list`.
    `province`: only the (national) cases about that province's people."""
    engine = warehouse_engine(cfg.warehouse_url)
    ensure_schema(engine)
    query = select(review_case).order_by(review_case.c.kind, review_case.c.score.desc(),
                                         review_case.c.case_id)
    counts = select(review_case.c.kind, review_case.c.status, func.count()).group_by(
        review_case.c.kind, review_case.c.status)
    if province:
        query, counts = query.where(_of_province(province)), counts.where(_of_province(province))
    if kind:
        query = query.where(review_case.c.kind == kind)
    if status:
        query = query.where(review_case.c.status == status)
    with engine.connect() as conn:
        totals = conn.execute(counts).all()
        cases = conn.execute(query.limit(limit)).mappings().all()
    engine.dispose()
    return {
        "counts": [{"kind": k, "status": s, "cases": int(n)} for k, s, n in totals],
        "cases": [{"case_id": c["case_id"], "kind": c["kind"], "person": masked_id(c["id_number"]),
                   "about": c["attribute"] or "", "score": c["score"], "status": c["status"]}
                  for c in cases],
        "limit": limit, "kind": kind, "status": status,
    }


def print_listing(listing: dict, out: Console) -> None:
    summary = Table(title="review cases")
    for column in ("kind", "status", "cases"):
        summary.add_column(column, justify="right" if column == "cases" else "left")
    for row in listing["counts"]:
        summary.add_row(row["kind"], row["status"], f"{row['cases']:,}")
    out.print(summary)
    kind = listing["kind"]
    table = Table(title=f"first {listing['limit']} cases" + (f" ({kind})" if kind else ""))
    for column in ("case", "person", "about", "score", "status"):
        table.add_column(column, no_wrap=column in ("case", "person"))
    for case in listing["cases"]:
        score = "" if case["score"] is None else f"{case['score']:.1f}"
        table.add_row(case["case_id"], case["person"], case["about"], score, case["status"])
    out.print(table)


def show_case(cfg: Config, out: Console, case_id: str, province: str | None = None) -> None:
    """One case, masked; `province`: only a (national) case about that province's people."""
    engine = warehouse_engine(cfg.warehouse_url)
    ensure_schema(engine)
    with engine.connect() as conn:
        query = select(review_case).where(review_case.c.case_id == case_id)
        case = conn.execute(query.where(_of_province(province)) if province else query
                            ).mappings().first()
        if case is None:
            raise DecisionError(f"no case {case_id!r}" + (
                f" about the people of {province}" if province else ""))
        rows = pd.read_sql(select(
            review_case_row.c.source_system, review_case_row.c.source_key,
            source_record.c.outcome, source_record.c.id_number, source_record.c.claimed_id,
            source_record.c.name, source_record.c.sex, source_record.c.birth_date,
            source_record.c.scheme, source_record.c.pooling_region, source_record.c.status,
            source_record.c.updated_at).join(source_record, (
                source_record.c.source_system == review_case_row.c.source_system)
            & (source_record.c.source_key == review_case_row.c.source_key)).where(
            review_case_row.c.case_id == case_id).order_by(
            review_case_row.c.source_system, review_case_row.c.source_key), conn)
        decisions = conn.execute(select(review_decision).where(
            review_decision.c.case_id == case_id).order_by(review_decision.c.decided_at)
        ).mappings().all()
    engine.dispose()
    out.print(f"[bold]{case['case_id']}[/bold]  {case['kind']}  status {case['status']}  "
              f"opened by {case['opened_run']}")
    numbers = [masked_id(i) for i in json.loads(case["id_numbers"])]
    out.print(f"ID numbers: {', '.join(numbers) or 'none (no person: rows without a usable number)'}")
    out.print(f"evidence: {_masked_evidence(dict(case))}", markup=False)
    if case["kind"] == "suspected_duplicate":
        out.print("decide: merge --keep N [--with 2,3] (N a person: its number stays), "
                  "keep_apart, or dismiss", markup=False)
    out.print("source rows (pick one by its number: --row N):")
    for n, r in enumerate(rows.itertuples(index=False), start=1):
        out.print(f"  {n:>2}. {masked_key(f'{r.source_system}|{r.source_key}')}  {r.outcome}"
                  f"  person {masked_id(r.id_number) or '-'}  number as read "
                  f"{masked_id(r.claimed_id) or '-'}  name {masked_name(r.name) or '-'}"
                  f"  sex {r.sex or '-'}  born {str(r.birth_date or '-')[:10]}"
                  f"  {r.scheme or '-'} in {r.pooling_region or '-'} status {r.status or '-'}"
                  f"  updated {str(r.updated_at or '-')[:19]}", markup=False)
    for d in decisions:
        state = f"undone {d['undone_at']}" if d["undone_at"] else "standing"
        out.print(f"decision {d['decision_id']}: {d['decision']} by {d['decided_by']} at "
                  f"{d['decided_at']} ({state}){': ' + d['note'] if d['note'] else ''}",
                  markup=False)


def _in_transaction(cfg: Config, work):
    """work(conn) in one warehouse transaction; its result."""
    engine = warehouse_engine(cfg.warehouse_url)
    ensure_schema(engine)
    try:
        with engine.begin() as conn:
            return work(conn)
    finally:
        engine.dispose()


def resolve_case(cfg: Config, case_id: str, decision: str, by: str, keep: int,
                 row: str | None, note: str | None, joining: list[int] | None = None) -> dict:
    return _in_transaction(cfg, lambda conn: decide(
        conn, case_id, decision, decision_context(cfg, by), keep=keep, row=row, note=note,
        joining=joining))


def undo_case(cfg: Config, case_id: str, by: str) -> dict:
    return _in_transaction(cfg, lambda conn: undo(conn, case_id, decision_context(cfg, by)))


FROM_A_PROVINCE = ("confirm", "dismiss", "keep_apart")
"""The decisions a province may take on a national case about its people: they change no row.
A merge or a pick recomputes national records: the national tier's to take."""


def _about_province(cfg: Config, case_id: str, province: str) -> dict:
    engine = warehouse_engine(cfg.warehouse_url)
    ensure_schema(engine)
    with engine.connect() as conn:
        case = conn.execute(select(review_case).where(
            review_case.c.case_id == case_id, _of_province(province))).mappings().first()
        standing = conn.execute(select(review_decision.c.decision).where(
            review_decision.c.case_id == case_id, review_decision.c.undone_at.is_(None))
            .order_by(review_decision.c.decided_at.desc())).scalar()
    engine.dispose()
    if case is None:
        raise DecisionError(f"no national case {case_id!r} about the people of {province}")
    return {**case, "standing": standing}


def resolve_national_case(cfg: Config, province: str, case_id: str, decision: str, by: str,
                          note: str | None) -> dict:
    """A province's decision on a national case about its people (`cfg`: the national
    warehouse), recorded there under '<province>:<reviewer>': both tiers see it."""
    if decision not in FROM_A_PROVINCE:
        raise DecisionError(f"{decision} on a national case is the national tier's decision (it "
                            "recomputes national records); from a province: "
                            f"{' | '.join(FROM_A_PROVINCE)}")
    _about_province(cfg, case_id, province)
    return resolve_case(cfg, case_id, decision, f"{province}:{by}", 1, None, note)


def undo_national_case(cfg: Config, province: str, case_id: str, by: str) -> dict:
    """Undo a province's kind of decision on a national case about its people."""
    case = _about_province(cfg, case_id, province)
    if case["standing"] is not None and case["standing"] not in FROM_A_PROVINCE:
        raise DecisionError(f"case {case_id}'s {case['standing']} is the national tier's to "
                            "undo")
    return undo_case(cfg, case_id, f"{province}:{by}")
