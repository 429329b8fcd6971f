"""The dashboard in headless Chromium: token, charts with real points, drill-down."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pgwarden import pg
from pgwarden.collect import collect_once
from pgwarden.config import Settings
from pgwarden.web import create_app
from tests.browser.conftest import BROWSER_MARKS, served
from tests.integration.test_observe_metrics import (
    TARGET,
    TOKEN,
    collect_with_load,
    load,
)

pytestmark = BROWSER_MARKS


@pytest.fixture
def url(demo_dsn: str) -> Iterator[str]:
    """The app on 127.0.0.1 over five collected cycles, one a statistics reset.

    The reset leaves an interval without statement samples: a recorded gap.
    """
    collect_with_load(demo_dsn)
    load(demo_dsn, rounds=10, create=False)
    with pg.connect(demo_dsn) as target, pg.connect(demo_dsn) as repo:
        collect_once(target, repo, TARGET)
        target.execute("SELECT pg_stat_statements_reset()")
        collect_once(target, repo, TARGET)
        load(demo_dsn, rounds=10, create=False)
        collect_once(target, repo, TARGET)
    with served(create_app(Settings(), demo_dsn, TARGET, TOKEN)) as base:
        yield base


@pytest.fixture
def page(url: str, browser: Any) -> Any:
    return browser.new_page()


def _sign_in(page: Any, url: str, token: str) -> None:
    page.goto(url)
    page.fill("#token", token)
    page.click("#login button[type=submit]")


def _points(page: Any, chart: str) -> list[int]:
    """Non-null values per series of one uPlot chart (x axis first)."""
    script = (
        "(name) => window.pgwarden.charts[name].data.map("
        "s => s.filter(v => v !== null && v !== undefined).length)"
    )
    return list(page.evaluate(script, chart))


def test_charts_draw_real_points(page: Any, url: str) -> None:
    _sign_in(page, url, TOKEN)
    page.wait_for_selector("body[data-loaded]", timeout=20_000)
    for chart in ("qps", "latency", "cache", "connections", "size"):
        counts = _points(page, chart)
        assert counts[0] >= 2 and counts[1] >= 2, (chart, counts)
    assert page.locator("#chart-qps canvas").count() == 1
    assert page.locator("#top-queries tbody tr").count() >= 1
    stored = page.evaluate("sessionStorage.getItem('pgwarden.token')")
    assert stored == TOKEN and TOKEN not in page.url


def test_a_gap_breaks_the_line(page: Any, url: str) -> None:
    _sign_in(page, url, TOKEN)
    page.wait_for_selector("body[data-loaded]", timeout=20_000)
    qps = page.evaluate("window.pgwarden.charts.qps.data[1]")
    nulls = [i for i, v in enumerate(qps) if v is None]
    assert nulls and 0 < nulls[0] < len(qps) - 1, qps
    spans = page.evaluate("window.pgwarden.charts.qps.series[1].spanGaps")
    assert spans is False
    connections = page.evaluate("window.pgwarden.charts.connections.data[1]")
    assert None not in connections


def test_drill_down_shows_one_query(page: Any, url: str) -> None:
    _sign_in(page, url, TOKEN)
    page.wait_for_selector("body[data-loaded]", timeout=20_000)
    page.select_option("#top-by", "calls")
    row = page.locator("#top-queries tbody tr", has_text="observe-marker").first
    row.wait_for(timeout=20_000)
    row.click()
    page.wait_for_selector("#drilldown:not([hidden])")
    assert "observe-marker" in page.text_content("#drill-text")
    assert _points(page, "query")[1] >= 2


def test_without_the_token_nothing_is_served(page: Any, url: str) -> None:
    refused = page.request.get(f"{url}/api/admin/performance-metrics")
    assert refused.status == 401 and "connections" not in refused.text()
    _sign_in(page, url, "not-the-token")
    page.wait_for_selector("#login:not([hidden])")
    page.wait_for_function(
        "document.querySelector('#login-error').textContent.length > 0"
    )
    assert page.evaluate("sessionStorage.getItem('pgwarden.token')") is None
    assert page.evaluate("Object.keys(window.pgwarden.charts).length") == 0
