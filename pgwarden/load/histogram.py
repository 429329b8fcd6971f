"""Latency histograms (HdrHistogram) that merge across processes.

Values are microseconds, from 1 µs to one hour, at three significant digits, so a
percentile is exact to 0.1 % whatever the spread; histograms travel between worker
processes as HdrHistogram's compressed encoding and are added together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
DIGITS = 3
PERCENTILES = (50.0, 95.0, 99.0)


class Histogram:
    """One latency distribution in microseconds."""

    def __init__(self, digits: int = DIGITS) -> None:
        self._h: Any = HdrHistogram(LOWEST_US, HIGHEST_US, digits)

    def record(self, micros: float) -> None:
        self._h.record_value(min(max(int(micros), LOWEST_US), HIGHEST_US))

    def add(self, other: Histogram) -> None:
        if other.count:
            self._h.add(other._h)

    @property
    def count(self) -> int:
        return int(self._h.get_total_count())

    def percentile_ms(self, pct: float) -> float:
        if not self.count:
            return 0.0
        return float(self._h.get_value_at_percentile(pct)) / 1000

    def max_ms(self) -> float:
        return float(self._h.get_max_value()) / 1000 if self.count else 0.0

    def mean_ms(self) -> float:
        return float(self._h.get_mean_value()) / 1000 if self.count else 0.0

    def summary(self) -> LatencySummary:
        p50, p95, p99 = (self.percentile_ms(p) for p in PERCENTILES)
        return LatencySummary(
            self.count,
            round(self.mean_ms(), 3),
            round(p50, 3),
            round(p95, 3),
            round(p99, 3),
            round(self.max_ms(), 3),
        )

    def encode(self) -> bytes:
        return bytes(self._h.encode())

    @classmethod
    def decode(cls, data: bytes, digits: int = DIGITS) -> Histogram:
        made = cls(digits)
        if data:
            made._h.decode_and_add(data)
        return made


@dataclass(frozen=True)
class LatencySummary:
    """What a report shows of one histogram, in milliseconds."""

    count: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
