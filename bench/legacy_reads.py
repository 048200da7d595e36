"""What the peers read, the plain way: the legacy tables and their change times, an injury
export as Arrow (GB18030, broken lines skipped: a plain loader drops them), connectorx URLs."""

from __future__ import annotations

from pathlib import Path

TABLES = {"pension": ["ac01", "ac02"], "medical": ["mi_insured"],
          "unemployment": ["失业参保人员"], "maternity": ["sy_cbry"]}
CHANGE_TIME = {"ac01": "aae036", "ac02": "aae036", "mi_insured": "updt_time",
               "失业参保人员": "修改时间", "sy_cbry": "gxsj"}
TEXT = ("序号", "证件号码", "出生日期", "单位编号", "统筹区")


def export_table(path: Path):
    """One injury export file as an Arrow table, every field text, with its city and month."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(
        path, read_options=pacsv.ReadOptions(encoding="gb18030"),
        parse_options=pacsv.ParseOptions(newlines_in_values=True,
                                         invalid_row_handler=lambda _row: "skip"),
        convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in TEXT}))
    rows = table.num_rows
    return (table.append_column("city", pa.array([path.stem] * rows, pa.string()))
            .append_column("month", pa.array([path.parent.name] * rows, pa.string())))


def cx_url(url: str, folder: Path) -> str:
    """A SQLAlchemy URL as connectorx wants it (no driver, SQLite paths absolute)."""
    from sqlalchemy import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite://{(folder / parsed.database).resolve()}"
    return parsed.set(drivername=parsed.get_backend_name(), query={}).render_as_string(
        hide_password=False)
