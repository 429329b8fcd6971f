"""Every page of the dashboard, with both roles, as a person opens it.

Each page by its own URL (deep links): no console error, no failed request, no
broken value in the text; the viewer sees no control only the admin may use, and
the API refuses such an action from the viewer; every page fits a 420 px wide
screen and is reached with the keyboard. A screenshot of each page is kept.
"""

from __future__ import annotations

from typing import Any

import pytest

from pgwarden.web.auth import ADMIN_ONLY
from pgwarden.web.pages import PAGES
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

pytestmark = BROWSER_MARKS
NAMES = {path: path.strip("/") or "overview" for path, _ in PAGES}


def _top_queryid(found: Visit, token: str) -> str:
    response = found.page.request.get(
        found.base + "/api/admin/top-queries?by=calls",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.ok, response.status
    return str(response.json()[0]["queryid"])


def _open(found: Visit, path: str, name: str) -> None:
    """A deep link in the same tab: the token kept in the tab's session storage."""
    found.page.goto(found.base + path)
    wait_loaded(found.page, name)


def _fits(found: Visit) -> None:
    overflow = found.page.evaluate(
        "document.documentElement.scrollWidth - window.innerWidth"
    )
    assert overflow <= 1, overflow


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_every_page_with_each_role(demo_dsn: str, browser: Any, role: str) -> None:
    token = ROLES[role]
    with site(demo_dsn) as base:
        found = visit(browser, base, "/", token, "overview")
        queryid = _top_queryid(found, token)
        paths = [*NAMES.items(), (f"/queries/{queryid}", "query")]
        for path, name in paths:
            _open(found, path, name)
            assert found.page.get_attribute("body", "data-role") == role
            assert_clean(found)
            if role == "viewer":
                assert admin_controls(found) == 0, path
            screenshot(found, name if role == "admin" else f"{name}-viewer")
        if role == "viewer":
            refused = found.page.request.post(
                base + "/api/admin/alerts/1/ack", data={"by": "eve"},
                headers={"Authorization": f"Bearer {token}"},
            )  # fmt: skip
            assert refused.status == 403 and refused.json()["detail"] == ADMIN_ONLY


def test_every_page_fits_a_phone_and_the_keyboard_reaches_it(
    demo_dsn: str, browser: Any
) -> None:
    with site(demo_dsn) as base:
        found = visit(browser, base, "/", ROLES["admin"], "overview", width=420)
        for path, name in NAMES.items():
            _open(found, path, name)
            _fits(found)
            assert_clean(found)
            screenshot(found, f"{name}-420px")
        _open(found, "/", "overview")
        page = found.page
        page.focus('#nav a[data-page="overview"]')
        for _ in range(4):  # Overview, Queries, Live, Space
            page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.dataset.page")
        assert focused == "indexes", focused
        page.evaluate("delete document.body.dataset.loaded")
        page.keyboard.press("Enter")
        wait_loaded(page, "indexes")
        assert page.url.endswith("/indexes")
        current = page.get_attribute('#nav a[aria-current="page"]', "data-page")
        assert current == "indexes"
        page.go_back()
        wait_loaded(page, "overview")
