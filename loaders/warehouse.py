"""Idempotent loads into the warehouse (any SQLAlchemy dialect; SQLite is the embedded default).

Source rows are written only where their row hash changed. Every person whose rows changed (under
the old ID or the new one) is marked dirty in the same transaction; recomputing a bucket's dirty
people rewrites their golden record and enrollments from all their current rows. Each bucket is one
transaction, so a crash anywhere leaves either the old or the new state of a bucket, and a rerun
finishes the work.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    and_,
    create_engine,
    delete,
    event,
    exists,
    func,
    select,
    text,
)

from schemas.warehouse import (
    dirty_person,
    enrollment,
    metadata,
    person,
    person_history,
    quarantine,
    source_record,
)
from transforms.reconcile import bucket_of, golden_enrollments, golden_persons

PERSON_ATTRIBUTES = ["name", "sex", "ethnicity", "birth_date", "birth_region"]
DATE_COLUMNS = ("birth_date", "enrolled_on")


def warehouse_engine(url: str) -> Engine:
    """An engine for the warehouse; SQLite waits for locks instead of failing at once."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 120})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # WAL lets readers work beside one writer
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url)


def ensure_schema(engine: Engine) -> None:
    """Create the contract's tables where they are missing."""
    metadata.create_all(engine)


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts of plain Python values (None for missing, date for date columns)."""
    out = frame.copy()
    for column in DATE_COLUMNS:
        if column in out and pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.date
    out = out.astype(object).where(out.notna(), None)
    return out.to_dict("records")


def _insert(conn: Connection, table: Table, frame: pd.DataFrame) -> None:
    if not frame.empty:
        columns = [c.name for c in table.columns if c.name in frame.columns]
        conn.execute(table.insert(), records(frame[columns]))


def _temp_table(conn: Connection, name: str, columns: list[Column], frame: pd.DataFrame) -> Table:
    conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
    table = Table(name, MetaData(), *columns, prefixes=["TEMPORARY"])
    table.create(conn)
    _insert(conn, table, frame)
    return table


def _key_columns() -> list[Column]:
    """The source-row key, indexed: every join and delete against a key table uses it."""
    return [Column("source_system", String(64), primary_key=True),
            Column("source_key", String(200), primary_key=True)]


def _same_key(table: Table, keys: Table) -> exists:
    return exists().where(and_(keys.c.source_system == table.c.source_system,
                               keys.c.source_key == table.c.source_key))


def changed_rows(conn: Connection, incoming: pd.DataFrame) -> pd.DataFrame:
    """The incoming source rows that are new or whose hash differs, with the ID each had before."""
    keys = _temp_table(conn, "jinbao_incoming", [*_key_columns(), Column("row_hash", BigInteger)],
                       incoming[["source_system", "source_key", "row_hash"]])
    found = pd.DataFrame(conn.execute(
        select(keys.c.source_system, keys.c.source_key, source_record.c.id_number,
               source_record.c.row_hash)
        .join(source_record, and_(source_record.c.source_system == keys.c.source_system,
                                  source_record.c.source_key == keys.c.source_key))).all(),
        columns=["source_system", "source_key", "old_id", "old_hash"])
    merged = incoming.merge(found, on=["source_system", "source_key"], how="left")
    return merged[merged["old_hash"].isna() | (merged["old_hash"] != merged["row_hash"])]


def _replace_source_rows(conn: Connection, changed: pd.DataFrame) -> None:
    keys = _temp_table(conn, "jinbao_changed", _key_columns(),
                       changed[["source_system", "source_key"]])
    conn.execute(delete(source_record).where(_same_key(source_record, keys)))
    conn.execute(delete(quarantine).where(_same_key(quarantine, keys)))
    _insert(conn, source_record, changed)


def _mark_dirty(conn: Connection, ids: pd.Series, buckets: int) -> None:
    ids = pd.Series(ids.dropna().unique(), dtype="string")
    if ids.empty:
        return
    known = {row[0] for row in conn.execute(
        select(dirty_person.c.id_number).where(dirty_person.c.id_number.in_(ids.tolist())))}
    fresh = ids[~ids.isin(known)]
    _insert(conn, dirty_person, pd.DataFrame({"id_number": fresh,
                                              "bucket": bucket_of(fresh, buckets)}))


def load_source_rows(engine: Engine, rows: pd.DataFrame, buckets: int,
                     quarantined: pd.DataFrame | None = None) -> int:
    """Write the changed source rows (and their quarantine rows) in one transaction.

    Marks dirty every person who gains or loses a row. Returns how many rows changed.
    """
    if rows.empty:
        return 0
    with engine.begin() as conn:
        changed = changed_rows(conn, rows)
        if changed.empty:
            return 0
        _replace_source_rows(conn, changed.drop(columns=["old_id", "old_hash"]))
        if quarantined is not None and not quarantined.empty:
            keep = quarantined.merge(changed[["source_system", "source_key"]])
            _insert(conn, quarantine, keep)
        _mark_dirty(conn, pd.concat([changed["id_number"], changed["old_id"]]), buckets)
        return len(changed)


def _dirty_ids(bucket: int | None):
    query = select(dirty_person.c.id_number)
    return query if bucket is None else query.where(dirty_person.c.bucket == bucket)


def _changed_people(golden: pd.DataFrame, old: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(existed, attributes differ) per golden row, against the stored person rows."""
    merged = golden[["id_number", *PERSON_ATTRIBUTES]].merge(
        old[["id_number", *PERSON_ATTRIBUTES]], on="id_number", how="left",
        suffixes=("", "_old"), indicator=True)
    existed = (merged["_merge"] == "both").to_numpy()
    differs = pd.Series(False, index=merged.index)
    for column in PERSON_ATTRIBUTES:
        now = merged[column].astype("string").fillna("\0")
        before = merged[f"{column}_old"].astype("string").fillna("\0")
        differs |= now != before
    return pd.Series(existed, index=golden.index), pd.Series(differs.to_numpy(), index=golden.index)


def recompute_dirty(engine: Engine, run_id: str, valid_from: datetime, buckets: int,
                    bucket: int | None = None) -> dict[str, int]:
    """Rewrite the golden records of the dirty people of one bucket (or all), in one transaction.

    A person whose attributes changed keeps the earlier version in person_history; one left with
    no accepted rows is removed (and kept in history). Unchanged people keep their run ids.
    """
    with engine.begin() as conn:
        dirty = _dirty_ids(bucket)
        rows = pd.read_sql(select(source_record).where(
            source_record.c.outcome == "accepted", source_record.c.id_number.in_(dirty)), conn)
        old = pd.read_sql(select(person).where(person.c.id_number.in_(dirty)), conn)
        count = conn.execute(select(func.count()).select_from(dirty.subquery())).scalar_one()
        if not count:
            return {"persons_written": 0, "persons_removed": 0}
        rows["updated_at"] = pd.to_datetime(rows["updated_at"])
        golden = golden_persons(rows)
        golden["bucket"] = bucket_of(golden["id_number"], buckets).to_numpy()
        existed, differs = _changed_people(golden, old)
        previous = old.set_index("id_number").reindex(golden["id_number"])
        golden["created_run"] = previous["created_run"].fillna(run_id).to_numpy()
        keep = (existed & ~differs).to_numpy()
        golden["valid_from"] = previous["valid_from"].where(keep, valid_from).to_numpy()
        same_meta = ((previous["source_rows"].to_numpy() == golden["source_rows"].to_numpy())
                     & (previous["name_source"].to_numpy() == golden["name_source"].to_numpy()))
        golden["updated_run"] = previous["updated_run"].where(keep & same_meta, run_id).to_numpy()
        gone = old[~old["id_number"].isin(golden["id_number"])]
        replaced = old[old["id_number"].isin(golden.loc[existed & differs, "id_number"])]
        history = pd.concat([replaced, gone])
        if not history.empty:
            _insert(conn, person_history, history.assign(valid_to=valid_from, run_id=run_id))
        conn.execute(delete(person).where(person.c.id_number.in_(dirty)))
        _insert(conn, person, golden)
        conn.execute(delete(enrollment).where(enrollment.c.id_number.in_(dirty)))
        _insert(conn, enrollment, golden_enrollments(rows))
        done = delete(dirty_person)
        conn.execute(done if bucket is None else done.where(dirty_person.c.bucket == bucket))
        written = int((~(keep & same_meta)).sum())
        return {"persons_written": written, "persons_removed": len(gone)}
