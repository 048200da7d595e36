"""Idempotent loads into the warehouse: SQLite (the embedded default) or PostgreSQL.

Source rows are written only where their row hash changed. Every person whose rows changed (under
the old ID or the new one) is marked dirty in the same transaction; recomputing a bucket's dirty
people rewrites their golden record and enrollments from all their current rows. Each bucket is
one transaction, so a crash anywhere leaves either the old or the new state of a bucket, and a
rerun finishes the work. All comparisons and writes are set-based SQL against staged rows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    String,
    Table,
    and_,
    case,
    cast,
    create_engine,
    delete,
    event,
    exists,
    func,
    insert,
    inspect,
    literal,
    or_,
    select,
    text,
    union,
)
from sqlalchemy.dialects import postgresql

from loaders.bulk import advisory_lock, copy_into, read_frame, temp_table
from loaders.frames import same_values
from loaders.review import sync_cases
from schemas.warehouse import (
    attribute_override,
    dirty_person,
    enrollment,
    metadata,
    person,
    person_history,
    quarantine,
    run_load,
    source_record,
)
from transforms.cases import person_cases
from transforms.reconcile import bucket_of, golden_enrollments, golden_persons
from transforms.standardize import region_codes
from transforms.survivorship import Survivorship, prepared

PERSON_ATTRIBUTES = ["name", "sex", "ethnicity", "birth_date", "birth_region"]
PERSON_META = ["source_rows", "name_source", "sex_source", "ethnicity_source", "birth_date_source"]
PERSON_KINDS = ("attribute_conflict", "duplicate_enrollment")
KEY = ("source_system", "source_key")


SQLITE_CACHE_KIB = 256 * 1024
"""Page cache per SQLite connection (the process's memory, not reserved ahead)."""


def warehouse_engine(url: str, connections: int | None = None) -> Engine:
    """An engine for the warehouse; SQLite waits for locks instead of failing at once.
    `connections`: a server's pool of that many, kept open (none opened beyond them)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 120})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # WAL lets readers work beside one writer
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # SQLite caches 2 MB of pages by default: too few for the indexes of a warehouse
            # of a million persons, whose every incremental write then reads pages from disk
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cursor.execute("PRAGMA temp_store=MEMORY")
            cursor.close()

        return engine
    if connections:
        # no overflow: a connection opened and closed per busy request costs the server a
        # backend's start, more than the request itself
        return create_engine(url, pool_size=connections, max_overflow=0, pool_timeout=60)
    return create_engine(url)


def analyze_changed_tables(conn: Connection) -> list[str]:
    """ANALYZE (PostgreSQL) the warehouse tables that changed by more than autovacuum's own
    threshold since their last statistics, and return their names. After a bulk load the
    planner otherwise believes the tables are still small and scans them whole for every
    bucket of the next incremental run, until autovacuum comes round."""
    if conn.dialect.name != "postgresql":
        return []
    stale = conn.execute(text(
        "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
        "WHERE s.schemaname = current_schema() AND s.relname = ANY(:names) "
        "AND s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)"),
        {"names": [t.name for t in metadata.sorted_tables]}).scalars().all()
    for name in stale:
        conn.execute(text(f'ANALYZE "{name}"'))
    return list(stale)


DEFERRED_INDEXES = tuple(source_record.indexes)
"""source_record's secondary indexes (ID number, claimed ID): a first load writes its rows
without them and builds them once at the end; kept row by row, they made a million rows'
COPY five times slower."""


def defer_indexes(conn: Connection) -> bool:
    """Drop the deferred indexes when the warehouse holds no source row yet (its first load is
    about to start), and return whether they were dropped. build_indexes puts them back; a
    run that dies before doing so leaves them to the next run's."""
    if conn.execute(select(literal(1)).select_from(source_record).limit(1)).first():
        return False
    for index in DEFERRED_INDEXES:
        index.drop(conn, checkfirst=True)
    return True


def build_indexes(conn: Connection) -> list[str]:
    """Create whichever deferred index is missing; their names."""
    present = {x["name"] for x in inspect(conn).get_indexes(source_record.name)}
    missing = [i for i in DEFERRED_INDEXES if i.name not in present]
    for index in missing:
        index.create(conn)
    return [i.name for i in missing]


BUCKET_LOCKS = 7071  # the advisory-lock class of jinbao's person buckets


def lock_buckets(conn: Connection, buckets) -> None:
    """Hold the buckets (PostgreSQL advisory locks, released at commit) so that two runs never
    reconcile the same people at once: an Airflow backfill runs several intervals at the same
    time. Taken in ascending order, so two transactions cannot deadlock on them. SQLite has one
    writer at a time already."""
    for bucket in sorted(buckets):
        advisory_lock(conn, BUCKET_LOCKS, bucket)


def bucket_sql(id_number, buckets: int):
    """transforms.reconcile.bucket_of, in SQL: the first 17 digits modulo the bucket count."""
    return cast(func.substr(id_number, 1, 17), BigInteger) % buckets


def _same_key(table: Table, other: Table):
    return and_(*(table.c[k] == other.c[k] for k in KEY))


def _changed_keys(conn: Connection, incoming: Table) -> Table:
    """Stage the keys of incoming rows that are new, or newer and different, with their old ID
    and whether the warehouse held them before."""
    changed = temp_table(conn, "jinbao_changed", source_record, list(KEY), key=KEY,
                         extra=(Column("old_id", String(18)), Column("existed", Integer)))
    stored = source_record
    conn.execute(insert(changed).from_select(
        [*KEY, "old_id", "existed"],
        select(incoming.c.source_system, incoming.c.source_key, stored.c.id_number,
               case((stored.c.row_hash.is_(None), 0), else_=1))
        .select_from(incoming.outerjoin(stored, _same_key(incoming, stored)))
        .where(or_(stored.c.row_hash.is_(None), and_(
            stored.c.row_hash != incoming.c.row_hash,
            # never replace a row with an older version of it (an older snapshot, a backfill
            # of an earlier month): the warehouse keeps each row's latest version
            or_(stored.c.watermark.is_(None), incoming.c.watermark >= stored.c.watermark))))))
    return changed


def _mark_dirty(conn: Connection, incoming: Table, changed: Table, buckets: int) -> None:
    """Every ID that gains or loses a row becomes dirty (once)."""
    new_ids = (select(incoming.c.id_number.label("id_number"))
               .join(changed, _same_key(incoming, changed))
               .where(incoming.c.id_number.is_not(None)))
    old_ids = select(changed.c.old_id.label("id_number")).where(changed.c.old_id.is_not(None))
    ids = union(new_ids, old_ids).subquery()
    rows = (select(ids.c.id_number, bucket_sql(ids.c.id_number, buckets))
            .where(~exists().where(dirty_person.c.id_number == ids.c.id_number)))
    postgres = conn.dialect.name == "postgresql"
    statement = (postgresql.insert if postgres else insert)(dirty_person).from_select(
        ["id_number", "bucket"], rows)
    if postgres:  # another bucket's transaction may mark the same ID
        statement = statement.on_conflict_do_nothing()
    conn.execute(statement)


def mark_dirty(conn: Connection, ids: pd.Series, buckets: int) -> None:
    """Mark these ID numbers dirty (a decision changed which rows they own)."""
    if ids.empty:
        return
    staged = temp_table(conn, "jinbao_marked", dirty_person, ["id_number"], key=("id_number",))
    copy_into(conn, staged, pd.DataFrame({"id_number": ids.drop_duplicates()}))
    conn.execute(insert(dirty_person).from_select(["id_number", "bucket"], select(
        staged.c.id_number, bucket_sql(staged.c.id_number, buckets)).where(
        ~exists().where(dirty_person.c.id_number == staged.c.id_number))))


Tally = Counter  # (source, pooling region) -> [new rows, changed rows]


def tally_of(rows: pd.DataFrame, tally: Tally) -> None:
    """Every row new: a first load's counts."""
    region = region_codes(rows["pooling_region"])
    for (source, code), n in pd.DataFrame({"s": rows["source_system"], "r": region}
                                          ).value_counts().items():
        tally[(source, code)] = [tally.get((source, code), [0, 0])[0] + int(n),
                                 tally.get((source, code), [0, 0])[1]]


def _tally_changed(conn: Connection, incoming: Table, changed: Table, tally: Tally) -> None:
    grouped = conn.execute(select(
        incoming.c.source_system, incoming.c.pooling_region,
        func.sum(1 - changed.c.existed), func.sum(changed.c.existed))
        .join(changed, _same_key(incoming, changed))
        .group_by(incoming.c.source_system, incoming.c.pooling_region)).all()
    if not grouped:
        return
    frame = pd.DataFrame(grouped, columns=["source", "region", "new", "old"])
    frame["code"] = region_codes(frame["region"]).to_numpy()  # one lookup for every group
    for (source, code), sums in frame.groupby(["source", "code"])[["new", "old"]].sum().iterrows():
        now = tally.get((source, code), [0, 0])
        tally[(source, code)] = [now[0] + int(sums["new"] or 0), now[1] + int(sums["old"] or 0)]


def record_load(conn: Connection, run_id: str, bucket: int, tally: Tally) -> None:
    """What one load wrote, in its own transaction. A load retried after it committed finds
    nothing left to write; what the first attempt recorded stays."""
    known = set(conn.execute(select(run_load.c.source_name, run_load.c.pooling_region).where(
        run_load.c.run_id == run_id, run_load.c.bucket == bucket)).all())
    rows = [{"run_id": run_id, "bucket": bucket, "source_name": source, "pooling_region": code,
             "new_rows": new, "changed_rows": old}
            for (source, code), (new, old) in sorted(tally.items())
            if (new or old) and (source, code) not in known]
    if rows:
        conn.execute(run_load.insert(), rows)


def load_source_rows(conn: Connection, rows: pd.DataFrame, buckets: int,
                     quarantined: pd.DataFrame | None = None, tally: Tally | None = None) -> int:
    """Write the changed source rows (and their quarantine rows) in the open transaction.

    Marks dirty every person who gains or loses a row. Returns how many rows changed; adds the
    new and changed rows per source and region to `tally`.
    """
    if rows.empty:
        return 0
    incoming = temp_table(conn, "jinbao_incoming", source_record, key=KEY)
    copy_into(conn, incoming, rows)
    changed = _changed_keys(conn, incoming)
    count = conn.execute(select(func.count()).select_from(changed)).scalar_one()
    if not count:
        return 0
    if tally is not None:
        _tally_changed(conn, incoming, changed, tally)
    _mark_dirty(conn, incoming, changed, buckets)
    for table in (quarantine, source_record):
        conn.execute(delete(table).where(exists().where(_same_key(table, changed))))
    columns = [c.name for c in source_record.columns]
    conn.execute(insert(source_record).from_select(columns, select(
        *(incoming.c[c] for c in columns)).join(changed, _same_key(incoming, changed))))
    if quarantined is not None and not quarantined.empty:
        rules = temp_table(conn, "jinbao_rules", quarantine)
        copy_into(conn, rules, quarantined)
        names = [c.name for c in quarantine.columns]
        conn.execute(insert(quarantine).from_select(names, select(
            *(rules.c[c] for c in names)).join(changed, _same_key(rules, changed))))
    return count


def _dirty_ids(group: list[int] | None):
    query = select(dirty_person.c.id_number)
    return query if group is None else query.where(dirty_person.c.bucket.in_(group))


def _changed_people(golden: pd.DataFrame, old: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(existed, attributes differ) per golden row, against the stored person rows."""
    merged = golden[["id_number", *PERSON_ATTRIBUTES]].merge(
        old[["id_number", *PERSON_ATTRIBUTES]], on="id_number", how="left",
        suffixes=("", "_old"), indicator=True)
    existed = (merged["_merge"] == "both").to_numpy()
    stored = merged[[f"{c}_old" for c in PERSON_ATTRIBUTES]].set_axis(PERSON_ATTRIBUTES, axis=1)
    differs = ~same_values(merged, stored, PERSON_ATTRIBUTES)
    return pd.Series(existed, index=golden.index), pd.Series(differs, index=golden.index)


def _replace(conn: Connection, table: Table, frame: pd.DataFrame, dirty) -> None:
    """Delete `table`'s rows of the dirty people, then insert `frame` (staged, set-based)."""
    conn.execute(delete(table).where(table.c.id_number.in_(dirty)))
    if frame.empty:
        return
    staged = temp_table(conn, f"jinbao_{table.name}", table)
    copy_into(conn, staged, frame)
    names = [c.name for c in table.columns]
    conn.execute(insert(table).from_select(names, select(*(staged.c[c] for c in names))))


def current_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Accepted source rows with the types golden records are computed from, prepared
    (transforms.survivorship.prepared)."""
    rows = rows.copy()
    for column in ("updated_at", "birth_date", "enrolled_on"):  # SQLite gives text
        rows[column] = pd.to_datetime(rows[column])
    for column in ("name", "sex", "ethnicity", "source_system", "source_key", "id_number"):
        rows[column] = rows[column].astype("string")
    return prepared(rows)  # sorted and keyed once for the golden records and the cases


def picks(conn: Connection) -> pd.DataFrame:
    """Reviewers' attribute picks (few: one per decided conflict)."""
    found = read_frame(conn, select(attribute_override))
    return pd.DataFrame({"id_number": found["id_number"], "attribute": found["attribute"],
                         "source": found["source_system"] + "|" + found["source_key"]})


@dataclass
class People:
    """What recomputing some people gives: their golden records (with run columns), the
    earlier versions to keep, their enrollments and the cases their rows raise."""

    golden: pd.DataFrame
    history: pd.DataFrame
    enrollments: pd.DataFrame
    cases: pd.DataFrame
    case_rows: pd.DataFrame
    written: int
    """Persons whose record (attributes or provenance) is new or changed."""
    removed: int
    """Persons left with no accepted row."""


def people_of(rows: pd.DataFrame, old: pd.DataFrame, run_id: str, valid_from: datetime,
              buckets: int, policy: Survivorship | None, picks: pd.DataFrame) -> People:
    """The People of `rows` (all current accepted rows of the people concerned, as
    _current_rows gives them) against their stored versions `old`; `picks`: reviewers'
    attribute picks. A pure function: a first load computes it anywhere (on Spark, say)."""
    golden = golden_persons(rows, policy, picks)
    golden["bucket"] = bucket_of(golden["id_number"], buckets).to_numpy()
    existed, differs = _changed_people(golden, old)
    previous = old.set_index("id_number").reindex(golden["id_number"])
    keep = (existed & ~differs).to_numpy()
    same_meta = same_values(golden, previous.reset_index(), PERSON_META)
    golden["created_run"] = previous["created_run"].fillna(run_id).to_numpy()
    golden["valid_from"] = previous["valid_from"].where(keep, valid_from).to_numpy()
    golden["updated_run"] = previous["updated_run"].where(keep & same_meta, run_id).to_numpy()
    gone = old[~old["id_number"].isin(golden["id_number"])]
    replaced = old[old["id_number"].isin(golden.loc[existed & differs, "id_number"])]
    history = pd.concat([replaced, gone]).assign(valid_to=valid_from, run_id=run_id)
    enrollments = golden_enrollments(rows)
    cases, case_rows = person_cases(rows, enrollments)
    return People(golden, history, enrollments, cases, case_rows,
                  int((~(keep & same_meta)).sum()), len(gone))


def store_people(conn: Connection, people: People, old_ids: pd.Series, run_id: str,
                 dirty=None) -> dict[str, int]:
    """Write `people` in the open transaction: history, then persons and enrollments (`dirty`:
    the IDs whose rows to delete first; None: nothing stored), then their cases (`old_ids`:
    the people stored before, whose cases are kept in step too)."""
    if not people.history.empty:
        copy_into(conn, person_history, people.history)
    if dirty is None:
        copy_into(conn, person, people.golden)
        copy_into(conn, enrollment, people.enrollments)
    else:
        _replace(conn, person, people.golden, dirty)
        _replace(conn, enrollment, people.enrollments, dirty)
    cases = sync_cases(conn, people.cases, people.case_rows,
                       pd.concat([people.golden["id_number"], old_ids]), PERSON_KINDS, run_id)
    return {"persons_written": people.written, "persons_removed": people.removed,
            "cases_opened": cases["opened"], "cases_withdrawn": cases["withdrawn"]}


def _write_people(conn: Connection, rows: pd.DataFrame, old: pd.DataFrame, run_id: str,
                  valid_from: datetime, buckets: int, policy: Survivorship | None,
                  dirty=None) -> dict[str, int]:
    """people_of `rows` against `old`, stored (store_people)."""
    people = people_of(rows, old, run_id, valid_from, buckets, policy, picks(conn))
    return store_people(conn, people, old["id_number"], run_id, dirty)


NOTHING = {"persons_written": 0, "persons_removed": 0, "cases_opened": 0, "cases_withdrawn": 0}


def recompute_dirty(conn: Connection, run_id: str, valid_from: datetime, buckets: int,
                    group: list[int] | None = None, policy: Survivorship | None = None
                    ) -> dict[str, int]:
    """Rewrite the golden records of the dirty people of a group of buckets (or all), in the
    open transaction.

    A person whose attributes changed keeps the earlier version in person_history; one left with
    no accepted rows is removed (and kept in history). Unchanged people keep their run ids.
    """
    dirty = _dirty_ids(group)
    count = conn.execute(select(func.count()).select_from(dirty.subquery())).scalar_one()
    if not count:
        return dict(NOTHING)
    rows = read_frame(conn, select(source_record).where(
        source_record.c.outcome == literal("accepted"),
        source_record.c.id_number.in_(dirty)))
    old = read_frame(conn, select(person).where(person.c.id_number.in_(dirty)))
    people = _write_people(conn, current_rows(rows), old, run_id, valid_from, buckets, policy,
                           dirty)
    done = delete(dirty_person)
    conn.execute(done if group is None else done.where(dirty_person.c.bucket.in_(group)))
    return people


def is_first_load(conn: Connection, run_id: str, bucket: int, sources: list[str]) -> bool:
    """True when nothing stored can collide with, or belongs to the people of, this bucket's
    incoming rows: no accepted row in the bucket, and no row of these sources from another run
    (this run's other buckets and quarantined rows hold other keys)."""
    in_bucket = select(literal(1)).where(source_record.c.bucket == bucket,
                                         source_record.c.outcome == literal("accepted"))
    earlier = select(literal(1)).where(source_record.c.source_system.in_(sources),
                                       source_record.c.run_id != run_id)
    return not any(conn.execute(query.limit(1)).first() for query in (in_bucket, earlier))


def load_first_rows(conn: Connection, rows: pd.DataFrame, run_id: str, valid_from: datetime,
                    buckets: int, policy: Survivorship | None = None) -> dict[str, int]:
    """The fast path of a bucket's first load (see is_first_load): rows go straight into
    source_record, and their people's golden records are computed from the rows in hand, with
    nothing to compare, delete or read back. Same result as load_source_rows + recompute_dirty."""
    if rows.empty:
        return {"changed": 0, **NOTHING}
    # stored as prepared, in ID order: a person's rows from every source share a page or two,
    # which later runs read back (by ID number) when the person changes
    current = current_rows(rows)
    copy_into(conn, source_record, current)
    old = pd.DataFrame(columns=[c.name for c in person.columns])
    people = _write_people(conn, current, old, run_id, valid_from, buckets, policy)
    return {"changed": len(rows), **people}
