"""Reading the slow query log: recent entries and counts per minute by severity."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.config import MAX_DURATION
from pgwarden.slowlog.severity import SEVERITIES

COLUMNS = (
    "ts", "target", "database", "username", "severity", "duration_ms", "source",
    "caller", "application_name", "queryid", "fingerprint", "query", "plan",
    "exactness", "executions",
)  # fmt: skip


@dataclass(frozen=True)
class MinuteCount:
    minute: datetime
    warning: int = 0
    critical: int = 0
    emergency: int = 0

    @property
    def total(self) -> int:
        return self.warning + self.critical + self.emergency


def recent(
    repo_conn: psycopg.Connection[Any],
    since: datetime,
    min_ms: float = 0,
    *,
    target_id: int | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Slow queries since ``since`` at or above ``min_ms``, newest first."""
    params = {"since": since, "min_ms": min_ms, "target_id": target_id, "limit": limit}
    with pg.guarded("slow query log (run pgwarden init)"):
        with repo_conn.cursor() as cur:
            cur.execute(pg.query("slowlog", "recent"), params)
            return [dict(zip(COLUMNS, row, strict=True)) for row in cur.fetchall()]


def slow_queries_per_minute(
    repo_conn: psycopg.Connection[Any], target_id: int, since: datetime
) -> list[MinuteCount]:
    """Slow queries per minute by severity (minutes without any are left out)."""
    with pg.guarded("slow query log (run pgwarden init)"):
        rows = pg.fetch_all(
            repo_conn, pg.query("slowlog", "per_minute"), [target_id, since]
        )
    minutes: dict[datetime, dict[str, int]] = {}
    for row in rows:
        counts = minutes.setdefault(row["minute"], {})
        if row["severity"] in SEVERITIES:
            counts[row["severity"]] = int(row["count"])
    return [MinuteCount(minute, **counts) for minute, counts in minutes.items()]


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SINCE_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", re.ASCII | re.IGNORECASE)


def parse_since(text: str) -> timedelta:
    """``90s``, ``30m``, ``1h``, ``2d``, ``1w`` as a duration.

    Anything else, zero or more than 100 years is a :class:`ValueError` (and nothing
    else is raised), so ``now - parse_since(text)`` is always a date.
    """
    found = _SINCE_RE.fullmatch(text)
    if found is None:
        raise ValueError(f"{text!r} is not a duration such as 30m, 1h or 2d")
    seconds = float(found.group(1)) * _UNITS[found.group(2).lower()]
    if seconds <= 0:
        raise ValueError(f"{text!r}: a duration must be above 0")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"{text!r} is longer than 100 years")
    return timedelta(seconds=seconds)
