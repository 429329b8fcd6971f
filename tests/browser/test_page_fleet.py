"""The Fleet page and the target switcher in Chromium, with both roles.

Two registered targets in one repository: a row per target with the figures the
CLI prints for it; the switcher moves the Overview to the other target, and the
URL carries ``?target=`` across pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pgwarden.config import Settings
from pgwarden.web import create_app
from tests.browser.conftest import BROWSER_MARKS, served
from tests.browser.site import (
    ROLES,
    VIEWER,
    admin_controls,
    assert_clean,
    screenshot,
    visit,
    wait_loaded,
)
from tests.conftest import TEMPLATE_DEMO, TestServer
from tests.integration.test_observe_metrics import TOKEN
from tests.integration.test_web_fleet import (
    Fleet,
    cli_metrics,
    collect_fleet,
    password_from,
)

pytestmark = BROWSER_MARKS
QPS_CARD = '#cards .card:has-text("queries / s") b'


@pytest.fixture
def fleet_site(
    demo_dsn: str, pg_server: TestServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Fleet]]:
    password_from(demo_dsn, monkeypatch)
    other = pg_server.clone(TEMPLATE_DEMO)
    found = Fleet(demo_dsn, {"alpha": demo_dsn, "beta": pg_server.dsn(other)})
    try:
        collect_fleet(demo_dsn, found.dsns, {"alpha": 40, "beta": 5})
        app = create_app(
            Settings(), demo_dsn, "alpha", TOKEN, target_dsn=demo_dsn,
            viewer_token=VIEWER, fleet=True,
        )  # fmt: skip
        with served(app) as base:
            yield base, found
    finally:
        pg_server.drop(other)


def shown(page: Any, value: float) -> str:
    return str(page.evaluate("(v) => window.pgwarden.fmt(v)", value))


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_fleet_page_and_switcher(
    fleet_site: tuple[str, Fleet], browser: Any, role: str
) -> None:
    base, found = fleet_site
    cli = {name: cli_metrics(found, name) for name in found.dsns}
    seen = visit(browser, base, "/fleet", ROLES[role], "fleet")
    page = seen.page
    assert_clean(seen)
    rows = page.locator("#fleet-table tbody tr")
    assert rows.count() == 2
    for name in found.dsns:
        cell = page.locator(f'#fleet-table tbody tr[data-target="{name}"] td').nth(2)
        assert cell.inner_text() == shown(page, cli[name]["queries_per_second"])
    if role == "viewer":
        assert admin_controls(seen) == 0
    screenshot(seen, "fleet" if role == "admin" else "fleet-viewer")
    page.select_option("#fleet-group", "red")
    assert rows.count() == 1 and rows.first.get_attribute("data-target") == "beta"

    page.click('nav a[data-page="overview"]')
    wait_loaded(page, "overview")
    assert page.inner_text(QPS_CARD) == shown(page, cli["alpha"]["queries_per_second"])
    page.evaluate("delete document.body.dataset.loaded")
    page.select_option("#target", "beta")
    wait_loaded(page, "overview")
    page.wait_for_selector('body[data-target="beta"]', state="attached")
    assert "target=beta" in page.url and page.url.startswith(base + "/?")
    assert page.inner_text(QPS_CARD) == shown(page, cli["beta"]["queries_per_second"])
    page.evaluate("delete document.body.dataset.loaded")
    page.click('nav a[data-page="queries"]')
    wait_loaded(page, "queries")
    assert page.url.startswith(base + "/queries?") and "target=beta" in page.url
    assert_clean(seen)

    page.goto(base + "/fleet?target=nope")  # a deep link to a target not served
    wait_loaded(page, "fleet")
    assert "No target named nope" in page.inner_text("#target-note")
    assert "target=" not in page.url and page.input_value("#target") == "alpha"
