"""Availability of the target from pgwarden's collection cycles (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from pgwarden.ops.review.metrics import percent

#: an interval between two successful cycles longer than this many expected
#: intervals means probes were missed (scheduling jitter stays below it)
MISSED_AFTER = 1.5


def _merge(
    spans: Iterable[tuple[datetime, datetime]],
) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _clip(
    span: tuple[datetime, datetime], start: datetime, end: datetime
) -> tuple[datetime, datetime] | None:
    low, high = max(span[0], start), min(span[1], end)
    return (low, high) if high > low else None


def down_spans(
    cycles: Sequence[datetime],
    restarts: Sequence[tuple[datetime, datetime]],
    start: datetime,
    end: datetime,
    interval: timedelta,
) -> list[tuple[datetime, datetime]]:
    """Time in ``[start, end)`` without a successful probe, and restart intervals.

    ``cycles``: the successful collection cycles from the last one before ``start``
    to the first one after ``end``. Between two cycles further apart than
    ``MISSED_AFTER`` intervals, everything after the first expected interval is down;
    before the first cycle and after the last one likewise. A restart (collect_gap
    "server restarted") makes its whole interval down: when the server went down
    inside it is unknown, so this is an upper bound.
    """
    spans: list[tuple[datetime, datetime]] = []
    points = sorted(cycles)
    limit = interval * MISSED_AFTER
    if not points:
        spans.append((start, end))
    else:
        if points[0] - start > limit:
            spans.append((start, points[0]))
        for a, b in pairwise(points):
            if b - a > limit:
                spans.append((a + interval, b))
        if end - points[-1] > limit:
            spans.append((points[-1] + interval, end))
    spans.extend(restarts)
    clipped = (_clip(s, start, end) for s in spans)
    return _merge(s for s in clipped if s is not None)


def availability(
    cycles: Sequence[datetime],
    restarts: Sequence[tuple[datetime, datetime]],
    start: datetime,
    end: datetime,
    interval: timedelta,
    target_pct: float | None = None,
    monitored_from: datetime | None = None,
) -> dict[str, Any]:
    """Availability over ``[start, end)``, judged from ``monitored_from`` on.

    ``monitored_from`` is pgwarden's first collection cycle of the target: time
    before it was not watched, so it is neither up nor down. At or after ``end``
    nothing of the period was watched and the availability is unknown (None).
    """
    judged = start if monitored_from is None else max(start, monitored_from)
    if judged >= end:
        spans, total = [], timedelta()
    else:
        spans = down_spans(cycles, restarts, judged, end, interval)
        total = end - judged
    down = sum((b - a for a, b in spans), timedelta())
    inside = [c for c in cycles if judged <= c < end]
    expected = int(total / interval)
    up = None if not total else 1 - down / total
    return {
        "availability_pct": None if up is None else percent(up),
        "monitored_from": judged.isoformat() if judged < end else None,
        "downtime_s": round(down.total_seconds(), 1),
        "down_periods": [
            {
                "from": a.isoformat(),
                "to": b.isoformat(),
                "minutes": round((b - a).total_seconds() / 60, 1),
            }
            for a, b in spans
        ],
        "cycles": len(inside),
        "expected_cycles": expected,
        "restarts": len(restarts),
        "interval_s": interval.total_seconds(),
        "target_pct": target_pct,
        "method": (
            "From pgwarden's collection cycles (one probe of the target every "
            f"{interval.total_seconds():g} s). Between two successful cycles more "
            f"than {MISSED_AFTER:g} intervals apart, the time after the first "
            "expected interval counts as down; so does the time before the first "
            "and after the last cycle of the period, and every interval in which "
            "the server restarted (an upper bound: when it went down inside is "
            "unknown). A stopped collector cannot be told from an unreachable "
            "target, so it counts as downtime too. Time before pgwarden first "
            "collected the target is not judged."
        ),
    }
