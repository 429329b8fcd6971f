"""Alert statistics: count, MTTA, MTTR, p50/p90 by severity, acked within target."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pgwarden.alerts.model import SEVERITIES


@dataclass(frozen=True)
class Durations:
    count: int
    mean_s: float | None
    p50_s: float | None
    p90_s: float | None


@dataclass(frozen=True)
class SeverityStats:
    severity: str
    count: int
    ack: Durations
    resolve: Durations
    acked_within_target_pct: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "count": self.count,
            "mtta_s": self.ack.mean_s,
            "tta_p50_s": self.ack.p50_s,
            "tta_p90_s": self.ack.p90_s,
            "mttr_s": self.resolve.mean_s,
            "ttr_p50_s": self.resolve.p50_s,
            "ttr_p90_s": self.resolve.p90_s,
            "acked_within_target_pct": self.acked_within_target_pct,
        }


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile (the smallest value with ``pct`` % at or below)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def durations(values: Sequence[float]) -> Durations:
    mean = sum(values) / len(values) if values else None
    return Durations(len(values), mean, percentile(values, 50), percentile(values, 90))


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def summarise(
    rows: Iterable[Mapping[str, Any]], ack_target: timedelta
) -> list[SeverityStats]:
    """Per severity (and ``all``), from rows with fired/acked/resolved times."""
    by: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by.setdefault(row["severity"], []).append(row)
        by.setdefault("all", []).append(row)
    order = [s for s in (*SEVERITIES, "all") if s in by]
    return [_one(s, by[s], ack_target) for s in order]


def _one(
    severity: str, rows: list[Mapping[str, Any]], ack_target: timedelta
) -> SeverityStats:
    tta = [t for r in rows if (t := _seconds(r["fired_at"], r["acked_at"])) is not None]
    ttr = [
        t for r in rows if (t := _seconds(r["fired_at"], r["resolved_at"])) is not None
    ]
    within = sum(t <= ack_target.total_seconds() for t in tta)
    share = 100.0 * within / len(rows) if rows else None
    return SeverityStats(severity, len(rows), durations(tta), durations(ttr), share)
