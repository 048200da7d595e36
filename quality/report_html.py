"""The auditors' report as one self-contained HTML page: inline CSS and SVG charts, no script,
no network. Every value is escaped: source keys and details are data, never markup."""

from __future__ import annotations

from html import escape

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1d2433}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccd}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .6rem;border:1px solid #dde}
th{background:#f3f4f8;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#177245;font-weight:600}.bad{color:#b3261e;font-weight:600}
.muted{color:#667}.chart{margin:.5rem 1.5rem .5rem 0;display:inline-block}
"""


def _n(value) -> str:
    return f"{value:,}" if isinstance(value, int) else escape(str(value))


def _table(headers: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(
        f'<td class="n">{_n(v)}</td>' if i in numeric else f"<td>{v}</td>"
        for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _line_chart(title: str, values: list[float], labels: list[str], percent: bool = False
                ) -> str:
    """A small SVG line chart of one series over runs."""
    width, height, pad = 360, 140, 28
    top = max(values) if values and max(values) > 0 else 1.0
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    points = [(pad + i * step, height - pad - (v / top) * (height - 2 * pad))
              for i, v in enumerate(values)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    shown = f"{top:.1%}" if percent else f"{top:,.0f}"
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#3451b2">'
                   f"<title>{escape(label)}: {v:.2%}</title></circle>" if percent else
                   f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#3451b2">'
                   f"<title>{escape(label)}: {v:,.0f}</title></circle>"
                   for (x, y), v, label in zip(points, values, labels, strict=True))
    return (f'<figure class="chart"><svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" role="img" aria-label="{escape(title)}">'
            f'<rect width="{width}" height="{height}" fill="#fafbfd" stroke="#dde"/>'
            f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
            f'stroke="#99a"/><text x="{pad}" y="16" font-size="11" fill="#556">max {shown}</text>'
            f'<polyline fill="none" stroke="#3451b2" stroke-width="2" points="{path}"/>{dots}'
            f"</svg><figcaption>{escape(title)}</figcaption></figure>")


def report_html(data: dict, data_docs: dict | None = None) -> str:
    """The page for `data` (quality.report.report_data); `data_docs`: links relative to the page,
    {"index": href, "runs": {run_id: [(source, href), ...]}}."""
    scope = data["scope"]
    ledger = data["ledger"]
    total = ledger["total"]
    balance = ('<span class="ok">balances</span>' if total["balances"]
               else '<span class="bad">DOES NOT BALANCE</span>')
    parts = [f"<h1>jinbao quality report</h1><p class=muted>runs {escape(', '.join(scope['runs']))}"
             f"{' · month ' + escape(scope['month']) if scope['month'] else ''}"
             f"{' · province ' + escape(scope['province']) if scope['province'] else ''}"
             f" · generated {escape(scope['generated_at'])}</p>"]
    parts.append("<h2>Every source row accounted for</h2>"
                 f"<p>extracted {total['extracted']:,} = accepted {total['accepted']:,} + "
                 f"quarantined {total['quarantined']:,}: {balance}</p>")
    parts.append(_table(["source", "extracted", "accepted", "quarantined", "balances"], [
        [escape(s["source_name"]), s["extracted"], s["accepted"], s["quarantined"],
         '<span class="ok">yes</span>' if s["balances"] else '<span class="bad">no</span>']
        for s in ledger["sources"]], {1, 2, 3}))
    parts.append("<h2>Quarantine by rule</h2><p class=muted>a row may break several rules; "
                 "examples show numbers masked</p>")
    parts.append(_table(["rule", "rows", "examples"], [
        [escape(r["rule"]), r["rows"], "<br>".join(
            f"{escape(e['source'])}: {escape(e['detail'] or '')}" for e in r["examples"])]
        for r in data["quarantine"]], {1}))
    merges = data["merges"]
    parts.append("<h2>Merges: source rows into persons</h2>"
                 f"<p>{merges['rows']:,} accepted rows form {merges['persons']:,} persons; "
                 f"{merges['persons_from_several_rows']:,} persons from several rows, "
                 f"{merges['persons_across_systems']:,} across systems.</p>")
    parts.append(_table(["system", "rows", "persons", "persons with several files (一人多档)"], [
        [escape(s["source_system"]), s["rows"], s["persons"], s["persons_with_several_files"]]
        for s in merges["by_system"]], {1, 2, 3}))
    parts.append("<h2>Waiting for a human: review cases</h2>")
    parts.append(_table(["kind", "open", "resolved", "withdrawn"], [
        [escape(kind), c["open"], c["resolved"], c["withdrawn"]]
        for kind, c in data["cases"].items()], {1, 2, 3}))
    parts.append("<h2>Coverage: persons actively enrolled per scheme</h2>")
    parts.append(_table(["scheme", "", "persons", "share"], [
        [escape(c["scheme"]), escape(c["label"]), c["persons"], f"{c['share']:.1%}"]
        for c in data["coverage"]], {2, 3}))
    trends = data["trends"]
    labels = [t["run_id"] for t in trends]
    parts.append("<h2>Trends over runs</h2>")
    parts.append(_line_chart("rows read per run", [t["extracted"] for t in trends], labels))
    parts.append(_line_chart("rejection rate per run", [t["rejection_rate"] for t in trends],
                             labels, percent=True))
    parts.append(_line_chart("review cases opened per run", [t["cases_opened"] for t in trends],
                             labels))
    rules = sorted({r for t in trends for r in t["rule_rates"]})
    for rule in rules:
        parts.append(_line_chart(f"rejection rate: {rule}",
                                 [t["rule_rates"].get(rule, 0.0) for t in trends], labels,
                                 percent=True))
    if data_docs:
        parts.append(f'<h2>Validation record</h2><p><a href="{escape(data_docs["index"])}">'
                     "Great Expectations Data Docs</a> (every run's validations).</p>")
        for run, pages in data_docs["runs"].items():
            links = ", ".join(f'<a href="{escape(href)}">{escape(name)}</a>'
                              for name, href in pages) or "no validation (nothing accepted)"
            parts.append(f"<p>{escape(run)}: {links}</p>")
    return ("<!doctype html><html lang=zh><head><meta charset=utf-8>"
            "<title>jinbao quality report</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
