"""Growth trends: regression with R², the two-point fallback, too little history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pgwarden.plan.trend import linear_fit, trend

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def days(values: list[float], start: datetime = T0) -> list[tuple[datetime, float]]:
    return [(start + timedelta(days=i), v) for i, v in enumerate(values)]


def test_linear_fit_is_exact_on_a_line() -> None:
    fit = linear_fit([0, 1, 2, 3], [10, 12, 14, 16])
    assert fit.slope == pytest.approx(2)
    assert fit.intercept == pytest.approx(10)
    assert fit.r2 == pytest.approx(1)
    assert fit.at(10) == pytest.approx(30)


def test_linear_fit_r2_drops_with_noise() -> None:
    fit = linear_fit([0, 1, 2, 3, 4], [0, 3, 1, 4, 2])
    assert fit.slope == pytest.approx(0.5)
    assert fit.r2 == pytest.approx(0.25)


def test_linear_fit_needs_two_times() -> None:
    with pytest.raises(ValueError, match="two"):
        linear_fit([1, 1], [3, 4])


def test_regression_over_enough_days() -> None:
    daily = days([1000 + 100 * i for i in range(10)])
    found = trend(daily, [daily[0], daily[-1]], min_days=7)
    assert found.method == "regression"
    assert found.per_day == pytest.approx(100)
    assert found.r2 == pytest.approx(1)
    assert found.span_days == pytest.approx(9)
    assert found.needs_days == 0
    assert found.value_at(30) == pytest.approx(1900 + 3000)
    assert "R² 1.00" in found.note


def test_short_history_uses_two_points_and_says_so() -> None:
    first = (T0, 1000.0)
    last = (T0 + timedelta(hours=12), 1500.0)
    found = trend([(T0, 1500.0)], [first, last], min_days=7)
    assert found.method == "two-point"
    assert found.per_day == pytest.approx(1000)
    assert found.needs_days == pytest.approx(6.5)
    assert "two-point" in found.note and "needs 6.5 more days" in found.note


def test_a_single_sample_has_no_trend() -> None:
    found = trend([(T0, 5.0)], [(T0, 5.0)], min_days=7)
    assert found.method == "none" and found.per_day is None
    assert found.value_at(100) == 5.0
    assert "needs 7.0 more days" in found.note


def test_nothing_at_all() -> None:
    found = trend([], [], min_days=3)
    assert found.method == "none" and found.last is None and found.needs_days == 3


def test_shrinking_trend_never_projects_below_zero() -> None:
    daily = days([100.0, 80.0, 60.0, 40.0])
    found = trend(daily, [], min_days=2)
    assert found.per_day == pytest.approx(-20)
    assert found.value_at(365) == 0.0


def test_a_regression_carries_the_range_of_its_daily_rates() -> None:
    found = trend(days([100.0, 110.0, 130.0, 135.0, 160.0]), [], min_days=3)
    assert found.method == "regression"
    assert (found.low, found.high) == (5, 25)
    assert found.as_dict()["low"] == 5 and found.as_dict()["high"] == 25


def test_short_spans_read_in_their_own_unit() -> None:
    found = trend([], [(T0, 1.0), (T0 + timedelta(minutes=6), 2.0)], min_days=7)
    assert "two-point difference over 6 minutes" in found.note
