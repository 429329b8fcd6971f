"""The Overview in Chromium: the error rate card and health line show the figure
``pgwarden metrics --format json`` prints, the classes on hover."""

from __future__ import annotations

from typing import Any

from pgwarden.slowlog.client import post_json
from tests.browser.conftest import BROWSER_MARKS
from tests.browser.site import ROLES, assert_clean, screenshot, site, visit
from tests.cli_helpers import pgwarden_json

pytestmark = BROWSER_MARKS


def _shown(value: float) -> str:
    """As the page formats a number: at most two decimals, no trailing zeros."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def test_the_error_rate_on_the_overview_is_the_cli_s(
    demo_dsn: str, browser: Any
) -> None:
    with site(demo_dsn) as base:
        report = post_json(f"{base}/api/ingest/app-metrics", ROLES["admin"])
        report({"calls": 300, "errors": {"40001": 3, "unique_violation": 1}})
        report({"source": "worker", "calls": 100, "errors": {"23505": 2}})
        metrics = pgwarden_json(demo_dsn, "metrics")["error_rates"]
        assert metrics["recorded"] and metrics["calls_source"] == "application"
        assert metrics["by_class"] == {
            "serialization_failure": 3,
            "unique_violation": 3,
        }
        assert metrics["share"] == 6 / 400

        found = visit(browser, base, "/", ROLES["admin"], "overview")
        card = found.page.locator("#errors-card")
        assert card.locator("b").inner_text() == _shown(metrics["per_minute"])
        hover = str(card.get_attribute("title"))
        assert "serialization_failure 3, unique_violation 3" in hover
        assert "1.50 % of 400 calls" in hover
        line = found.page.locator('#health li[data-label="errors per minute"] b')
        assert line.inner_text().startswith(f"{metrics['per_minute']:.2f} / min")
        assert_clean(found)
        screenshot(found, "overview-errors")
