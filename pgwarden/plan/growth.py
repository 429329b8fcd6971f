"""Where a baseline's growth comes from: one stated source, the first that holds.

1. a regression over pgwarden's history (``capacity.min_history_days``);
2. the creation timestamps of the largest tables (:mod:`.evidence`);
3. the insert counters since the statistics reset, or the two-point difference of
   pgwarden's history, whichever spans longer; either must span
   ``capacity.min_history_hours``, the history in at least
   ``capacity.min_history_samples`` samples;
4. none: growth is unknown, with every reason, and nothing is projected from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pgwarden.config import CapacitySettings
from pgwarden.plan.evidence import (
    Evidence,
    Window,
    from_counters,
    from_timestamps,
    rows_of,
    table_rate,
)
from pgwarden.plan.trend import DAY_S, Trend, unknown
from pgwarden.plan.units import span

Row = Mapping[str, Any]


@dataclass(frozen=True)
class History:
    """pgwarden's record of the database size, and whether growth may come from it."""

    database: Trend
    samples: int
    usable: bool
    note: str


def history_of(database: Trend, samples: int, cap: CapacitySettings) -> History:
    n = samples
    spans = (
        f"pgwarden's history spans {span(database.span_days)} in {n} samples"
        if n > 1
        else f"pgwarden's history holds {n} database sample{'s' if n != 1 else ''}"
    )
    if database.method == "regression":
        return History(database, n, True, database.note)
    if database.span_days * 24 >= cap.min_history_hours and (
        n >= cap.min_history_samples
    ):
        note = f"{spans}, short of the {cap.min_history_days:g} days a regression needs"
        return History(database, n, True, note)
    note = (
        f"{spans}; growth is taken from it after {cap.min_history_hours:g} h in at "
        f"least {cap.min_history_samples} samples"
    )
    return History(database, n, False, note)


@dataclass(frozen=True)
class Sources:
    """What the target itself shows of its growth (see :mod:`.evidence`)."""

    storage: Sequence[Row]
    created: Sequence[Row]
    #: None when creation times were not read
    window: Window | None
    stats_reset: datetime | None
    now: datetime


def _no_timestamps(s: Sources, cap: CapacitySettings) -> str:
    if s.window is None or not cap.evidence_tables:
        return "creation timestamps not read (capacity.evidence_tables = 0)"
    if not any(rows_of(t) for t in s.storage):
        return "no table holds rows"
    if not s.created:
        return (
            f"none of the {cap.evidence_tables} largest tables has a creation-time "
            "column (such as createdAt or created_at)"
        )
    names = {int(t["relid"]): t["rel_name"] for t in s.storage}
    reasons = []
    for row in s.created:
        found = table_rate(row, s.window, cap.min_history_days)
        if isinstance(found, str):
            reasons.append(f"{names.get(int(row['relid']), row['relid'])}: {found}")
    shown = f" ({', '.join(reasons[:3])})" if reasons else ""
    return f"creation timestamps give no rate{shown}"


def _no_counters(s: Sources) -> str:
    if s.stats_reset is None:
        return "the statistics were never reset, so insert counters have no start"
    age = (s.now - s.stats_reset).total_seconds() / DAY_S
    return f"the statistics were reset only {span(age)} ago"


def _evidence(h: History, s: Sources, cap: CapacitySettings) -> Evidence | None:
    db = h.database
    if s.window is not None:
        found = from_timestamps(
            s.storage, s.created, s.window, cap.min_history_days, s.now, db.needs_days
        )
        if found is not None:
            return found
    counted = from_counters(s.storage, s.stats_reset, s.now, db.needs_days)
    if counted is None or counted.database.span_days * 24 < cap.min_history_hours:
        return None
    return (
        counted if not h.usable or counted.database.span_days > db.span_days else None
    )


def choose(
    h: History, s: Sources, cap: CapacitySettings
) -> tuple[Trend, Evidence | None]:
    """The database's growth and, unless it is pgwarden's history, the tables'."""
    db = h.database
    if db.method == "regression":
        return db, None
    found = _evidence(h, s, cap)
    if found is not None:
        detail = f"{found.database.detail}; {h.note}"
        return replace(found.database, detail=detail), found
    if h.usable:
        return db, None
    reasons = [h.note, _no_timestamps(s, cap), _no_counters(s)]
    none = unknown("; ".join(reasons), db.needs_days, db.last)
    return none, Evidence(none, {})
