"""The Queries pages in Chromium: the list, one statement, EXPLAIN, both roles."""

from __future__ import annotations

import json
from typing import Any

from pgwarden import pg
from tests.browser.conftest import BROWSER_MARKS
from tests.browser.site import (
    ROLES,
    VIEWER,
    admin_controls,
    assert_clean,
    screenshot,
    site,
    visit,
    wait_loaded,
)
from tests.cli_helpers import pgwarden
from tests.integration.test_observe_metrics import MARKER, TARGET
from tests.integration.test_web_queries import (
    generic_plans,
    observed,
)

pytestmark = BROWSER_MARKS
ADMIN = ROLES["admin"]
ROWS = "#queries-list tbody tr"


def cli_marker(dsn: str) -> dict[str, Any]:
    """The marked statement as ``pgwarden queries top --format json`` gives it."""
    found = pgwarden("--dsn", dsn, "queries", "top", "--limit", "100",
                     "--format", "json")  # fmt: skip
    assert found.returncode == 0, found.stderr
    (item,) = [q for q in json.loads(found.stdout) if MARKER in q["query"]]
    return dict(item)


def target_id(dsn: str) -> int:
    with pg.connect(dsn) as conn:
        row = pg.fetch_one(conn, "SELECT id FROM pgwarden.target WHERE name = %s",
                           [TARGET])  # fmt: skip
    assert row is not None
    return int(row["id"])


def number(text: str) -> float:
    return float(text.replace(",", "").replace("\u202f", "").strip())


def test_queries_pages_for_both_roles(browser: Any, demo_dsn: str) -> None:
    with site(demo_dsn) as base:
        expected = cli_marker(demo_dsn)
        queryid = expected["queryid"]
        listing = visit(browser, base, "/queries", ADMIN, "queries")
        assert_clean(listing)
        page = listing.page
        row = page.locator(ROWS, has_text=MARKER)
        assert number(row.locator("td.calls").inner_text()) == expected["calls"]
        assert page.locator("nav a[aria-current=page]").inner_text() == "Queries"
        every = page.locator(ROWS).count()
        page.fill("#queries-search", MARKER)
        page.wait_for_function(
            "document.querySelectorAll('#queries-list tbody tr').length === 1"
        )
        assert every > 1 and "queries?search=" in page.url
        page.fill("#queries-search", "no such statement text")
        page.wait_for_selector("#queries-empty:not([hidden])")
        assert "No statement matches" in page.inner_text("#queries-empty")
        page.fill("#queries-search", "")
        page.wait_for_function(
            f"document.querySelectorAll('#queries-list tbody tr').length === {every}"
        )
        assert_clean(listing)
        screenshot(listing, "queries")
        page.locator(f'a[data-queryid="{queryid}"]').click()
        wait_loaded(page, "query")
        assert page.url.endswith(f"/queries/{queryid}")

        if not generic_plans(demo_dsn):  # before 16: a value observed for $1
            observed(demo_dsn, target_id(demo_dsn), int(queryid))
        one = visit(browser, base, f"/queries/{queryid}", ADMIN, "query")
        assert_clean(one)
        text = one.text()
        assert MARKER in text and "no plan logged" in text
        assert one.page.locator("nav a[aria-current=page]").inner_text() == "Queries"
        assert admin_controls(one) == 1
        one.page.on("dialog", lambda dialog: dialog.accept("ana"))
        one.page.click("button[data-action=explain]")
        one.page.wait_for_selector("#query-explain-plan:not([hidden])")
        assert "Scan" in one.page.inner_text("#query-explain-plan")
        assert_clean(one)
        screenshot(one, "query")

        for path, name in (("/queries", "queries"), (f"/queries/{queryid}", "query")):
            seen = visit(browser, base, path, VIEWER, name)
            assert_clean(seen)
            assert admin_controls(seen) == 0
            assert seen.page.locator("button[data-action=explain]").count() == 0
        for path, name in (("/queries", "queries"), (f"/queries/{queryid}", "query")):
            narrow = visit(browser, base, path, ADMIN, name, width=420)
            assert_clean(narrow)
            overflow = narrow.page.evaluate(
                "document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 1, (path, overflow)
