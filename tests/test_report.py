"""The auditors' report: its figures are the warehouse's own counts, and it shows no personal
data."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zlib

import pandas as pd
import pytest
from sqlalchemy import text

from jinbao.cli import main
from jinbao.reports import write_report
from jinbao.runner import run_pipeline
from loaders.warehouse import warehouse_engine
from tests.conftest import fresh_config, written_config


@pytest.fixture(scope="module")
def reported(estate_2000, tmp_path_factory):
    work = tmp_path_factory.mktemp("report")
    cfg = fresh_config(estate_2000, work / "wh")
    summary = run_pipeline(cfg)
    page = write_report(cfg, work / "report")
    data = json.loads((work / "report" / "report.json").read_text("utf-8"))
    return cfg, summary, page, data, warehouse_engine(cfg.warehouse_url)


def _scalar(engine, sql: str, **params) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def test_figures_are_the_warehouse_counts(reported):
    _, summary, _, data, engine = reported
    assert data["scope"]["runs"] == [summary.run_id]
    total = data["ledger"]["total"]
    for column in ("extracted", "accepted", "quarantined"):
        assert total[column] == _scalar(
            engine, f"SELECT sum({column}) FROM run_ledger WHERE run_id = :r", r=summary.run_id)
    assert total["balances"] and total["extracted"] == total["accepted"] + total["quarantined"]
    for rule in data["quarantine"]:
        assert rule["rows"] == _scalar(engine, "SELECT count(*) FROM quarantine WHERE rule = :r "
                                               "AND run_id = :run", r=rule["rule"],
                                       run=summary.run_id)
    assert data["merges"]["persons"] == _scalar(engine, "SELECT count(*) FROM person")
    assert data["merges"]["rows"] == _scalar(
        engine, "SELECT count(*) FROM source_record WHERE outcome = 'accepted'")
    for kind, counts in data["cases"].items():
        assert counts["open"] == _scalar(engine, "SELECT count(*) FROM review_case WHERE kind = :k "
                                                 "AND status = 'open'", k=kind)
    for scheme in data["coverage"]:
        assert scheme["persons"] == _scalar(
            engine, "SELECT count(DISTINCT id_number) FROM enrollment WHERE scheme = :s AND "
                    "status = '1'", s=scheme["scheme"])
    assert data["trends"][-1]["run_id"] == summary.run_id
    # a first run: every row is new
    assert total["new"] == total["extracted"] and total["changed"] == total["unchanged"] == 0


def test_rules_repairs_regions_and_months_are_the_warehouse_counts(reported):
    _, summary, _, data, engine = reported
    for rule, by_source in data["rules_by_source"].items():
        for source, rows in by_source.items():
            assert rows == _scalar(engine, "SELECT count(*) FROM quarantine WHERE rule = :r AND "
                                           "source_system = :s", r=rule, s=source)
    assert data["repairs_by_source"], "the estate's numbers need repairs"
    for repair, by_source in data["repairs_by_source"].items():
        for source, rows in by_source.items():
            assert rows == _scalar(engine, "SELECT count(*) FROM source_record WHERE outcome = "
                                           "'accepted' AND source_system = :s AND ',' || "
                                           "id_repairs || ',' LIKE :p", s=source,
                                   p=f"%,{repair},%")
    regions = data["regions"]
    assert sum(r["extracted"] for r in regions) == data["ledger"]["total"]["extracted"]
    for r in regions:
        if r["pooling_region"]:
            assert r["extracted"] == _scalar(engine, "SELECT count(*) FROM source_record WHERE "
                                                     "pooling_region = :p", p=r["pooling_region"])
    assert [m["month"] for m in data["months"]] == [
        _scalar(engine, "SELECT substr(max(finished_at), 1, 7) FROM run_ledger")]
    assert data["months"][0]["extracted"] == data["ledger"]["total"]["extracted"]


def test_every_section_keeps_to_the_province(reported, tmp_path):
    cfg, summary, _, data, engine = reported
    from quality.report import report_data

    guangdong = report_data(engine, summary.run_id, province="44")
    invalid = sum(r["extracted"] for r in data["regions"] if not r["pooling_region"])
    assert guangdong["ledger"]["total"]["extracted"] == data["ledger"]["total"]["extracted"] - invalid
    assert all(r["pooling_region"].startswith("44") for r in guangdong["regions"])
    assert guangdong["merges"]["rows"] == _scalar(
        engine, "SELECT count(*) FROM source_record WHERE outcome = 'accepted' AND "
                "pooling_region LIKE '44%'")
    beijing = report_data(engine, summary.run_id, province="11")  # none of the estate's cities
    assert beijing["ledger"]["total"]["extracted"] == 0 and beijing["ledger"]["sources"] == []
    assert beijing["rules_by_source"] == beijing["repairs_by_source"] == {}
    assert beijing["regions"] == [] and beijing["quarantine"] == []
    assert beijing["merges"]["rows"] == 0 and beijing["coverage"] == [] and beijing["cases"] == {}
    assert all(t["extracted"] == 0 for t in beijing["trends"])
    assert beijing["scope"]["province_name"] == "北京市"


def test_the_page_speaks_chinese_first_and_draws_axes(reported):
    _, _, page, _, _ = reported
    html = page.read_text("utf-8")
    for label in ("每一行来源数据都有去处 Every source row accounted for", "规则 × 来源",
                  "修复后接收的身份证号", "按统筹区", "按月", "新增 new"):
        assert label in html
    assert 'lang=zh-CN' in html
    waterfalls = html.count('class="chart waterfall"')
    charts = html.count("<svg") - waterfalls
    assert charts >= 6 and html.count('transform="rotate(-90') == charts  # every y axis titled


def test_a_doubtful_cases_weights_are_drawn_as_a_waterfall(reported):
    _, _, page, data, engine = reported
    html = page.read_text("utf-8")
    drawn = data["linkage"]
    assert drawn and html.count('class="chart waterfall"') == len(drawn)
    lowest = _scalar(engine, "SELECT min(score) FROM review_case WHERE kind = "
                             "'suspected_duplicate' AND status = 'open'")
    assert min(case["weight"] for case in drawn) == pytest.approx(lowest)  # most doubtful first
    for case in drawn:
        steps = case["prior"] + sum(c["weight"] for c in case["comparisons"])
        assert steps == pytest.approx(case["weight"], abs=0.05)  # the bars add up to the total
        assert case["case_id"] in html and f"{case['weight']:+.2f}" in html


def test_the_report_shows_no_personal_data(reported, estate_2000):
    _, _, page, _, engine = reported
    truth = pd.read_csv(estate_2000 / "truth.csv", dtype=str, keep_default_na=False)
    with engine.connect() as conn:
        names = set(pd.read_sql("SELECT name FROM source_record WHERE name IS NOT NULL",
                                conn)["name"])
    for path in (page, page.with_suffix(".json")):
        written = path.read_text("utf-8")
        assert not [n for n in set(truth["person_key"]) if n in written], path.name
        assert not [n for n in names if len(n) > 1 and n in written], path.name
        assert not re.search(r"\d{15}", written), path.name  # nothing like a number, damaged or not
    assert "<script" not in page.read_text("utf-8")


def test_scopes_and_mistakes(reported, tmp_path, capsys):
    cfg, summary, _, _, _ = reported
    config = written_config(cfg, tmp_path / "jinbao.toml")
    assert main(["report", "--config", str(config), "--out", str(tmp_path / "r"),
                 "--run", summary.run_id, "--province", "44"]) == 0
    assert main(["report", "--config", str(config), "--out", str(tmp_path / "r"),
                 "--month", "1999-01"]) == 2
    assert main(["report", "--config", str(config), "--out", str(tmp_path / "r"),
                 "--run", "run-nope"]) == 2
    assert "no run" in capsys.readouterr().err


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _png_colours(path) -> int:
    """Distinct byte values in a PNG's pixel data (a blank page has a handful)."""
    data, pos, pixels = path.read_bytes(), 8, b""
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        if kind == b"IDAT":
            pixels += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    return len(set(zlib.decompress(pixels)))


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_the_report_renders_in_headless_chromium(reported, tmp_path):
    _, _, page, _, _ = reported
    shot = tmp_path / "report.png"
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--enable-logging=stderr", "--v=0",
         f"--screenshot={shot}", "--window-size=1200,1800", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    assert shot.exists() and _png_colours(shot) > 32  # text, tables and charts, not blank


OFFLINE = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", "--disable-sync",
           "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
           "--virtual-time-budget=5000"]


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_data_docs_render_with_the_network_off(reported, tmp_path):
    """The index builds its table in JavaScript (bootstrap-table over jQuery): with the CDNs out
    of reach it is blank unless the site serves them itself."""
    cfg, summary, _, _, _ = reported
    from quality.gx_validation import data_docs_index

    index = data_docs_index(cfg.gx_root)
    done = subprocess.run([CHROMIUM, *OFFLINE, f"--user-data-dir={tmp_path / 'profile'}",
                           "--dump-dom", index.as_uri()], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = re.findall(r"<tr[^>]*data-index", done.stdout)  # rows bootstrap-table rendered
    assert len(rows) >= 5, "the index table did not render offline"
    assert summary.run_id in done.stdout
    page = next(index.parent.glob(f"validations/*/{summary.run_id}/*/jinbao-pension.html"))
    shown = subprocess.run([CHROMIUM, *OFFLINE, f"--user-data-dir={tmp_path / 'profile2'}",
                            "--dump-dom", page.as_uri()], capture_output=True, text=True,
                           timeout=120).stdout
    assert "passes_id_checksum" in shown and "rule id_checksum" in shown
    assert re.search(r"\d+(\.\d+)?% unexpected", shown), "no rule shows its percentage"
