"""The Live page in Chromium: a real blocking situation in its tree, the admin's
cancel through the page (confirmed, recorded), the viewer without controls, and
the page at 420 px."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.browser.conftest import BROWSER_MARKS
from tests.browser.site import (
    ROLES,
    Visit,
    admin_controls,
    assert_clean,
    screenshot,
    site,
    visit,
)
from tests.integration.test_web_live import HOLDER, WAITER, Blocked

pytestmark = BROWSER_MARKS


def test_live_page_for_both_roles(browser: Any, demo_dsn: str) -> None:
    with site(demo_dsn) as base:
        b = Blocked(demo_dsn)
        try:
            _check(browser, base, b)
        finally:
            b.close()


def _check(browser: Any, base: str, b: Blocked) -> None:
    holder, waiter = b.holder.info.backend_pid, b.waiter.info.backend_pid
    admin = visit(browser, base, "/live", ROLES["admin"], "live")
    assert_clean(admin)
    root = admin.page.locator(f'#live-blocking > li[data-pid="{holder}"]')
    assert HOLDER in root.inner_text()
    child = root.locator(f'li[data-pid="{waiter}"]')
    assert "AccessShareLock" in child.inner_text() and WAITER in child.inner_text()
    text = admin.text()
    assert "No replicas" in text and "No long transactions." in text
    row = admin.page.locator(f'#live-sessions tr[data-pid="{waiter}"]')
    assert row.locator("button[data-action=cancel]").count() == 1
    assert admin_controls(admin) >= 3
    screenshot(admin, "live")

    viewer = visit(browser, base, "/live", ROLES["viewer"], "live")
    assert_clean(viewer)
    assert admin_controls(viewer) == 0
    assert viewer.page.locator("#live-sessions button").count() == 0
    assert f"pid {holder}" in viewer.text()
    screenshot(viewer, "live-viewer")

    narrow = visit(browser, base, "/live", ROLES["viewer"], "live", width=420)
    assert_clean(narrow)
    width = narrow.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 420, width

    _cancel(admin, waiter)
    b.thread.join(10)
    assert isinstance(b.waiter_error, psycopg.errors.QueryCanceled)


def _cancel(admin: Visit, waiter: int) -> None:
    """Cancel from the page: confirm, give a name, see it in the recent actions."""
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept("alice")

    admin.page.on("dialog", answer)
    row = f'#live-sessions tr[data-pid="{waiter}"]'
    admin.page.click(f"{row} button[data-action=cancel]")
    done = admin.page.locator("#live-audit tbody tr", has_text="alice")
    done.first.wait_for(timeout=15_000)
    assert "cancel" in done.first.inner_text() and "ok" in done.first.inner_text()
    assert f"pid {waiter}" in asked[0] and WAITER in asked[0]
    assert "recorded in the audit log" in admin.text()
    assert_clean(admin)
