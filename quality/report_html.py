"""The auditors' report as one self-contained HTML page: inline CSS and SVG charts, no script,
no network; labels in Chinese first, English second. Every value is escaped: source keys and
details are data, never markup."""

from __future__ import annotations

from html import escape

STYLE = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC",system-ui,sans-serif;margin:2rem auto;
max-width:76rem;color:#1d2433}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccd}
h2 small{font-weight:normal;color:#667;font-size:.85rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .6rem;border:1px solid #dde}
th{background:#f3f4f8;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#177245;font-weight:600}.bad{color:#b3261e;font-weight:600}
.muted{color:#667}.chart{margin:.5rem 1.5rem .5rem 0;display:inline-block}
"""

# (中文, English) per label; sections read "中文 English"
LABELS = {
    "title": ("金保数据质量报告", "jinbao quality report"),
    "ledger": ("每一行来源数据都有去处", "Every source row accounted for"),
    "quarantine": ("按规则隔离", "Quarantine by rule"),
    "matrix": ("规则 × 来源", "Rules by source"),
    "repairs": ("修复后接收的身份证号", "ID numbers accepted after a repair"),
    "regions": ("按统筹区", "By pooling region"),
    "months": ("按月", "By month"),
    "merges": ("合并：来源行归入人员", "Merges: source rows into persons"),
    "cases": ("待人工处理的案件", "Waiting for a human: review cases"),
    "coverage": ("参保覆盖", "Coverage: persons actively enrolled per scheme"),
    "trends": ("各次运行趋势", "Trends over runs"),
    "linkage": ("疑似重复：匹配证据", "Suspected duplicates: the weight of each comparison"),
    "docs": ("校验记录", "Validation record"),
    "source": ("来源", "source"), "extracted": ("读取", "extracted"),
    "accepted": ("接收", "accepted"), "quarantined": ("隔离", "quarantined"),
    "new": ("新增", "new"), "changed": ("变更", "changed"), "unchanged": ("未变", "unchanged"),
    "balances": ("平衡", "balances"), "rule": ("规则", "rule"), "rows": ("行数", "rows"),
    "examples": ("示例（已脱敏）", "examples (masked)"), "repair": ("修复", "repair"),
    "region": ("统筹区", "pooling region"), "name": ("名称", "name"),
    "rate": ("隔离率", "rejection rate"), "month": ("月份", "month"), "runs": ("运行次数", "runs"),
    "system": ("系统", "system"), "persons": ("人数", "persons"),
    "several": ("一人多档", "persons with several files"), "kind": ("类型", "kind"),
    "open": ("待处理", "open"), "resolved": ("已决定", "resolved"),
    "withdrawn": ("已撤销", "withdrawn"), "scheme": ("险种", "scheme"), "share": ("占比", "share"),
    "total": ("合计", "total"),
}
REPAIRS = {"fullwidth": "全角数字 full-width digits", "whitespace": "空格 spaces",
           "lowercase_x": "小写x lower-case x", "trailing_junk": "尾部杂字符 trailing junk",
           "upgraded_15": "15位升18位 15-digit form upgraded"}


def _l(key: str) -> str:
    zh, en = LABELS[key]
    return f"{zh} {en}"


def _h2(key: str, scope: str) -> str:
    return f"<h2>{escape(_l(key))} <small>{escape(scope)}</small></h2>"


def _n(value) -> str:
    return f"{value:,}" if isinstance(value, int) else escape(str(value))


def _table(headers: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(
        f'<td class="n">{_n(v)}</td>' if i in numeric else f"<td>{v}</td>"
        for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _matrix(matrix: dict[str, dict[str, int]], first: str, names: dict[str, str] | None = None
            ) -> str:
    sources = sorted({s for by_source in matrix.values() for s in by_source})
    rows = [[escape((names or {}).get(item, item)), *(by_source.get(s, 0) for s in sources),
             sum(by_source.values())] for item, by_source in matrix.items()]
    numeric = set(range(1, len(sources) + 2))
    return _table([first, *sources, _l("total")], rows, numeric) if rows else \
        "<p class=muted>— none —</p>"


def _ticks(top: float, percent: bool) -> list[tuple[float, str]]:
    return [(v, f"{v:.1%}" if percent else f"{v:,.0f}") for v in (0.0, top / 2, top)]


def line_chart(title: str, values: list[float], labels: list[str], percent: bool = False,
               y_title: str = "", x_title: str = "") -> str:
    """An SVG line chart of one series, with a y axis (ticks at 0, half and the maximum, and
    its title) and an x axis labelled with the first, middle and last labels (dates)."""
    width, height, left, right, top_pad, bottom = 420, 190, 64, 16, 22, 44
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    top = max(values) if values and max(values) > 0 else 1.0
    step = plot_w / max(len(values) - 1, 1)
    points = [(left + i * step, top_pad + plot_h - (v / top) * plot_h)
              for i, v in enumerate(values)]
    parts = [f'<rect width="{width}" height="{height}" fill="#fafbfd" stroke="#dde"/>',
             f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + plot_h}" stroke="#99a"/>',
             f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}" '
             f'y2="{top_pad + plot_h}" stroke="#99a"/>']
    for value, text in _ticks(top, percent):
        y = top_pad + plot_h - (value / top) * plot_h
        parts.append(f'<line x1="{left - 4}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
                     f'stroke="#e4e6ee"/><text x="{left - 6}" y="{y + 4:.1f}" font-size="10" '
                     f'text-anchor="end" fill="#556">{escape(text)}</text>')
    shown = sorted({0, len(labels) // 2, len(labels) - 1}) if labels else []
    for i in shown:
        x = left + i * step
        anchor = "start" if i == 0 and len(labels) > 1 else "end" if i == len(labels) - 1 \
            and len(labels) > 1 else "middle"
        parts.append(f'<line x1="{x:.1f}" y1="{top_pad + plot_h}" x2="{x:.1f}" '
                     f'y2="{top_pad + plot_h + 4}" stroke="#99a"/><text x="{x:.1f}" '
                     f'y="{top_pad + plot_h + 16}" font-size="10" text-anchor="{anchor}" '
                     f'fill="#556">{escape(labels[i])}</text>')
    if y_title:
        parts.append(f'<text x="12" y="{top_pad + plot_h / 2:.1f}" font-size="10" fill="#556" '
                     f'transform="rotate(-90 12 {top_pad + plot_h / 2:.1f})" '
                     f'text-anchor="middle">{escape(y_title)}</text>')
    if x_title:
        parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" font-size="10" '
                     f'fill="#556" text-anchor="middle">{escape(x_title)}</text>')
    if points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline fill="none" stroke="#3451b2" stroke-width="2" points="{path}"/>')
        shown_value = (lambda v: f"{v:.2%}") if percent else (lambda v: f"{v:,.0f}")
        parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#3451b2"><title>'
                     f"{escape(label)}: {shown_value(v)}</title></circle>"
                     for (x, y), v, label in zip(points, values, labels, strict=True))
    return (f'<figure class="chart"><svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" role="img" aria-label="{escape(title)}">{"".join(parts)}'
            f"</svg><figcaption>{escape(title)}</figcaption></figure>")


def waterfall(case: dict) -> str:
    """An SVG waterfall of one link's match weight: the prior, then each comparison's weight
    as a step up (agrees) or down (disagrees), ending at the total, with the probability."""
    steps = [("prior 先验", case["prior"])] + [
        (f"{c['comparison']}: {c['level']}", c["weight"]) for c in case["comparisons"]]
    width, row, left, label_w = 640, 20, 300, 290
    height = row * (len(steps) + 1) + 40
    ends = [0.0]
    for _, weight in steps:
        ends.append(ends[-1] + weight)
    low, high = min(ends + [0.0]), max(ends + [0.0])
    span = max(high - low, 1.0)
    scale = (width - left - 20) / span

    def x(value: float) -> float:
        return left + (value - low) * scale

    parts = [f'<rect width="{width}" height="{height}" fill="#fafbfd" stroke="#dde"/>',
             f'<line x1="{x(0):.1f}" y1="8" x2="{x(0):.1f}" y2="{height - 24}" stroke="#99a" '
             'stroke-dasharray="3,3"/>']
    for i, (label, weight) in enumerate(steps):
        y = 10 + i * row
        start, end = ends[i], ends[i + 1]
        colour = "#2e7d4f" if weight >= 0 else "#b23a3a"
        parts.append(f'<text x="{label_w}" y="{y + 13}" font-size="10" text-anchor="end" '
                     f'fill="#334">{escape(label[:48])}</text>'
                     f'<rect x="{min(x(start), x(end)):.1f}" y="{y + 2}" '
                     f'width="{max(abs(x(end) - x(start)), 1):.1f}" height="{row - 5}" '
                     f'fill="{colour}"><title>{escape(label)}: {weight:+.2f}</title></rect>'
                     f'<text x="{max(x(start), x(end)) + 4:.1f}" y="{y + 13}" font-size="9" '
                     f'fill="#556">{weight:+.2f}</text>')
    y = 10 + len(steps) * row
    parts.append(f'<text x="{label_w}" y="{y + 13}" font-size="10" text-anchor="end" '
                 f'font-weight="bold" fill="#334">匹配权重 match weight</text>'
                 f'<rect x="{min(x(0), x(ends[-1])):.1f}" y="{y + 2}" '
                 f'width="{max(abs(x(ends[-1]) - x(0)), 1):.1f}" height="{row - 5}" '
                 f'fill="#3451b2"/><text x="{max(x(0), x(ends[-1])) + 4:.1f}" y="{y + 13}" '
                 f'font-size="9" fill="#556">{case["weight"]:+.2f}</text>')
    parts.append(f'<text x="{left}" y="{height - 8}" font-size="10" fill="#556">'
                 f'log2 几率 odds · 概率 probability {case["probability"]:.4f} '
                 f'(阈值 threshold {case["threshold"]})</text>')
    title = f"{case['case_id']} ({case['entities']} entities, model v{case['model']})"
    return (f'<figure class="chart waterfall"><svg xmlns="http://www.w3.org/2000/svg" '
            f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">'
            f'{"".join(parts)}</svg><figcaption>{escape(title)}</figcaption></figure>')


def report_html(data: dict, data_docs: dict | None = None) -> str:
    """The page for `data` (quality.report.report_data); `data_docs`: links relative to the page,
    {"index": href, "runs": {run_id: [(source, href), ...]}}."""
    scope = data["scope"]
    runs_scope = "（所选运行 the runs in scope）"
    now_scope = "（仓库当前 the warehouse now）"
    if scope["province"]:
        where = f"{scope['province']} {scope.get('province_name', '')}".strip()
        runs_scope = f"（所选运行，{where} the runs in scope, {where}）"
        now_scope = f"（仓库当前，{where} the warehouse now, {where}）"
    ledger = data["ledger"]
    total = ledger["total"]
    balance = ('<span class="ok">平衡 balances</span>' if total["balances"]
               else '<span class="bad">不平衡 DOES NOT BALANCE</span>')
    parts = [f"<h1>{escape(_l('title'))}</h1><p class=muted>运行 runs "
             f"{escape(', '.join(scope['runs']))}"
             f"{' · 月份 month ' + escape(scope['month']) if scope['month'] else ''}"
             f"{' · 省 province ' + escape(scope['province']) if scope['province'] else ''}"
             f" · 生成于 generated {escape(scope['generated_at'])}</p>"]
    parts.append(_h2("ledger", runs_scope))
    parts.append(f"<p>读取 extracted {total['extracted']:,} = 接收 accepted {total['accepted']:,} + "
                 f"隔离 quarantined {total['quarantined']:,}: {balance}; 新增 new {total['new']:,}, "
                 f"变更 changed {total['changed']:,}, 未变 unchanged {total['unchanged']:,}</p>")
    parts.append(_table([_l(k) for k in ("source", "extracted", "accepted", "quarantined", "new",
                                         "changed", "unchanged", "balances")], [
        [escape(s["source_name"]), s["extracted"], s["accepted"], s["quarantined"], s["new"],
         s["changed"], s["unchanged"],
         '<span class="ok">是 yes</span>' if s["balances"] else '<span class="bad">否 no</span>']
        for s in ledger["sources"]], {1, 2, 3, 4, 5, 6}))
    parts.append(_h2("quarantine", runs_scope) + "<p class=muted>一行可能违反多条规则 a row may "
                 "break several rules; 示例中的号码已脱敏 examples show numbers masked</p>")
    parts.append(_table([_l("rule"), _l("rows"), _l("examples")], [
        [escape(r["rule"]), r["rows"], "<br>".join(
            f"{escape(e['source'])}: {escape(e['detail'] or '')}" for e in r["examples"])]
        for r in data["quarantine"]], {1}))
    parts.append(_h2("matrix", runs_scope) + _matrix(data["rules_by_source"], _l("rule")))
    parts.append(_h2("repairs", runs_scope) + "<p class=muted>接收的行中其号码经过该修复 rows "
                 "accepted whose number needed this repair</p>"
                 + _matrix(data["repairs_by_source"], _l("repair"), REPAIRS))
    parts.append(_h2("regions", runs_scope))
    parts.append(_table([_l(k) for k in ("region", "name", "extracted", "accepted", "quarantined",
                                         "rate")], [
        [escape(r["pooling_region"] or "—"), escape(r["name"]), r["extracted"], r["accepted"],
         r["quarantined"], f"{r['rejection_rate']:.2%}"] for r in data["regions"]], {2, 3, 4, 5}))
    months = data["months"]
    parts.append(_h2("months", "（所有运行 every run" + (f"，{scope['province']}" if scope["province"]
                                                       else "") + "）"))
    parts.append(_table([_l(k) for k in ("month", "runs", "extracted", "quarantined", "rate", "new",
                                         "changed")], [
        [escape(m["month"]), m["runs"], m["extracted"], m["quarantined"],
         f"{m['rejection_rate']:.2%}", m["new"], m["changed"]] for m in months],
        {1, 2, 3, 4, 5, 6}))
    month_labels = [m["month"] for m in months]
    parts.append(line_chart("每月读取行数 rows read per month", [m["extracted"] for m in months],
                            month_labels, y_title="行 rows", x_title="月份 month"))
    parts.append(line_chart("每月隔离率 rejection rate per month",
                            [m["rejection_rate"] for m in months], month_labels, percent=True,
                            y_title="隔离率 rate", x_title="月份 month"))
    merges = data["merges"]
    parts.append(_h2("merges", now_scope) +
                 f"<p>{merges['rows']:,} 接收行 accepted rows → {merges['persons']:,} 人 persons; "
                 f"{merges['persons_from_several_rows']:,} 人来自多行 persons from several rows, "
                 f"{merges['persons_across_systems']:,} 人跨系统 across systems.</p>")
    parts.append(_table([_l(k) for k in ("system", "rows", "persons", "several")], [
        [escape(s["source_system"]), s["rows"], s["persons"], s["persons_with_several_files"]]
        for s in merges["by_system"]], {1, 2, 3}))
    parts.append(_h2("cases", now_scope))
    parts.append(_table([_l(k) for k in ("kind", "open", "resolved", "withdrawn")], [
        [escape(kind), c["open"], c["resolved"], c["withdrawn"]]
        for kind, c in data["cases"].items()], {1, 2, 3}))
    if data.get("linkage"):
        parts.append(_h2("linkage", "（最存疑的待处理案件 the most doubtful open cases）"))
        parts.extend(waterfall(case) for case in data["linkage"])
    parts.append(_h2("coverage", now_scope))
    parts.append(_table([_l("scheme"), "", _l("persons"), _l("share")], [
        [escape(c["scheme"]), escape(c["label"]), c["persons"], f"{c['share']:.1%}"]
        for c in data["coverage"]], {2, 3}))
    trends = data["trends"]
    dates = [t["finished_at"][:16] for t in trends]
    parts.append(_h2("trends", "（最近运行 the latest runs）"))
    parts.append(line_chart("每次运行读取行数 rows read per run", [t["extracted"] for t in trends],
                            dates, y_title="行 rows", x_title="运行完成时间 run finished (UTC)"))
    parts.append(line_chart("每次运行隔离率 rejection rate per run",
                            [t["rejection_rate"] for t in trends], dates, percent=True,
                            y_title="隔离率 rate", x_title="运行完成时间 run finished (UTC)"))
    parts.append(line_chart("每次运行新增与变更 new + changed rows per run",
                            [t["new"] + t["changed"] for t in trends], dates, y_title="行 rows",
                            x_title="运行完成时间 run finished (UTC)"))
    parts.append(line_chart("每次运行新开案件 review cases opened per run",
                            [t["cases_opened"] for t in trends], dates, y_title="案件 cases",
                            x_title="运行完成时间 run finished (UTC)"))
    for rule in sorted({r for t in trends for r in t["rule_rates"]}):
        parts.append(line_chart(f"隔离率 rejection rate: {rule}",
                                [t["rule_rates"].get(rule, 0.0) for t in trends], dates,
                                percent=True, y_title="隔离率 rate",
                                x_title="运行完成时间 run finished (UTC)"))
    if data_docs:
        parts.append(f"<h2>{escape(_l('docs'))}</h2><p><a href=\"{escape(data_docs['index'])}\">"
                     "Great Expectations Data Docs</a>（每次运行的校验 every run's validations）</p>")
        for run, pages in data_docs["runs"].items():
            links = ", ".join(f'<a href="{escape(href)}">{escape(name)}</a>'
                              for name, href in pages) or "无校验 no validation"
            parts.append(f"<p>{escape(run)}: {links}</p>")
    return ("<!doctype html><html lang=zh-CN><head><meta charset=utf-8>"
            f"<title>{escape(_l('title'))}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
