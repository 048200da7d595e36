"""End to end in headless Chromium (Debian's, driven by Playwright): a caseworker logs in,
opens the top suspected duplicate, proposes a merge; a checker logs in and approves it; the
warehouse shows the merge. A caseworker cannot approve (their own proposal or any). Pages in
Chinese first, with nothing loaded from elsewhere and nothing the Content-Security-Policy
refuses (the browser's console stays clean)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from loaders.warehouse import warehouse_engine
from tests.conftest import written_config
from tests.service.conftest import ACCOUNTS, PASSWORD

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
JINBAO = str(Path(sys.executable).parent / "jinbao")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="needs Debian's chromium (.ci/run installs it)")


@pytest.fixture
def server(served, tmp_path):
    config = written_config(served, tmp_path / "jinbao.toml")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([JINBAO, "serve", "--config", str(config), "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            httpx.get(f"{base}/login")
            break
        except httpx.TransportError:
            time.sleep(0.2)
    yield base
    process.terminate()
    _, errors = process.communicate(timeout=30)
    assert "Traceback" not in errors


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def _log_in(browser, base: str, role: str, problems: list[str]):
    page = browser.new_context(locale="zh-CN").new_page()
    page.on("console", lambda m: problems.append(f"{role}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("requestfailed", lambda r: problems.append(f"{role}: failed {r.url} ({r.failure})")
            if "ERR_ABORTED" not in (r.failure or "") else None)  # not cut by a navigation
    page.goto(f"{base}/login")
    assert page.locator("h1").inner_text() == "登录"  # Chinese first
    page.fill("input[name=username]", ACCOUNTS[role])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def test_a_caseworker_proposes_a_merge_and_a_checker_approves_it(server, browser, served):
    problems: list[str] = []
    worker = _log_in(browser, server, "caseworker", problems)
    worker.goto(f"{server}/cases?kind=suspected_duplicate")
    links = worker.locator("a.case-link")
    assert links.count() > 0
    for n in range(links.count()):  # the top case that has a person to keep
        worker.goto(f"{server}/cases?kind=suspected_duplicate")
        worker.locator("a.case-link").nth(n).click()
        entities = worker.locator("span.entity").all_inner_texts()
        people = [e.split(" = ")[0] for e in entities if "|" not in e.split(" = ")[1]]
        if people:
            break
    else:
        pytest.fail("no suspected duplicate with a person to keep")
    case_id = worker.locator("p.meta code").inner_text()
    assert worker.locator("svg[role=img] rect").count() > 0  # the match weights, drawn
    assert worker.locator("tr.differs").count() > 0  # what differs, marked
    worker.select_option("select[name=decision]", "merge")
    worker.fill("input[name=keep]", people[0])
    worker.fill("textarea[name=note]", "同一人")
    worker.click("form.propose button[type=submit]")
    worker.wait_for_load_state()
    assert "待复核" in worker.content()  # the proposal waits for a checker
    worker.goto(f"{server}/proposals")
    assert worker.locator("button.approve").count() == 0  # nothing to approve for a caseworker
    with warehouse_engine(served.warehouse_url).connect() as conn:
        proposal = conn.execute(text("SELECT proposal_id FROM review_proposal WHERE case_id = :c "
                                     "AND status = 'pending'"), {"c": case_id}).scalar_one()
    csrf = worker.locator("form[action='/logout'] input[name=csrf]").get_attribute("value")
    refused = worker.request.post(f"{server}/proposals/{proposal}/approve", form={"csrf": csrf})
    assert refused.status == 403  # not even by asking the server directly
    with warehouse_engine(served.warehouse_url).connect() as conn:
        assert not conn.execute(text("SELECT count(*) FROM review_decision WHERE case_id = :c"),
                                {"c": case_id}).scalar_one()
    worker.click("form[action='/logout'] button")

    checker = _log_in(browser, server, "checker", problems)
    assert checker.url.endswith("/proposals")
    row = checker.locator("tr", has=checker.locator(f"a[href='/cases/{case_id}']"))
    row.locator("button.approve").click()
    checker.wait_for_load_state()
    with warehouse_engine(served.warehouse_url).connect() as conn:
        decided = conn.execute(text("SELECT decision, decided_by FROM review_decision WHERE "
                                    "case_id = :c"), {"c": case_id}).one()
        moved = conn.execute(text("SELECT count(*) FROM identity_override WHERE case_id = :c"),
                             {"c": case_id}).scalar_one()
        status = conn.execute(text("SELECT status FROM review_case WHERE case_id = :c"),
                              {"c": case_id}).scalar_one()
    assert decided == ("merge", f"{ACCOUNTS['caseworker']}+{ACCOUNTS['checker']}")
    assert moved > 0 and status == "resolved"
    checker.goto(f"{server}/cases/{case_id}?lang=en")
    assert "The records side by side" in checker.content()  # English second
    assert not problems, problems

