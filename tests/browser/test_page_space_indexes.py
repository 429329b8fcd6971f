"""The Space and Indexes pages in Chromium, with either role: clean, the CLI's
figures, the whole DDL copyable, the advisor run by the admin only."""

from __future__ import annotations

import html
import threading
from pathlib import Path
from typing import Any

from pgwarden import pg
from pgwarden.collect import collect_once
from tests.browser.conftest import BROWSER_MARKS
from tests.browser.site import (
    ROLES,
    Visit,
    admin_controls,
    assert_clean,
    screenshot,
    site,
    visit,
    wait_loaded,
)
from tests.cli_helpers import pgwarden_json
from tests.integration.test_advisor_demo import workload
from tests.integration.test_observe_metrics import TARGET

pytestmark = BROWSER_MARKS


def reload(found: Visit, name: str) -> None:
    """The page's refresh, as the range select triggers it."""
    page = found.page
    page.evaluate("delete document.body.dataset.loaded")
    chosen = page.input_value("#range")
    page.select_option("#range", "6h" if chosen != "6h" else "1h")
    wait_loaded(page, name)


def as_bytes(page: Any, n: int) -> str:
    """``n`` as the page formats a size."""
    return str(page.evaluate("(n) => window.pgwarden.bytes(n)", n))


def check_indexes_admin(browser: Any, base: str, dsn: str) -> None:
    findings = pgwarden_json(dsn, "indexes", "health")
    found = visit(browser, base, "/indexes", ROLES["admin"], "indexes")
    assert_clean(found)
    page = found.page
    unused = sum(1 for f in findings if f["kind"] == "unused")
    assert page.inner_text("#ix-unused b").startswith(f"{unused} / ")
    assert admin_controls(found) == 2
    assert "No stored advisor run" in page.inner_text("#ix-advice-status")

    warning = next(f for f in findings if f["severity"] == "warning" and f["ddl"])
    block = page.locator(".finding", has_text=warning["index"]).first
    assert block.locator("pre.ddl").inner_text() == warning["ddl"]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    button = block.get_by_role("button", name="Copy the DDL")
    button.click()
    page.wait_for_function("(b) => b.textContent !== 'Copy'",
                           arg=button.element_handle())  # fmt: skip
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == warning["ddl"]

    page.select_option("#ix-severity", "info")
    assert page.locator(".finding[data-severity=warning]").count() == 0
    assert page.locator(".finding[data-severity=info]").count() > 0
    page.select_option("#ix-severity", "")

    page.once("dialog", lambda dialog: dialog.accept("ann"))
    page.get_by_role("button", name="Run the advisor now").click()
    page.wait_for_function(
        "/Advisor run of/.test(document.getElementById('ix-advice-status').textContent)"
    )
    status = page.inner_text("#ix-advice-status")
    assert "unverified" in status, status
    advice = pgwarden_json(dsn, "indexes", "partial")
    partial = page.locator("#ix-partial article.advice")
    assert partial.count() == len(advice) > 0
    shown = partial.locator("pre.ddl").all_inner_texts()
    assert shown == [a["ddl"] for a in advice]
    saves = as_bytes(page, advice[0]["size_savings_bytes"])
    assert f"saves\n{saves}" in partial.first.inner_text()

    page.get_by_role("button", name="Build the report now").click()
    page.wait_for_function(
        "/Report of/.test(document.getElementById('ix-report-status').textContent)"
    )
    with page.expect_download() as saving:
        page.get_by_role("button", name="Download the report (HTML)").click()
    saved = saving.value
    assert saved.suggested_filename.startswith("index-health-")
    assert warning["ddl"] in html.unescape(Path(saved.path()).read_text())
    reload(found, "indexes")
    assert_clean(found)
    screenshot(found, "indexes")
    page.close()


def check_viewer(browser: Any, base: str, path: str, name: str) -> None:
    found = visit(browser, base, path, ROLES["viewer"], name, width=420)
    assert_clean(found)
    assert admin_controls(found) == 0
    width = found.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 420, width
    if name == "indexes":
        assert "unverified" in found.page.inner_text("#ix-advice-status")
        assert found.page.get_by_role("button", name="Run the advisor now").count() == 0
    found.page.close()


def check_space_admin(browser: Any, base: str, dsn: str) -> None:
    usage = pgwarden_json(dsn, "indexes", "usage")["indexes"]
    found = visit(browser, base, "/space", ROLES["admin"], "space")
    assert_clean(found)
    page = found.page
    largest = max(usage, key=lambda u: u["size_bytes"])
    row = page.locator("#space-indexes tbody tr").first
    cells = row.locator("td")
    assert cells.nth(0).inner_text() == largest["index"]
    assert cells.nth(2).inner_text() == as_bytes(page, largest["size_bytes"])

    data = page.evaluate("window.pgwarden.spaceData")
    growing = max(data["tables"], key=lambda t: (t["size_growth"] or {}).get(
        "per_day") or float("-inf"))  # fmt: skip
    page.select_option("#space-table-sort", "growth")
    first = page.locator("#space-tables tbody tr").first.locator("td").first
    assert first.inner_text() == f"{growing['schema']}.{growing['table']}"
    page.fill("#space-find", "no such table")
    assert page.inner_text("#space-tables-empty") == "No table matches."
    page.fill("#space-find", "")
    reload(found, "space")
    assert page.input_value("#space-table-sort") == "growth"
    assert_clean(found)
    screenshot(found, "space")
    page.close()


def test_space_and_indexes_pages(browser: Any, demo_dsn: str) -> None:
    with pg.connect(demo_dsn) as conn:
        conn.execute("ANALYZE")
    mix = {"open_assessment_n_plus_one": 6, "list_assessments": 30}
    with site(demo_dsn) as base:
        # its own thread: Playwright's event loop runs in this one
        runner = threading.Thread(target=workload, args=(demo_dsn, mix))
        runner.start()
        runner.join()
        with pg.connect(demo_dsn) as target, pg.connect(demo_dsn) as repo:
            collect_once(target, repo, TARGET)  # the workload, in history
        check_indexes_admin(browser, base, demo_dsn)
        check_viewer(browser, base, "/indexes", "indexes")
        check_space_admin(browser, base, demo_dsn)
        check_viewer(browser, base, "/space", "space")
        found = visit(browser, base, "/space", ROLES["admin"], "space")
        found.page.click("nav a[data-page=indexes]")
        wait_loaded(found.page, "indexes")
        assert found.page.url.endswith("/indexes")
        assert_clean(found)
