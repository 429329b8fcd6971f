"""The Maintenance and Capacity pages in Chromium, with either role."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pgwarden import pg
from tests.browser.conftest import BROWSER_MARKS
from tests.browser.site import (
    ROLES,
    admin_controls,
    assert_clean,
    screenshot,
    site,
    visit,
    wait_loaded,
)
from tests.cli_helpers import pgwarden_json
from tests.integration.test_observe_metrics import TARGET
from tests.integration.test_web_maintenance_capacity import xlsx_book

pytestmark = BROWSER_MARKS
RAN_OR_FAILED = """() => document.querySelector("#mnt-run-status").textContent
    .startsWith("maintenance of")
    || document.querySelector(".page-error").textContent"""
UNITS = ("B", "kB", "MB", "GB", "TB")


def size_text(value: float) -> str:
    """A size as the page writes it (``pw.bytes``: 1024-based, one decimal)."""
    unit = 0
    while abs(value) >= 1024 and unit < len(UNITS) - 1:
        value /= 1024
        unit += 1
    number = f"{round(value, 1):,.1f}".removesuffix(".0")
    return f"{number} {UNITS[unit]}"


def card(found: Any, card_id: str) -> str:
    return str(found.page.locator(f"#{card_id} b").inner_text())


def fits(found: Any) -> bool:
    """Nothing wider than the window: wide tables scroll inside their box."""
    return bool(found.page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth"))  # fmt: skip


def identify(dsn: str) -> None:
    """The CLI resolves its target by identity: name the collected target's database."""
    with pg.connect(dsn) as conn:
        conn.execute(
            "UPDATE pgwarden.target SET database_name = current_database() "
            "WHERE name = %s",
            [TARGET],
        )


def reload(found: Any) -> None:
    """Refresh the page shown, as the range select's change does."""
    found.page.evaluate("delete document.body.dataset.loaded")
    found.page.dispatch_event("#range", "change")
    wait_loaded(found.page, "maintenance")


def due_agrees(found: Any, dsn: str) -> None:
    """The "due now" card is the count of ``maintain plan``: read both again while
    autovacuum changes the statistics between the two reads."""
    for _ in range(3):
        plan = pgwarden_json(dsn, "maintain", "plan")
        shown = card(found, "mnt-due")
        if shown == str(sum(i["due"] for i in plan["items"])):
            return
        reload(found)
    raise AssertionError(f"due now: page {shown}, CLI {plan['items']}")


def check_maintenance(browser: Any, base: str, dsn: str) -> None:
    for role, token in ROLES.items():
        found = visit(browser, base, "/maintenance", token, "maintenance")
        assert_clean(found)
        due_agrees(found, dsn)
        assert admin_controls(found) == (1 if role == "admin" else 0)
        text = found.text()
        assert "Maintenance window 02:00-05:00 UTC" in text
        assert found.page.locator("#mnt-history-table tbody tr").count() >= 1
        assert "No VACUUM, ANALYZE, REINDEX or CLUSTER is running" in text
        if role == "admin":
            screenshot(found, "maintenance")
            run_what_is_due(found, dsn)
        found.page.close()
    narrow = visit(browser, base, "/maintenance", ROLES["viewer"], "maintenance",
                   width=420)  # fmt: skip
    assert_clean(narrow)
    assert fits(narrow)
    narrow.page.close()


def run_what_is_due(found: Any, dsn: str) -> None:
    """The admin's button runs what is due (the name asked once), then reloads."""
    found.page.once("dialog", lambda dialog: dialog.accept("Ada"))
    found.page.evaluate("delete document.body.dataset.loaded")
    found.page.click("button[data-action=maintenance-run]")
    found.page.wait_for_function(RAN_OR_FAILED)
    error = found.page.locator(".page-error").inner_text()
    assert not error, error
    wait_loaded(found.page, "maintenance")
    status = found.page.locator("#mnt-run-status").inner_text()
    ran = re.match(r"maintenance of demo: (\d+) ok; stale statistics", status)
    assert ran is not None, status
    rows = found.page.locator("#mnt-history-table tbody tr").count()
    assert rows == 1 + int(ran.group(1))
    due_agrees(found, dsn)
    assert_clean(found)


def check_capacity(browser: Any, base: str, dsn: str) -> None:
    baseline = pgwarden_json(dsn, "capacity", "baseline")
    expected = size_text(baseline["database"]["size_bytes"])
    for role, token in ROLES.items():
        found = visit(browser, base, "/capacity", token, "capacity")
        assert_clean(found)
        assert card(found, "cap-size") == expected
        assert admin_controls(found) == 0
        assert found.page.locator("#cap-thresholds-table tbody tr").count() >= 2
        assert found.page.locator("#cap-chart-projection .uplot").count() == 1
        with found.page.expect_download() as event:
            found.page.click("button[data-action=spreadsheet]")
        download = event.value
        assert download.suggested_filename == "pgwarden-capacity-demo.xlsx"
        book = xlsx_book(Path(download.path()).read_bytes())
        assert "Inputs" in book.sheetnames
        assert_clean(found)
        if role == "admin":
            screenshot(found, "capacity")
        found.page.close()
    narrow = visit(browser, base, "/capacity", ROLES["viewer"], "capacity", width=420)
    assert_clean(narrow)
    assert fits(narrow)
    narrow.page.close()


def test_maintenance_and_capacity_pages(browser: Any, demo_dsn: str) -> None:
    with site(demo_dsn) as base:
        identify(demo_dsn)
        ran = pgwarden_json(
            demo_dsn, "maintain", "run", "--table", "Answer", "--operation", "analyze"
        )
        assert [r["status"] for r in ran["runs"]] == ["ok"]
        check_maintenance(browser, base, demo_dsn)
        check_capacity(browser, base, demo_dsn)
