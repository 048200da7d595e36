"""Macro statistics marts (宏观决策) of the national warehouse: insured persons by month,
province, pooling region, scheme, age band and sex, with the change since the month before.

The warehouse counts (one GROUP BY over active enrollments and their persons, by birth year);
only the bands are made here. The last national run of a month leaves that month's figures.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, delete, extract, func, select

from schemas.warehouse import enrollment, insured_stats, person

AGE_BANDS = ((18, "<18"), (30, "18-29"), (40, "30-39"), (50, "40-49"), (60, "50-59"),
             (70, "60-69"), (None, "70+"))
UNKNOWN = "unknown"
KEY = ["province", "pooling_region", "scheme", "age_band", "sex"]


def age_bands(ages: pd.Series) -> pd.Series:
    """Each age (in whole years) as its band; a missing age as 'unknown'."""
    edges = [-1] + [top - 1 for top, _ in AGE_BANDS[:-1]] + [10_000]
    banded = pd.cut(ages, bins=edges, labels=[name for _, name in AGE_BANDS])
    return banded.astype("string").fillna(UNKNOWN)


def insured_counts(conn: Connection, month_end: datetime) -> pd.DataFrame:
    """Persons actively enrolled per (province, pooling region, scheme, age band, sex), ages
    as of `month_end` (by birth year: the age a person reaches in that year)."""
    year = extract("year", person.c.birth_date).label("birth_year")
    rows = pd.DataFrame(conn.execute(
        select(enrollment.c.province, enrollment.c.pooling_region, enrollment.c.scheme,
               year, person.c.sex, func.count(enrollment.c.id_number.distinct()))
        .join(person, person.c.id_number == enrollment.c.id_number)
        .where(enrollment.c.status == "1")
        .group_by(enrollment.c.province, enrollment.c.pooling_region, enrollment.c.scheme,
                  year, person.c.sex)).all(),
        columns=["province", "pooling_region", "scheme", "birth_year", "sex", "persons"])
    ages = month_end.year - pd.to_numeric(rows["birth_year"], errors="coerce")
    rows = rows.assign(age_band=age_bands(ages), sex=rows["sex"].fillna("9"),
                       province=rows["province"].fillna(""))
    return rows.groupby(KEY, as_index=False)["persons"].sum()


def store_insured_stats(conn: Connection, month: str, run_id: str) -> int:
    """Count the month (replacing its earlier figures), with each group's change since the
    latest earlier month; how many groups."""
    start = datetime.strptime(month, "%Y-%m")
    end = (start.replace(day=28) + pd.Timedelta(days=4).to_pytimedelta()).replace(day=1)
    counts = insured_counts(conn, end)
    before = conn.execute(select(func.max(insured_stats.c.month)).where(
        insured_stats.c.month < month)).scalar()
    if before is not None:
        earlier = pd.DataFrame(conn.execute(select(*(insured_stats.c[k] for k in KEY),
                                                   insured_stats.c.persons).where(
            insured_stats.c.month == before)).all(), columns=[*KEY, "before"])
        # a group that emptied since is kept (once), with no one and its loss
        counts = counts.merge(earlier[earlier["before"] > 0], on=KEY, how="outer")
        counts["persons"] = counts["persons"].fillna(0).astype("int64")
        counts["change"] = counts["persons"] - counts["before"].fillna(0).astype("int64")
        counts = counts.drop(columns="before")
    else:
        counts["change"] = None
    conn.execute(delete(insured_stats).where(insured_stats.c.month == month))
    rows = counts.assign(month=month, run_id=run_id)
    if len(rows):
        conn.execute(insured_stats.insert(),
                     rows.astype(object).where(rows.notna(), None).to_dict("records"))
    return len(rows)
