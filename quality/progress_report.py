"""The national tier's monthly progress report (月调度): the figures the last national run of a
month stored (jinbao.progress), as JSON and as one self-contained HTML page (inline CSS and SVG,
no script, no network). Counts and rates only: no ID number or name can appear in it."""

from __future__ import annotations

from html import escape

import pandas as pd

from quality.report_html import STYLE, _table, line_chart
from schemas.codes import code_table

FLAGGED = ("late", "missing", "unreachable")
TOTALS = ("persons", "runs", "rows_read", "rows_quarantined", "rows_loaded")
BANDS = ("0-30d", "31-90d", "91-365d", ">365d", "unknown")


class ProgressError(ValueError):
    """No figures for the month asked (the national tier did not run in it)."""


def _by(rows: pd.DataFrame, measure: str) -> dict[str, float]:
    chosen = rows[rows["measure"] == measure]
    return {str(i): float(v) for i, v in zip(chosen["item"], chosen["value"], strict=True)}


def _text(rows: pd.DataFrame, measure: str) -> str | None:
    chosen = rows.loc[rows["measure"] == measure, "text"]
    return None if chosen.empty or pd.isna(chosen.iloc[0]) else str(chosen.iloc[0])


def _province(province: str, rows: pd.DataFrame) -> dict:
    totals = {m: int(_by(rows, m).get("", 0)) for m in TOTALS}
    rates = _by(rows, "quarantine_rate")
    return {"province": province, "status": _text(rows, "status"),
            "last_load": _text(rows, "last_load"), **totals,
            "quarantine_rate": round(totals["rows_quarantined"] / totals["rows_read"], 6)
            if totals["rows_read"] else 0.0,
            "quarantine_by_rule": dict(sorted(rates.items())),
            "coverage": {k: int(v) for k, v in sorted(_by(rows, "coverage").items())},
            "open_cases": {k: int(v) for k, v in _by(rows, "open_cases").items()},
            "national_cases": {k: int(v) for k, v in sorted(_by(rows, "national_cases").items())}}


def progress_data(stored: pd.DataFrame, month: str) -> dict:
    """The report of `month` from the stored figures of every month (for the trends)."""
    this = stored[stored["month"] == month]
    if this.empty:
        known = ", ".join(sorted(set(stored["month"]))) or "none"
        raise ProgressError(f"no progress figures for {month}: the national tier did not run "
                            f"in that month (months with figures: {known})")
    provinces = [_province(p, rows) for p, rows in this.groupby("province", sort=True)]
    months = []
    for m, rows in stored.groupby("month", sort=True):
        persons = rows[(rows["measure"] == "persons")]["value"].sum()
        loaded = rows[(rows["measure"] == "rows_loaded")]["value"].sum()
        ok = int(((rows["measure"] == "status") & (rows["text"] == "ok")).sum())
        months.append({"month": m, "persons": int(persons), "rows_loaded": int(loaded),
                       "provinces_ok": ok})
    return {"scope": {"month": month, "provinces": [p["province"] for p in provinces]},
            "provinces": provinces,
            "flagged": [{"province": p["province"], "status": p["status"],
                         "last_load": p["last_load"]} for p in provinces
                        if p["status"] in FLAGGED],
            "months": months}


def _grid(provinces: list[dict], key: str, columns: list[str], labels: dict[str, str],
          percent: bool = False) -> str:
    if not columns:
        return "<p class=muted>— none —</p>"
    rows = [[escape(p["province"]), *((f"{p[key].get(c, 0):.2%}" if percent
                                       else int(p[key].get(c, 0))) for c in columns)]
            for p in provinces]
    headers = ["省份 province", *(f"{c} {labels.get(c, '')}".strip() for c in columns)]
    return _table(headers, rows, set() if percent else set(range(1, len(columns) + 1)))


def progress_html(data: dict) -> str:
    """The report as one HTML page (Chinese first, English second)."""
    month, provinces = data["scope"]["month"], data["provinces"]
    status_zh = {"ok": "按时", "late": "迟报", "missing": "未报", "unreachable": "无法读取"}
    summary = _table(
        ["省份 province", "状态 status", "最近入库 last load", "人数 persons", "运行 runs",
         "读取 rows read", "入库 rows loaded", "隔离率 quarantine rate"],
        [[escape(p["province"]),
          f'<span class="{"bad" if p["status"] in FLAGGED else "ok"}">'
          f'{escape(status_zh.get(p["status"] or "", ""))} {escape(p["status"] or "")}</span>',
          escape(p["last_load"] or "—"), p["persons"], p["runs"], p["rows_read"],
          p["rows_loaded"], f'{p["quarantine_rate"]:.2%}'] for p in provinces],
        {3, 4, 5, 6})
    schemes = sorted({s for p in provinces for s in p["coverage"]})
    rules = sorted({r for p in provinces for r in p["quarantine_by_rule"]})
    kinds = sorted({k for p in provinces for k in p["national_cases"]})
    bands = [b for b in BANDS if any(b in p["open_cases"] for p in provinces)]
    flagged = "".join(f"<li class=bad>{escape(f['province'])}: {escape(f['status'])} "
                      f"(last load {escape(f['last_load'] or 'never')})</li>"
                      for f in data["flagged"]) or "<li class=ok>无 none</li>"
    trend = data["months"]
    charts = (line_chart("全国人数 persons, all provinces", [m["persons"] for m in trend],
                         [m["month"] for m in trend], y_title="persons", x_title="month")
              + line_chart("入库行数 rows loaded", [m["rows_loaded"] for m in trend],
                           [m["month"] for m in trend], y_title="rows", x_title="month"))
    sections = [
        f"<h1>月调度 Monthly progress {escape(month)}</h1>",
        "<p class=muted>每省每月的调度数据，仅含计数与比率，不含身份证号或姓名。 "
        "Counts and rates per province; no ID number or name.</p>",
        f"<h2>迟报、未报的省份 Late or missing provinces</h2><ul>{flagged}</ul>",
        "<h2>各省概况 Provinces</h2>", summary,
        "<h2>参保覆盖 Coverage: persons actively enrolled per scheme</h2>",
        _grid(provinces, "coverage", schemes, code_table("scheme")),
        "<h2>按规则隔离率 Quarantine rate by rule (rows the month's runs read)</h2>",
        _grid(provinces, "quarantine_by_rule", rules, {}, percent=True),
        "<h2>待处理案件（按时长） Open review cases by age</h2>",
        _grid(provinces, "open_cases", bands, {}),
        "<h2>全国待处理案件 National cases outstanding</h2>",
        _grid(provinces, "national_cases", kinds, {}),
        f"<h2>趋势 Trends by month</h2>{charts}",
    ]
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            f"<title>月调度 {escape(month)}</title><style>{STYLE}</style></head><body>"
            + "".join(sections) + "</body></html>")
