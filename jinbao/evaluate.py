"""Reconciliation quality against an estate's truth.csv: pairwise precision and recall."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select

from schemas.identity import ID_RULES
from schemas.warehouse import quarantine, review_case, source_record
from transforms.linkage.decide import CASE_KIND


def _pairs(sizes: pd.Series) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def pairwise_scores(engine: Engine, truth_csv: Path) -> dict[str, float | int]:
    """Precision and recall of "these two accepted rows are the same person".

    Predicted: two accepted source rows share an id_number. True: they share a person_key in
    truth.csv. Rows are matched to truth by (source_system, source_key).
    """
    truth = pd.read_csv(truth_csv, dtype=str, keep_default_na=False)
    with engine.connect() as conn:
        rows = pd.read_sql(select(source_record.c.source_system, source_record.c.source_key,
                                  source_record.c.id_number, source_record.c.outcome), conn)
    joined = rows.merge(truth, on=["source_system", "source_key"], how="inner")
    accepted = joined[joined["outcome"] == "accepted"]
    predicted = _pairs(accepted.groupby("id_number").size())
    actual = _pairs(accepted.groupby("person_key").size())
    both = _pairs(accepted.groupby(["id_number", "person_key"]).size())
    return {
        "truth_rows": len(truth), "rows_matched_to_truth": len(joined),
        "accepted_rows": len(accepted),
        "predicted_pairs": predicted, "true_pairs": actual, "true_positive_pairs": both,
        "precision": both / predicted if predicted else 1.0,
        "recall": both / actual if actual else 1.0,
    }


def _cross_pairs(rows: pd.DataFrame, group: str, part: str) -> int:
    """Pairs of rows in one `group` but in different `part`s."""
    total = _pairs(rows.groupby(group).size())
    return total - _pairs(rows.groupby([group, part]).size())


def _across(frame: pd.DataFrame, keys: list[str]) -> int:
    """Pairs across two members of each group of `keys`, summed (n: each member's rows):
    ((sum n)^2 - sum n^2) / 2 per group."""
    sums = frame.assign(n2=frame["n"] * frame["n"]).groupby(keys)[["n", "n2"]].sum()
    return int(((sums["n"] * sums["n"] - sums["n2"]) // 2).sum())


def suspect_scores(engine: Engine, truth_csv: Path) -> dict[str, float | int]:
    """cluster_scores of the warehouse's suspected_duplicate cases (withdrawn ones aside)."""
    with engine.connect() as conn:
        cases = pd.read_sql(select(review_case.c.evidence)
                            .where(review_case.c.kind == CASE_KIND,
                                   review_case.c.status != "withdrawn"), conn)
    return cluster_scores(engine, truth_csv, [json.loads(e)["entities"]
                                              for e in cases["evidence"]])


def cluster_scores(engine: Engine, truth_csv: Path,
                   clusters: list[list[str]]) -> dict[str, float | int]:
    """How well clusters of entities (cases) find the same-person pairs exact matching missed.

    An entity is a person (its accepted rows) or a row quarantined for its ID number. The pairs
    exact matching missed are the same-person row pairs in two different entities; a case
    covers every row pair across its two entities. A case is true when its entities' rows
    mostly belong to one person. A case may hold several entities (a cluster): it covers every
    row pair across two of them, and is true when all of them mostly belong to one person.
    Also the pairwise scores of exact merges and cases together, taken as proposed links, over
    the rows of all entities."""
    truth = pd.read_csv(truth_csv, dtype=str, keep_default_na=False)
    with engine.connect() as conn:
        rows = pd.read_sql(select(source_record.c.source_system, source_record.c.source_key,
                                  source_record.c.id_number, source_record.c.outcome), conn)
        ruled = pd.read_sql(select(quarantine.c.source_system, quarantine.c.source_key)
                            .where(quarantine.c.rule.in_(ID_RULES)).distinct(), conn)
    rows = rows.merge(truth, on=["source_system", "source_key"])
    loose = rows.merge(ruled, on=["source_system", "source_key"])
    loose = loose.assign(entity=loose["source_system"] + "|" + loose["source_key"])
    accepted = rows[rows["outcome"] == "accepted"].assign(entity=lambda f: f["id_number"])
    members = pd.concat([accepted, loose], ignore_index=True)
    missed = _cross_pairs(members, "person_key", "entity")
    people = members.groupby(["entity", "person_key"]).size()
    majority = people.reset_index().sort_values(0, ascending=False).drop_duplicates("entity")
    owner = majority.set_index("entity")["person_key"]
    members_of = pd.DataFrame([(i, e) for i, case in enumerate(clusters) for e in case],
                              columns=["case", "entity"])
    counted = members_of.merge(people.rename("n").reset_index(), on="entity")
    # every row pair across two of a case's entities, and of those the pairs of one person
    covered = _across(counted.groupby(["case", "entity"], as_index=False)["n"].sum(), ["case"])
    covered_true = _across(counted, ["case", "person_key"])
    owners = members_of.assign(owner=members_of["entity"].map(owner))
    true_cases = int((owners.groupby("case")["owner"].nunique(dropna=False) == 1).sum())
    exact_true = _pairs(accepted.groupby(["id_number", "person_key"]).size())
    exact = _pairs(accepted.groupby("id_number").size())
    actual = _pairs(members.groupby("person_key").size())
    precision = (exact_true + covered_true) / max(exact + covered, 1)
    recall = (exact_true + covered_true) / max(actual, 1)
    false_cases = len(clusters) - true_cases
    return {
        "cases": len(clusters), "true_cases": true_cases, "false_cases": false_cases,
        "false_per_true": false_cases / max(true_cases, 1),
        "missed_pairs": missed, "found_pairs": covered_true,
        "case_recall": covered_true / missed if missed else 1.0,
        "exact_f1": 2 * exact_true / max(exact + actual, 1),
        "proposed_precision": precision, "proposed_recall": recall,
        "proposed_f1": 2 * precision * recall / max(precision + recall, 1e-9),
    }


def duplicate_enrollment_scores(engine: Engine, truth_csv: Path) -> dict[str, float | int]:
    """How well the national tier's duplicate_enrollment cases find the people actively
    enrolled in one scheme family in two provinces.

    Findable: the accepted rows, joined by their true person (truth.csv) as a perfect linkage
    would join them, give that person active enrollments of the family in two provinces (the
    enrollments computed as the warehouse computes them: transforms.reconcile). Found: an open
    case's person (the true person most of its rows belong to) and family."""
    from transforms.cases import ACTIVE, SCHEME_FAMILY
    from transforms.reconcile import golden_enrollments

    truth = pd.read_csv(truth_csv, dtype=str, keep_default_na=False)
    with engine.connect() as conn:
        rows = pd.read_sql(select(source_record).where(source_record.c.outcome == "accepted"),
                           conn)
        cases = pd.read_sql(select(review_case.c.id_number, review_case.c.attribute).where(
            review_case.c.kind == "duplicate_enrollment", review_case.c.status == "open"), conn)
    rows = rows.merge(truth, on=["source_system", "source_key"])
    owner = (rows.groupby(["id_number", "person_key"]).size().rename("n").reset_index()
             .sort_values("n", ascending=False).drop_duplicates("id_number")
             .set_index("id_number")["person_key"])
    truly = rows.assign(id_number=rows["person_key"])
    for column in ("updated_at", "enrolled_on"):
        truly[column] = pd.to_datetime(truly[column])
    enrollments = golden_enrollments(truly.astype({"source_system": "string",
                                                   "source_key": "string",
                                                   "id_number": "string"}))
    active = enrollments[enrollments["status"] == ACTIVE].assign(
        family=enrollments["scheme"].map(SCHEME_FAMILY)).dropna(subset=["family"])
    spread = active.groupby(["id_number", "family"])["province"].nunique()
    findable = set(spread[spread > 1].index)
    found = set(zip(cases["id_number"].map(owner), cases["attribute"], strict=True))
    hits = len(found & findable)
    return {"findable": len(findable), "cases": len(cases), "found": hits,
            "precision": hits / len(found) if found else 1.0,
            "recall": hits / len(findable) if findable else 1.0}
