"""Growth trends: least-squares regression over daily values, or two points.

A trend is a regression (slope per day, R², the span of data, the range of the
day-to-day rates) when the history spans at least ``min_days`` with at least three
daily values; with less it is the difference between the first and the last
sample, marked ``method="two-point"``; with fewer than two samples there is no
trend at all. Either way ``needs_days`` says how much more history a regression
needs. Growth read from the target itself (:mod:`pgwarden.plan.evidence`) is a
trend too, with its own method and a ``detail`` that states it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pgwarden.plan.units import span as _span

DAY_S = 86400.0
Method = Literal[
    "regression", "two-point", "creation-timestamps", "insert-counters", "none"
]


@dataclass(frozen=True)
class Fit:
    """``y = intercept + slope * x`` with its coefficient of determination."""

    slope: float
    intercept: float
    r2: float

    def at(self, x: float) -> float:
        return self.intercept + self.slope * x


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> Fit:
    """Ordinary least squares; needs at least two distinct x."""
    n = len(xs)
    if n != len(ys) or n < 2:
        raise ValueError("a regression needs at least two points")
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        raise ValueError("a regression needs points at two different times")
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    intercept = my - slope * mx
    total = sum((y - my) ** 2 for y in ys)
    resid = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    r2 = 1 - resid / total if total else 1.0
    return Fit(slope, intercept, r2)


@dataclass(frozen=True)
class Trend:
    """How a measure grows per day, and how far that can be trusted."""

    method: Method
    per_day: float | None
    r2: float | None
    span_days: float
    points: int
    first: float | None
    last: float | None
    last_ts: datetime | None
    needs_days: float
    #: the lowest and the highest rate the evidence shows, per day
    low: float | None = None
    high: float | None = None
    #: what the trend rests on, in words, when more than the method says it
    detail: str = ""

    @property
    def note(self) -> str:
        if self.detail:
            return self.detail
        if self.method == "regression":
            return (
                f"regression over {self.points} days ({self.span_days:.1f} days of "
                f"history), R² {self.r2:.2f}"
            )
        if self.method == "two-point":
            return (
                f"two-point difference over {_span(self.span_days)}: history is "
                f"short; needs {self.needs_days:.1f} more days of history for a "
                "regression"
            )
        return (
            "no trend: fewer than two samples; needs "
            f"{self.needs_days:.1f} more days of history"
        )

    def value_at(self, days_ahead: float, now: float | None = None) -> float | None:
        """``now`` (default: the last sample) grown ``days_ahead`` days on trend.

        Never below zero; without a trend the value stays where it is.
        """
        base = self.last if now is None else now
        if base is None:
            return None
        if self.per_day is None:
            return base
        return max(0.0, base + self.per_day * days_ahead)

    def as_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "per_day": self.per_day,
            "r2": self.r2,
            "span_days": round(self.span_days, 3),
            "points": self.points,
            "first": self.first,
            "last": self.last,
            "needs_days": round(self.needs_days, 1),
            "low": self.low,
            "high": self.high,
            "note": self.note,
        }


def unknown(detail: str, needs_days: float = 0.0, last: float | None = None) -> Trend:
    """No trend, and why."""
    return Trend(
        "none", None, None, 0.0, 0, None, last, None, needs_days, detail=detail
    )


def regression_possible(daily_values: int, span_days: float, min_days: float) -> bool:
    """Whether a history of this shape is regressed rather than differenced."""
    return span_days >= min_days and daily_values >= 3


def _daily_rates(xs: Sequence[float], ys: Sequence[float]) -> list[float]:
    steps = zip(xs, xs[1:], ys, ys[1:], strict=False)
    return [(y1 - y0) / (x1 - x0) for x0, x1, y0, y1 in steps if x1 > x0]


def trend(
    daily: Sequence[tuple[datetime, float]],
    ends: Sequence[tuple[datetime, float]],
    min_days: float,
) -> Trend:
    """The trend of a measure from its daily values and its first/last samples.

    ``daily`` holds one (time, value) per UTC day; ``ends`` the first and the last
    raw sample (they may be closer together than a day).
    """
    samples = sorted([*daily, *ends])
    if not samples:
        return Trend("none", None, None, 0.0, 0, None, None, None, min_days)
    first_ts, last_ts = samples[0][0], samples[-1][0]
    span = (last_ts - first_ts).total_seconds() / DAY_S
    needs = max(0.0, min_days - span)
    last = samples[-1][1]
    if regression_possible(len(daily), span, min_days):
        x0 = daily[0][0]
        xs = [(ts - x0).total_seconds() / DAY_S for ts, _ in daily]
        ys = [v for _, v in daily]
        fit = linear_fit(xs, ys)
        r2 = fit.r2 if math.isfinite(fit.r2) else 0.0
        rates = _daily_rates(xs, ys)
        return Trend(
            "regression",
            fit.slope,
            r2,
            span,
            len(daily),
            samples[0][1],
            last,
            last_ts,
            0.0,
            low=min(rates) if rates else None,
            high=max(rates) if rates else None,
        )
    if span <= 0:
        return Trend(
            "none", None, None, 0.0, len(samples), samples[0][1], last, last_ts, needs
        )
    per_day = (last - samples[0][1]) / span
    return Trend(
        "two-point", per_day, None, span, 2, samples[0][1], last, last_ts, needs
    )
