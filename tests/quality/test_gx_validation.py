"""The GX record: every standardised row against the standard's fields and rules, so it shows
what each rule rejected; its persisted results and Data Docs carry no ID number or name, and
the Data Docs open without a network."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from quality.gx_validation import build_data_docs, data_docs_index, validate_rows
from quality.outcomes import failed_rules
from schemas.fields import SOURCE_ROW
from schemas.rules import RULES

STRING = pd.StringDtype("pyarrow")


def _rows(*changes: dict) -> pd.DataFrame:
    good = {"id_number": "310112198504095227", "name": "黄晨秀", "sex": "2", "ethnicity": "01",
            "birth_date": pd.Timestamp("1985-04-09"), "scheme": "310", "pooling_region": "440100",
            "status": "1", "pay_status": None, "employer_id": "E1", "enrolled_on": pd.NaT,
            "updated_at": pd.Timestamp("2024-01-01 10:00:00")}
    frame = pd.DataFrame([good, *({**good, **c} for c in changes)])
    for spec in SOURCE_ROW:
        if spec.kind in ("char", "varchar"):
            frame[spec.name] = frame[spec.name].astype(STRING)
    return frame


def _failures(rows: pd.DataFrame, **failing: list[bool]) -> pd.DataFrame:
    frame = pd.DataFrame({r.name: [False] * len(rows) for r in RULES}, index=rows.index)
    for rule, flags in failing.items():
        frame[rule] = flags
    return frame


def test_clean_rows_pass(tmp_path):
    rows = _rows()
    result = validate_rows(rows, _failures(rows), "medical", "run-1", tmp_path)
    assert result["success"] and result["evaluated"] > len(RULES) + 15
    assert result["unsuccessful"] == 0 and result["rules_percent"] == {}


def test_each_rule_shows_the_share_of_rows_it_rejected(tmp_path):
    rows = _rows({"id_number": None, "name": None}, {"sex": "7"}, {})
    failures = _failures(rows, id_checksum=[False, True, False, False],
                         name_missing=[False, True, False, False])
    result = validate_rows(rows, failures, "medical", "run-2", tmp_path)
    assert not result["success"]
    assert result["rules_percent"] == {"id_checksum": 25.0, "name_missing": 25.0}
    assert {"expect_column_values_to_not_be_null:id_number",
            "expect_column_values_to_be_in_set:sex",
            "expect_column_values_to_be_in_set:passes_id_checksum"} <= set(result["failed"])
    index = build_data_docs(tmp_path, "run-2")
    pages = [p.read_text("utf-8") for p in index.parent.rglob("*.html")]
    page = next(p for p in pages if "passes_id_checksum" in p)
    assert "25" in page and "rule id_checksum" in page  # the rule, with its percentage
    written = "".join(p.read_text("utf-8", errors="ignore")
                      for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (
                          ".json", ".html"))
    assert "310112198504095227" not in written and "黄晨秀" not in written


def test_data_docs_load_nothing_from_the_network(tmp_path):
    rows = _rows({"sex": "7"})
    validate_rows(rows, failed_rules_like(rows), "pension", "run-3", tmp_path)
    site = build_data_docs(tmp_path, "run-3").parent
    for page in site.rglob("*.html"):
        text = page.read_text("utf-8")
        remote = re.findall(r'<(?:script|link|img)\b[^>]*(?:src|href)="(https?://[^"]+)"', text)
        assert remote == [], (page.name, remote)
        vendored = re.findall(r'<(?:script|link)\b[^>]*(?:src|href)="([^"]*/vendor/[^"]+)"', text)
        assert any(v.endswith("jquery.min.js") for v in vendored)
        for local in vendored:
            assert (page.parent / local).resolve().exists(), (page.name, local)
    assert data_docs_index(tmp_path) == site / "index.html"


def failed_rules_like(rows: pd.DataFrame) -> pd.DataFrame:
    """Rule outcomes the way the stage computes them (for the columns the rules read)."""
    frame = rows.assign(_source_key="k", _watermark="2024-01-01 00:00:00", _extract_rule=pd.NA,
                        id_raw=rows["id_number"], id_rule=pd.NA, name_raw=rows["name"],
                        cert_type=pd.NA, enrolled_on_raw=pd.NA)
    return failed_rules(frame)


def test_a_source_is_validated_once_in_parts_and_each_rule_shows_its_share(small_estate,
                                                                           tmp_path,
                                                                           monkeypatch):
    """GX runs off the stage, over the rows the stage kept for it, a part at a time: the parts
    together show each rule's share of all the source's rows, as the stage counted them."""
    from jinbao import validate
    from jinbao.stage import stage_source
    from tests.conftest import fresh_config

    cfg = fresh_config(small_estate, tmp_path)
    manifest = stage_source(cfg, "run-parts", "medical")
    monkeypatch.setattr(validate, "GX_ROWS", 100)
    result = validate.validate_source(cfg, "run-parts", "medical")
    assert result["rows"] == manifest["extracted"] > 100
    assert result["batches"] == -(-manifest["extracted"] // 100)
    shares = {rule: round(100 * n / manifest["extracted"], 4)
              for rule, n in manifest["rules"].items()}
    assert result["rules_percent"].keys() == shares.keys() and shares
    assert all(abs(result["rules_percent"][r] - shares[r]) < 1e-3 for r in shares)
    assert not result["success"]
    again = validate.validations(cfg, "run-parts", ["medical"])["medical"]
    assert again == result  # kept, not validated twice


@pytest.mark.parametrize("cut", ["half", "empty"])
@pytest.mark.parametrize("written", ["great_expectations.yml", "expectations/jinbao_source_row.json",
                                     "validation_definitions/medical_standardized.json"])
def test_a_project_file_cut_short_by_a_kill_is_written_again(tmp_path, written, cut):
    """kill -9 while GX writes its settings, suite or a validation definition leaves the file
    cut short, and GX then failed on it in every later run: the next run recovers."""
    from quality import gx_validation

    rows = _rows()
    validate_rows(rows, _failures(rows), "medical", "run-1", tmp_path, ("medical", "pension"))
    path = tmp_path / "gx" / written
    text = path.read_text("utf-8")
    path.write_text(text[:len(text) // 2] if cut == "half" else "", "utf-8")
    gx_validation._CONTEXTS.clear()  # what a new process has
    for source in ("medical", "pension"):  # the damaged one and another
        result = validate_rows(rows, _failures(rows), source, "run-2", tmp_path,
                               ("medical", "pension"))
        assert result["success"] and result["unsuccessful"] == 0
    gx_validation._CONTEXTS.clear()
    assert validate_rows(rows, _failures(rows), "medical", "run-3", tmp_path)["success"]
    assert build_data_docs(tmp_path, "run-3").exists()


def test_validation_runs_where_main_has_no_file(tmp_path):
    """`python -c` (or a pytest-xdist worker): PySpark, which GX imports when installed, ends
    such a process with status 0 as it loads Spark Connect; the validation still runs."""
    import subprocess
    import sys

    code = ("from pathlib import Path; import pandas as pd;"
            "from tests.quality.test_gx_validation import _rows, _failures;"
            "from quality.gx_validation import validate_rows;"
            "rows = _rows();"
            f"r = validate_rows(rows, _failures(rows), 'medical', 'run-c', Path({str(tmp_path)!r}));"
            "print('validated', r['success'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).resolve().parents[2])
    assert "validated True" in done.stdout, done.stderr[-2000:]
