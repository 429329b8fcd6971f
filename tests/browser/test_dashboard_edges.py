"""The dashboard's charts at their edges: no history yet, and a single point."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pgwarden import pg
from pgwarden.config import Settings
from pgwarden.repository import migrate
from pgwarden.web import create_app
from tests.browser.conftest import BROWSER_MARKS, served
from tests.browser.test_dashboard import _points, _sign_in
from tests.integration.test_observe_metrics import TARGET, TOKEN, collect_with_load

pytestmark = BROWSER_MARKS
CHARTS = ("qps", "latency", "cache", "connections", "slow", "size")
EMPTY = "No data yet for this range — pgwarden collects every 60 s"
RANGES = {"1h": 3600, "7d": 7 * 86400}


@pytest.fixture
def fresh(empty_dsn: str) -> Iterator[str]:
    """The app of a target nothing has been collected from yet."""
    with pg.connect(empty_dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
        conn.commit()
    with served(create_app(Settings(), empty_dsn, "fresh", TOKEN)) as base:
        yield base


@pytest.fixture
def one_point(demo_dsn: str) -> Iterator[str]:
    """The app of a target with a single collected interval."""
    collect_with_load(demo_dsn)
    with served(create_app(Settings(), demo_dsn, TARGET, TOKEN)) as base:
        yield base


def _loaded(page: Any) -> None:
    page.wait_for_selector("body[data-loaded]", timeout=20_000)


def _choose(page: Any, range_: str) -> None:
    """Select a range and wait for the dashboard to load it."""
    before = page.get_attribute("body", "data-loaded")
    page.select_option("#range", range_)
    page.wait_for_function(
        "(before) => document.body.dataset.loaded !== before", arg=before,
        timeout=20_000,
    )  # fmt: skip


def _note(page: Any, chart: str) -> Any:
    return page.locator(f"figure:has(#chart-{chart}) p.empty")


def _x_span(page: Any, chart: str) -> float:
    scale = page.evaluate(
        "(name) => { const x = window.pgwarden.charts[name].scales.x;"
        " return [x.min, x.max]; }",
        chart,
    )
    return float(scale[1] - scale[0])


def test_a_fresh_target_says_so_on_every_chart(fresh: str, browser: Any) -> None:
    page = browser.new_page()
    _sign_in(page, fresh, TOKEN)
    _loaded(page)
    for range_ in RANGES:
        if range_ != "1h":
            _choose(page, range_)
        for chart in CHARTS:
            note = _note(page, chart)
            assert note.is_visible(), (range_, chart)
            assert note.inner_text() == EMPTY
            assert _x_span(page, chart) == pytest.approx(RANGES[range_], abs=5)
    assert page.locator("#chart-qps canvas").count() == 1


def test_one_point_spans_the_selected_range(one_point: str, browser: Any) -> None:
    page = browser.new_page()
    _sign_in(page, one_point, TOKEN)
    _loaded(page)
    for range_, seconds in RANGES.items():
        if range_ != "1h":
            _choose(page, range_)
        for chart in ("qps", "latency", "cache", "connections", "size"):
            assert _points(page, chart)[:2] == [1, 1], (range_, chart)
            assert not _note(page, chart).is_visible(), (range_, chart)
            assert _x_span(page, chart) == pytest.approx(seconds, abs=5), range_
