"""A first load's reconciliation computed ahead, elsewhere (on Spark, for the national tier), and
loaded bucket by bucket: what load_first_rows computes and writes, split in two.

    reconciled_table   one group of persons' current rows, golden records, enrollments and
                       cases as one Arrow table (a `_table` column says which; the columns of
                       the others are null), with the bucket each row loads in (`_bucket`)
    load_reconciled    one bucket's part of it, written into the warehouse (one transaction:
                       the caller's)

On disk: <folder>/_table=<name>/_bucket=<b>/*.parquet, as Spark's partitioned writer lays it.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection

from loaders.bulk import arrow_type, copy_into
from loaders.warehouse import People, current_rows, people_of, store_people, tally_of
from schemas.warehouse import enrollment, person, review_case, review_case_row, source_record
from transforms.cases import CASE_COLUMNS, CASE_ROW_COLUMNS
from transforms.reconcile import bucket_of
from transforms.survivorship import Survivorship

TABLE, BUCKET = "_table", "_bucket"
OUTPUTS = {
    "source_record": [c.name for c in source_record.columns],
    "person": [c.name for c in person.columns],
    "enrollment": [c.name for c in enrollment.columns],
    "case": CASE_COLUMNS,
    "case_row": CASE_ROW_COLUMNS,
}
"""What a first load writes, and each part's columns (a case as transforms.cases finds it:
sync_cases gives it its status and runs)."""
_WAREHOUSE = {"source_record": source_record, "person": person, "enrollment": enrollment,
              "case": review_case, "case_row": review_case_row}


def _schemas() -> tuple[dict[str, pa.Schema], pa.Schema]:
    parts, union = {}, {TABLE: pa.string(), BUCKET: pa.int64()}
    for name, columns in OUTPUTS.items():
        table = _WAREHOUSE[name]
        parts[name] = pa.schema([(c, arrow_type(table.c[c])) for c in columns])
        for field in parts[name]:
            if union.setdefault(field.name, field.type) != field.type:
                raise TypeError(f"{name}.{field.name}: {field.type}, elsewhere {union[field.name]}")
    return parts, pa.schema(list(union.items()))


PART_SCHEMAS, SCHEMA = _schemas()
NO_PERSONS = pd.DataFrame({c.name: pd.Series(dtype=object) for c in person.columns})


def _part(name: str, frame: pd.DataFrame, buckets: int) -> pa.Table:
    schema = PART_SCHEMAS[name]
    table = pa.Table.from_pandas(frame.reindex(columns=schema.names), preserve_index=False
                                 ).cast(schema)
    bucket = pa.array(bucket_of(frame["id_number"].astype("string"), buckets).to_numpy())
    columns = {TABLE: pa.array([name] * table.num_rows, pa.string()), BUCKET: bucket}
    return pa.table([columns[f.name] if f.name in columns else
                     table.column(f.name) if f.name in schema.names else
                     pa.nulls(table.num_rows, f.type) for f in SCHEMA], schema=SCHEMA)


def reconciled_table(rows: pa.Table, run_id: str, valid_from: datetime, buckets: int,
                     policy: Survivorship | None, picks: pd.DataFrame) -> pa.Table:
    """The first load of a group of persons (all their accepted rows: staged records) as
    load_first_rows computes it: the rows in ID order, golden records, enrollments, cases."""
    current = current_rows(rows.to_pandas())
    people = people_of(current, NO_PERSONS, run_id, valid_from, buckets, policy, picks)
    parts = {"source_record": current, "person": people.golden,
             "enrollment": people.enrollments, "case": people.cases,
             "case_row": people.case_rows}
    return pa.concat_tables([_part(name, frame, buckets) for name, frame in parts.items()
                             if len(frame)] or [SCHEMA.empty_table()])


def _read(folder: Path, name: str, bucket: int) -> pd.DataFrame:
    files = sorted((folder / f"{TABLE}={name}" / f"{BUCKET}={bucket}").glob("*.parquet"))
    schema = PART_SCHEMAS[name]
    tables = [pq.read_table(f, columns=schema.names).cast(schema) for f in files]
    found = pa.concat_tables(tables) if tables else schema.empty_table()
    return found.to_pandas()


def has_bucket(folder: Path, bucket: int) -> bool:
    """Whether `folder` holds a reconciliation of this bucket's rows."""
    return (folder / f"{TABLE}=source_record" / f"{BUCKET}={bucket}").is_dir()


def load_reconciled(conn: Connection, folder: Path, bucket: int, run_id: str,
                    tally: Counter) -> dict[str, int]:
    """Write the bucket's reconciled first load (as load_first_rows would have): its rows in ID
    order, then its people and their cases; adds its rows per source and region to `tally`."""
    rows = _read(folder, "source_record", bucket)
    if rows.empty:
        return {"changed": 0, "persons_written": 0, "persons_removed": 0, "cases_opened": 0,
                "cases_withdrawn": 0}
    # Spark writes a bucket's groups in no set order: ID order again, as a first load keeps it
    rows = rows.sort_values(["id_number", "source_system", "source_key"], kind="stable",
                            ignore_index=True)
    copy_into(conn, source_record, rows)
    tally_of(rows, tally)
    golden = _read(folder, "person", bucket).sort_values("id_number", ignore_index=True)
    people = People(golden=golden, history=NO_PERSONS,
                    enrollments=_read(folder, "enrollment", bucket),
                    cases=_read(folder, "case", bucket), case_rows=_read(folder, "case_row", bucket),
                    written=len(golden), removed=0)
    return {"changed": len(rows), **store_people(conn, people, pd.Series([], dtype="string"),
                                                 run_id)}
