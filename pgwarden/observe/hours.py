"""Per-interval statement totals of finished hours, kept in memory.

Summing every statement's samples per interval is the costly read of the charts
(1,000 statements make 1.44 million samples a day). Once an hour is packed into
``statement_history`` it never changes, so the web app keeps each finished hour's
totals and reads only the hours it has not seen plus the hour being collected.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

HOUR = timedelta(hours=1)
Rows = list[dict[str, Any]]
#: reads the per-interval totals of ``[since, until)``
Read = Callable[[datetime, datetime], Rows]


def hour_of(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class HourCache:
    """A bounded, thread-safe map of (key, hour) to that hour's rows."""

    def __init__(self, max_entries: int = 2048) -> None:
        self._rows: OrderedDict[tuple[Hashable, datetime], Rows] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries

    def get(self, key: Hashable, hour: datetime) -> Rows | None:
        with self._lock:
            found = self._rows.get((key, hour))
            if found is not None:
                self._rows.move_to_end((key, hour))
            return found

    def put(self, key: Hashable, hour: datetime, rows: Rows) -> None:
        with self._lock:
            self._rows[(key, hour)] = rows
            self._rows.move_to_end((key, hour))
            while len(self._rows) > self._max:
                self._rows.popitem(last=False)


def hours(since: datetime, until: datetime) -> list[datetime]:
    """Starts of the UTC hours overlapping ``[since, until)``."""
    found, hour = [], hour_of(since)
    while hour < until:
        found.append(hour)
        hour += HOUR
    return found


def by_ts(
    read: Read,
    since: datetime,
    until: datetime,
    packed_before: datetime,
    cache: HourCache | None,
    key: Hashable,
) -> Rows:
    """Rows of ``[since, until)``: finished hours (before ``packed_before``) cached."""
    if cache is None:
        return read(since, until)
    finished = [h for h in hours(since, until) if h + HOUR <= packed_before]
    missing = [h for h in finished if cache.get(key, h) is None]
    if missing:
        _fill(read, missing, cache, key)
    rows: Rows = []
    for hour in finished:  # only an hour cut by the range needs a filter
        found = cache.get(key, hour) or []
        whole = since <= hour and hour + HOUR <= until
        rows += found if whole else [r for r in found if since <= r["ts"] < until]
    rest_from = max(since, finished[-1] + HOUR) if finished else since
    rest = read(rest_from, until) if rest_from < until else []
    return rows + [r for r in rest if since <= r["ts"] < until]


def _fill(
    read: Read, missing: Sequence[datetime], cache: HourCache, key: Hashable
) -> None:
    found: dict[datetime, Rows] = {h: [] for h in missing}
    for row in read(missing[0], missing[-1] + HOUR):
        bucket = found.get(hour_of(row["ts"]))
        if bucket is not None:
            bucket.append(row)
    for hour, rows in found.items():
        cache.put(key, hour, rows)
