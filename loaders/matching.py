"""Probabilistic linkage against the warehouse: the entities it compares (match_entity), its
models (match_model), and suspected_duplicate cases kept in step with them.

    refresh(conn, run_id)          after a run: only the entities the run added or changed are
                                   scored, against the index (the entities sharing a blocking
                                   key with them, found in the warehouse) and each other
    refresh(conn, run_id, full=True)   every entity scored again (`jinbao match rerun`)
    train(conn, run_id)            a new model version from the warehouse's own entities

The first refresh of a warehouse trains the first model. Exact repaired ID numbers stay the only
automatic merges: linkage opens cases and never merges anyone.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import Connection, and_, delete, exists, func, literal, or_, select, text

from jinbao.errors import WarehouseError
from loaders.bulk import copy_into, read_frame, temp_table
from schemas.identity import ID_RULES
from schemas.warehouse import (
    match_entity,
    match_model,
    person,
    person_history,
    quarantine,
    review_case,
    review_case_row,
    review_decision,
    source_record,
)
from transforms.linkage import decide, model
from transforms.linkage.entities import COLUMNS, entity_frame

STORED = [c for c in COLUMNS if c != "changed"]
GROWTH = 2
"""A model trained on fewer than 1/GROWTH of the entities the index holds is retrained, and
everything matched again with it (the first run of a backfill trains on its first slice)."""


def _latest_rows(numbers=None):
    """Each person's most recently updated accepted row: its region and employer (of the
    persons whose numbers the subquery `numbers` selects, or of all)."""
    accepted = source_record.c.outcome == literal("accepted")
    if numbers is not None:
        accepted = and_(accepted, source_record.c.id_number.in_(numbers))
    ranked = select(source_record.c.id_number, source_record.c.pooling_region.label("region"),
                    source_record.c.employer_id.label("employer"),
                    func.row_number().over(partition_by=source_record.c.id_number,
                                           order_by=(source_record.c.updated_at.desc(),
                                                     source_record.c.source_key)).label("n")
                    ).where(accepted).subquery()
    return select(ranked.c.id_number, ranked.c.region, ranked.c.employer).where(
        ranked.c.n == 1).subquery()


def _persons(conn: Connection, only=None) -> pd.DataFrame:
    """Persons with their latest row's region and employer: all, or those `only` selects (the
    latest rows are then ranked for those persons alone, not the whole warehouse)."""
    numbers = None
    if only is not None:
        # the numbers first, in a table of their own with its true size: PostgreSQL, guessing
        # one person for `only`, ran the ranking once per person (116 s for 13,000 at a million)
        found = read_frame(conn, select(person.c.id_number).where(only))
        scope = temp_table(conn, "jinbao_match_persons", person, ["id_number"],
                           key=("id_number",))
        copy_into(conn, scope, found)
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"ANALYZE {scope.name}"))
        numbers = select(scope.c.id_number)
    return read_frame(conn, persons_query(numbers))


def persons_query(numbers=None):
    """The persons (those whose numbers the subquery `numbers` selects, or all) with their
    latest row's region and employer."""
    latest = _latest_rows(numbers)
    query = (select(person.c.id_number, person.c.name, person.c.sex, person.c.birth_date,
                    latest.c.region, latest.c.employer)
             .outerjoin(latest, latest.c.id_number == person.c.id_number))
    if numbers is not None:
        query = query.where(person.c.id_number.in_(numbers))
    return query


def _loose(conn: Connection, only=None) -> pd.DataFrame:
    return read_frame(conn, loose_query(only))


def loose_query(only=None):
    """The rows quarantined for their ID number (all, or those `only` selects)."""
    query = select(source_record.c.source_system, source_record.c.source_key,
                   source_record.c.claimed_id, source_record.c.name, source_record.c.sex,
                   source_record.c.birth_date, source_record.c.pooling_region,
                   source_record.c.employer_id).where(
        source_record.c.outcome == literal("quarantined"),
        exists().where(and_(quarantine.c.source_system == source_record.c.source_system,
                            quarantine.c.source_key == source_record.c.source_key,
                            quarantine.c.rule.in_(ID_RULES))))
    return query if only is None else query.where(only)


def _text(frame: pd.DataFrame) -> pd.DataFrame:
    for column in frame.columns:
        if column != "birth_date":
            frame[column] = frame[column].astype("string")
    return frame


def latest_model(conn: Connection) -> dict | None:
    found = conn.execute(select(match_model).order_by(match_model.c.version.desc()).limit(1)
                         ).mappings().first()
    return None if found is None else {**found, "model": json.loads(found["model"])}


def _store_entities(conn: Connection, entities: pd.DataFrame, run_id: str,
                    replace_all: bool, gone: set[str] = frozenset()) -> None:
    if replace_all:
        _replace_entities(conn, [entities], run_id)
        return
    doomed = pd.concat([entities["unique_id"], pd.Series(sorted(gone), dtype="string")])
    if len(doomed):
        scope = temp_table(conn, "jinbao_match_doomed", match_entity, ["unique_id"],
                           key=("unique_id",))
        copy_into(conn, scope, pd.DataFrame({"unique_id": doomed.drop_duplicates()}))
        conn.execute(delete(match_entity).where(  # IN: SQLite searches the key
            match_entity.c.unique_id.in_(select(scope.c.unique_id))))
    copy_into(conn, match_entity, entities[STORED].assign(updated_run=run_id))


def _replace_entities(conn: Connection, parts, run_id: str) -> None:
    """The whole index written anew from `parts` (frames of entities), in bulk: its indexes
    built once after, not row by row."""
    # the DELETE first: SQLite's driver opens its transaction at the first write and would
    # commit a DROP INDEX issued before it at once, outside a rerun's rollback
    conn.execute(delete(match_entity))
    for index in match_entity.indexes:
        index.drop(conn)
    for entities in parts:
        copy_into(conn, match_entity, entities[STORED].assign(updated_run=run_id))
    for index in match_entity.indexes:
        index.create(conn)


def train(conn: Connection, run_id: str, entities: pd.DataFrame | None = None) -> dict:
    """Train a model on the warehouse's entities and store it as the next version."""
    if entities is None:
        entities = read_frame(conn, select(*(match_entity.c[c] for c in STORED))
                              .order_by(match_entity.c.unique_id))  # u sampling: one order
        entities = entities.assign(changed=1)
    if entities.empty:  # never matched: the index from the warehouse's persons and rows
        entities = entity_frame(_text(_persons(conn)), _text(_loose(conn)))
        _store_entities(conn, entities, run_id, replace_all=True)
    if len(entities) < 2:
        raise WarehouseError("the warehouse holds fewer than two persons or rows to compare: "
                             "run `jinbao run` first, then train")
    return _store_model(conn, run_id, *model.trained(_text(entities.copy())), len(entities))


def _store_model(conn: Connection, run_id: str, trained: dict, threshold: float,
                 entities: int) -> dict:
    """A trained model stored as the next version; its record."""
    previous = latest_model(conn)
    record = {"version": (previous["version"] + 1) if previous else 1,
              "trained_at": datetime.now(UTC).replace(tzinfo=None, microsecond=0),
              "trained_run": run_id, "entities": entities, "threshold": threshold,
              "model": json.dumps(trained)}
    conn.execute(match_model.insert().values(**record))
    return {**record, "model": trained}


def _apart(conn: Connection) -> set[frozenset[str]]:
    """Entity pairs a reviewer kept apart (a standing keep_apart decision on their case)."""
    standing = select(review_decision.c.case_id).where(  # few: read from the decisions
        review_decision.c.decision == literal("keep_apart"), review_decision.c.undone_at.is_(None))
    decided = read_frame(conn, select(review_case.c.evidence).where(
        review_case.c.kind == literal(decide.CASE_KIND), review_case.c.case_id.in_(standing)))
    pairs = set()
    for text_ in decided["evidence"].dropna():
        entities = json.loads(text_)["entities"]
        pairs.update(frozenset((a, b)) for i, a in enumerate(entities) for b in entities[i + 1:])
    return pairs


def _changed(conn: Connection, run_id: str, also: set[str]) -> tuple[pd.DataFrame,
                                                                     pd.DataFrame, set[str]]:
    """The persons and loose rows the run wrote (or `also` names), and the entities it removed."""
    numbers = sorted(e for e in also if "|" not in e)
    keys = [tuple(e.split("|", 1)) for e in sorted(also) if "|" in e]
    persons = _text(_persons(conn, or_(person.c.updated_run == run_id,
                                       person.c.created_run == run_id,
                                       person.c.id_number.in_(numbers))))
    written = or_(source_record.c.run_id == run_id,
                  *(and_(source_record.c.source_system == s, source_record.c.source_key == k)
                    for s, k in keys))
    loose = _text(_loose(conn, written))
    removed_people = set(read_frame(conn, select(person_history.c.id_number).where(
        person_history.c.run_id == run_id, ~exists().where(
            person.c.id_number == person_history.c.id_number)))["id_number"])
    rows = read_frame(conn, select(source_record.c.source_system, source_record.c.source_key)
                      .where(written))
    rewritten = set(rows["source_system"] + "|" + rows["source_key"])
    still = set(loose["source_system"] + "|" + loose["source_key"]) | set(persons["id_number"])
    return persons, loose, (removed_people | rewritten | also) - still


def _candidates(conn: Connection, changed: pd.DataFrame) -> pd.DataFrame:
    """The stored entities that share a blocking key with a changed one (each rule a join
    from the changed keys into match_entity's indexes)."""
    columns = sorted({c for rule in model.BLOCK_KEYS for c in rule})
    keys = temp_table(conn, "jinbao_match_keys", match_entity, columns)
    copy_into(conn, keys, changed[columns].drop_duplicates())
    # the ids alone per rule, then each found entity's row once: a common key finds the same
    # entities under several rules. No DISTINCT: it makes SQLite scan match_entity rather than
    # search its index per key
    found = pd.concat([read_frame(conn, select(match_entity.c.unique_id).select_from(
        keys.join(match_entity, and_(*(keys.c[c] == match_entity.c[c] for c in rule)))))
        for rule in model.BLOCK_KEYS], ignore_index=True)["unique_id"]
    found = found[~found.isin(changed["unique_id"])].drop_duplicates()
    ids = temp_table(conn, "jinbao_match_found", match_entity, ["unique_id"], key=("unique_id",))
    copy_into(conn, ids, pd.DataFrame({"unique_id": found}))
    return read_frame(conn, select(*(match_entity.c[c] for c in STORED)).where(
        match_entity.c.unique_id.in_(select(ids.c.unique_id))))


def _counts(conn: Connection, subset: pd.DataFrame) -> tuple[dict, dict]:
    """Value counts over the whole index of the subset's term-frequency values, and each
    column's non-null total (so that shares come out as over the whole index)."""
    counts, totals = {}, {}
    for column in model.TF_COLUMNS:
        scope = temp_table(conn, f"jinbao_tf_{column}", match_entity, [column])
        copy_into(conn, scope, pd.DataFrame({column: subset[column].dropna().drop_duplicates()}))
        counted = read_frame(conn, select(scope.c[column], func.count().label("n"))
                             .select_from(scope.join(match_entity,
                                                     scope.c[column] == match_entity.c[column]))
                             .group_by(scope.c[column]))
        counts[column] = pd.Series(counted["n"].to_numpy(), index=counted[column].to_numpy())
        totals[column] = conn.execute(select(func.count(match_entity.c[column]))).scalar_one()
    return counts, totals


def _cases_about(conn: Connection, entities: set[str]) -> pd.DataFrame:
    """The suspected_duplicate cases (case_id, evidence) whose rows belong to these entities:
    a person by its number, a loose row by its key."""
    numbers = temp_table(conn, "jinbao_match_numbers", review_case_row, ["id_number"])
    copy_into(conn, numbers, pd.DataFrame(
        {"id_number": sorted(e for e in entities if "|" not in e)}, dtype="string"))
    rows = temp_table(conn, "jinbao_match_rows", review_case_row,
                      ["source_system", "source_key"])
    copy_into(conn, rows, pd.DataFrame(
        [e.split("|", 1) for e in sorted(entities) if "|" in e],
        columns=["source_system", "source_key"], dtype="string"))
    row = review_case_row.c
    ids = select(row.case_id).select_from(numbers.join(
        review_case_row, numbers.c.id_number == row.id_number)).union(
        select(row.case_id).select_from(rows.join(review_case_row, and_(
            rows.c.source_system == row.source_system, rows.c.source_key == row.source_key))))
    return read_frame(conn, select(review_case.c.case_id, review_case.c.evidence).where(
        review_case.c.kind == literal(decide.CASE_KIND), review_case.c.case_id.in_(ids)))


def _rows_of(conn: Connection, ids: list[str]) -> pd.DataFrame:
    """The accepted rows of these persons (id_number, source_system, source_key)."""
    scope = temp_table(conn, "jinbao_case_people", person, ["id_number"], key=("id_number",))
    copy_into(conn, scope, pd.DataFrame({"id_number": pd.Series(ids, dtype="string")}))
    return read_frame(conn, select(source_record.c.id_number, source_record.c.source_system,
                                   source_record.c.source_key).where(
        source_record.c.outcome == literal("accepted"),
        source_record.c.id_number.in_(select(scope.c.id_number))))  # IN: SQLite searches


def refresh(conn: Connection, run_id: str, full: bool = False,
            also: set[str] = frozenset(), detail: bool = False, bulk=None) -> dict:
    """Score what the run changed (and the entities `also` names, which a decision touched; or, `full`,
    everything) and keep the suspected_duplicate cases in step; returns statistics (entities,
    comparisons, cases opened and withdrawn; with `detail`, their case ids). `bulk`: where a
    full match runs when not here (jinbao.national_spark.SparkMatcher)."""
    from loaders.review import sync_cases

    began = time.perf_counter()
    stored = latest_model(conn)
    indexed = conn.execute(select(func.count()).select_from(match_entity)).scalar_one()
    grown = stored is not None and indexed >= GROWTH * max(stored["entities"], 1)
    national = _national(conn)
    if full or stored is None or indexed == 0 or grown:
        retrain = stored is None or grown
        if bulk is None:
            entities = entity_frame(_text(_persons(conn)), _text(_loose(conn)))
            _store_entities(conn, entities, run_id, replace_all=True)
            if retrain:
                stored = train(conn, run_id, entities)
            pairs = model.scored(entities, stored["model"])
            pairs = between_provinces(pairs, entities) if national else pairs
            subset_size, scored_pairs = len(entities), len(pairs)
        else:
            pairs, subset_size, scored_pairs, stored = _full_on(bulk, conn, run_id, stored,
                                                                 retrain, national)
        scope, edges_kept = None, decide.stored_edges(pd.Series([], dtype="string"))
    else:
        persons, loose, gone = _changed(conn, run_id, set(also))
        changed = entity_frame(persons, loose)
        _store_entities(conn, changed, run_id, replace_all=False, gone=gone)
        touched = set(changed["unique_id"]) | gone
        if not touched:
            nothing = {"opened_cases": [], "withdrawn_cases": []} if detail else {}
            return {"entities": 0, "scored_pairs": 0, "cases": 0, "opened": 0,
                    "withdrawn": 0, "model": stored["version"], **nothing}
        candidates = _candidates(conn, changed).assign(changed=0)
        subset = pd.concat([changed, candidates]).sort_values("unique_id", ignore_index=True)
        counts, totals = _counts(conn, subset)
        pairs = model.scored(_text(subset), stored["model"], changed_only=True, counts=counts,
                             totals=totals)
        pairs = between_provinces(pairs, subset) if national else pairs
        subset_size, scored_pairs = len(subset), len(pairs)
        linked = set(decide.links(pairs, stored["threshold"])[decide.EDGE].stack())
        involved = touched | linked
        cases = _cases_about(conn, involved)
        scope = cases["case_id"]
        edges_kept = decide.stored_edges(cases["evidence"])
        edges_kept = edges_kept[~edges_kept["unique_id_l"].isin(touched)
                                & ~edges_kept["unique_id_r"].isin(touched)]
    threshold = stored["threshold"]
    apart = _apart(conn)
    edges = pd.concat([decide.links(pairs, threshold, apart),
                       decide.links(edges_kept, threshold, apart)], ignore_index=True)
    groups = decide.clusters(edges)
    rows_of = _rows_of(conn, sorted({e for g in groups for e in g if "|" not in e}))
    found, found_rows = decide.case_frames(groups, edges, stored["model"], stored["version"],
                                           threshold, rows_of)
    synced = sync_cases(conn, found, found_rows, None, (decide.CASE_KIND,), run_id,
                        case_ids=scope)
    if not detail:
        synced = {k: v for k, v in synced.items() if not k.endswith("_cases")}
    return {"entities": subset_size, "scored_pairs": scored_pairs, "cases": len(found),
            "model": stored["version"], "threshold": round(threshold, 4), **synced,
            "seconds": round(time.perf_counter() - began, 2)}


def _full_on(bulk, conn: Connection, run_id: str, stored: dict | None, retrain: bool,
             national: bool) -> tuple[pd.DataFrame, int, int, dict]:
    """A full match on `bulk`: the index written anew, the model retrained if asked; the pairs
    at or above the threshold, the entities, the pairs scored, and the model."""
    entities = bulk.entities(conn, persons_query(), loose_query())
    counted = []

    def counting(parts):
        for part in parts:
            counted.append(len(part))
            yield part

    _replace_entities(conn, counting(bulk.parts(entities)), run_id)
    if sum(counted) < 2:
        raise WarehouseError("the warehouse holds fewer than two persons or rows to compare")
    if retrain:
        stored = _store_model(conn, run_id, *bulk.trained(entities), sum(counted))
    pairs, scored = bulk.links(entities, stored["model"], stored["threshold"], national)
    return pairs, sum(counted), scored, stored


def _national(conn: Connection) -> bool:
    """Whether this is the national tier's warehouse: its rows name their province (all of
    them: one row tells)."""
    return conn.execute(select(source_record.c.province).limit(1)).scalar() is not None


def between_provinces(pairs: pd.DataFrame, entities: pd.DataFrame) -> pd.DataFrame:
    """The pairs whose two entities live in two provinces (the province of an entity's latest
    pooling region: its first two digits). A national case is one no province can see; each
    province's own suspects are its own cases."""
    province = entities.set_index("unique_id")["region"].astype("string").str.slice(0, 2)
    left = pairs["unique_id_l"].map(province)
    right = pairs["unique_id_r"].map(province)
    return pairs[(left != right).fillna(False).to_numpy()]


def analyzed(conn: Connection) -> None:
    """Fresh planner statistics for the match tables after a bulk rewrite (PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ANALYZE match_entity"))
