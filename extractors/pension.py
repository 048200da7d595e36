"""pension (ac01 + ac02): one row per person file and pension scheme.

Source key: aac001; where one aac001 has several ac02 rows, each is keyed `aac001|aae140`.
Watermark: the later of ac01.aae036 and ac02.aae036.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import case, func, select

from extractors.legacy_tables import ac01, ac02
from extractors.settings import SourceSettings
from extractors.sql import as_text, text_batches, windowed


def extract(source: SourceSettings, since: str | None, until: str | None) -> Iterator[pa.Table]:
    changed = case((ac02.c.aae036 > ac01.c.aae036, ac02.c.aae036), else_=ac01.c.aae036)
    other = ac02.alias("other")
    parts = (select(func.count()).select_from(other).where(other.c.aac001 == ac01.c.aac001)
             .scalar_subquery())
    statement = (
        select(*(as_text(c, c.name) for c in ac01.c),
               *(as_text(ac02.c[n], n) for n in ("aae140", "aac008", "aac031", "aac030")),
               as_text(changed, "_watermark"), as_text(parts, "_parts"))
        .select_from(ac01.outerjoin(ac02, ac02.c.aac001 == ac01.c.aac001))
        .order_by(ac01.c.aac001, ac02.c.aae140)
    )
    for table in text_batches(source, windowed(statement, changed, since, until)):
        several = pc.greater(pc.cast(table["_parts"], pa.int64()), 1)
        key = pc.if_else(several,
                         pc.binary_join_element_wise(table["aac001"], table["aae140"], "|"),
                         table["aac001"])
        yield table.drop_columns(["_parts"]).append_column("_source_key", key)
