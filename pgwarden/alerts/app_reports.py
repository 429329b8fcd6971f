"""What applications report about themselves: connection pool and cache counters.

Reports arrive at ``POST /api/ingest/app-metrics`` (and ``/app-cache``) and are kept
in the repository, latest per ``source`` (an application or pool name, default
``app``), so a worker on another machine evaluates the same numbers the web face
took. A report older than ``alerts.app_report_max_age_minutes`` is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from pgwarden import pg

GROUP = "app_metrics"
FEATURE = "application reports (run pgwarden init)"
DEFAULT_SOURCE = "app"


@dataclass(frozen=True)
class AppPool:
    """One application connection pool as last reported."""

    source: str
    #: connections the pool may hold (its maximum size)
    size: int
    in_use: int
    waiting: int
    reported_at: datetime

    @property
    def utilisation(self) -> float | None:
        return pool_utilisation(self.in_use, self.size)


def pool_utilisation(in_use: int, size: int) -> float | None:
    """Connections in use / pool size (None for a pool of size 0)."""
    return in_use / size if size > 0 else None


def _execute(
    conn: psycopg.Connection[Any], name: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    return pg.named_rows(conn, GROUP, name, params, FEATURE)


def record_pool(
    conn: psycopg.Connection[Any],
    target_id: int,
    source: str,
    size: int,
    in_use: int,
    waiting: int,
    at: datetime,
) -> None:
    params = {"target_id": target_id, "source": source, "pool_size": size,
              "in_use": in_use, "waiting": waiting, "reported_at": at}  # fmt: skip
    _execute(conn, "record_pool", params)


def record_cache(
    conn: psycopg.Connection[Any],
    target_id: int,
    source: str,
    hits: int,
    misses: int,
    at: datetime,
) -> None:
    params = {"target_id": target_id, "source": source, "hits": hits,
              "misses": misses, "reported_at": at}  # fmt: skip
    _execute(conn, "record_cache", params)


def fresh_pools(
    conn: psycopg.Connection[Any], target_id: int, now: datetime, max_age: timedelta
) -> tuple[AppPool, ...]:
    """Pools reported within ``max_age`` before ``now``."""
    found = _execute(
        conn, "fresh_pools", {"target_id": target_id, "since": now - max_age}
    )
    return tuple(
        AppPool(r["source"], int(r["pool_size"]), int(r["pool_in_use"]),
                int(r["pool_waiting"]), r["pool_reported_at"])
        for r in found
    )  # fmt: skip
