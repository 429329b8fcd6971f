"""The Overview's health summary and the Alerts page in Chromium, with both roles."""

from __future__ import annotations

from typing import Any

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
from tests.integration.test_observe_metrics import TARGET
from tests.integration.test_web_overview_alerts import fire

pytestmark = BROWSER_MARKS
OPEN_ROW = "#alerts-open-table tbody tr"


def health(found: Visit) -> dict[str, str]:
    """The health summary's figures by label, as shown."""
    found.page.wait_for_selector("#health .track")
    assert found.page.locator("#health .track").count() == 4
    lines = found.page.locator("#health li").all()
    return {str(li.get_attribute("data-label")): li.locator("b").inner_text()
            for li in lines}  # fmt: skip


def check_overview(found: Visit, firing: int) -> None:
    shown = health(found)
    assert shown["firing alerts"].split()[0] == str(firing)
    assert shown["on call now"] == "not set up: no roster"
    assert_clean(found)


def act_on_alert(found: Visit, dsn: str) -> None:
    """Silence, acknowledge and resolve the open alert with the page's buttons."""
    page = found.page
    page.on("dialog", lambda dialog: dialog.accept("ana"))
    row = page.locator(OPEN_ROW, has_text="wraparound").first
    row.locator("button[data-action=silence]").click()
    page.fill("#silence-comment", "freeze planned tonight")
    page.click("#silence-form button[type=submit]")
    silenced = page.locator("#alerts-silences-table tbody tr", has_text="tonight")
    silenced.wait_for()
    row.locator("button[data-action=ack]").click()
    page.wait_for_selector(f"{OPEN_ROW}[data-state=acknowledged]")
    page.locator(OPEN_ROW).first.locator("button[data-action=resolve]").click()
    page.locator("#alerts-history-table tbody tr", has_text="ana after").wait_for()
    assert page.locator(OPEN_ROW).count() == 0
    assert page.get_by_text("No open alerts.").is_visible()
    stats = pgwarden_json(dsn, "alerts", "stats", "--since", "1h")
    every = next(s for s in stats if s["severity"] == "all")
    shown = page.locator("#alerts-stats-table tbody tr.all td").nth(1).inner_text()
    assert shown == str(every["count"])
    # the silence dialog closed after its use, on any page
    assert page.evaluate("document.querySelector('#silence-dialog').open") is False


def test_health_summary_and_alerts_with_both_roles(demo_dsn: str, browser: Any) -> None:
    with site(demo_dsn) as base:
        fire(demo_dsn, TARGET)
        firing = len(pgwarden_json(demo_dsn, "alerts", "list", "--state", "firing"))
        assert firing >= 1

        admin = visit(browser, base, "/", ROLES["admin"], "overview")
        check_overview(admin, firing)
        screenshot(admin, "overview")

        viewer = visit(browser, base, "/", ROLES["viewer"], "overview")
        check_overview(viewer, firing)
        assert admin_controls(viewer) == 0

        viewer = visit(browser, base, "/alerts", ROLES["viewer"], "alerts", width=420)
        assert viewer.page.locator(OPEN_ROW).count() == firing
        assert admin_controls(viewer) == 0
        assert viewer.page.evaluate("document.documentElement.scrollWidth") <= 421
        assert_clean(viewer)

        admin = visit(browser, base, "/alerts", ROLES["admin"], "alerts")
        assert admin_controls(admin) > 0
        assert_clean(admin)
        act_on_alert(admin, demo_dsn)
        fire(demo_dsn, TARGET)  # the condition holds: it fires again
        admin.page.reload()
        wait_loaded(admin.page, "alerts")
        admin.page.locator(OPEN_ROW, has_text="wraparound").wait_for()
        assert_clean(admin)
        screenshot(admin, "alerts")
