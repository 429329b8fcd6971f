"""Daily partitions of ``pgwarden.slow_query_log``, created ahead and dropped.

Partitions are named ``slow_query_log_pYYYYMMDD`` and cover one UTC day. Retention
drops whole partitions, never deletes rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg
from psycopg import sql

from pgwarden import pg

PARENT = "slow_query_log"
_NAME_RE = re.compile(r"^slow_query_log_p(\d{8})$")


def partition_name(day: date) -> str:
    return f"{PARENT}_p{day:%Y%m%d}"


def partition_day(name: str) -> date | None:
    match = _NAME_RE.match(name)
    return datetime.strptime(match.group(1), "%Y%m%d").date() if match else None


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def existing(conn: psycopg.Connection[Any]) -> set[str]:
    rows = pg.fetch_all(conn, pg.query("slowlog", "partitions"))
    return {row["name"] for row in rows}


def ensure_days(conn: psycopg.Connection[Any], days: Iterable[date]) -> list[str]:
    """Create the partitions of these days that do not exist yet; their names."""
    present = existing(conn)
    created = []
    for day in sorted(set(days)):
        name = partition_name(day)
        if name not in present:
            _create(conn, day)
            created.append(name)
    return created


def ensure_partitions(
    conn: psycopg.Connection[Any], now: datetime, days_ahead: int = 2
) -> list[str]:
    """Today's partition and the next ``days_ahead`` ones; the names created."""
    today = utc_day(now)
    return ensure_days(conn, (today + timedelta(days=n) for n in range(days_ahead + 1)))


def _create(conn: psycopg.Connection[Any], day: date) -> None:
    start = datetime.combine(day, time(), tzinfo=UTC)
    conn.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})"
        ).format(
            sql.Identifier("pgwarden", partition_name(day)),
            sql.Identifier("pgwarden", PARENT),
            sql.Literal(start),
            sql.Literal(start + timedelta(days=1)),
        )
    )


def expired(names: Iterable[str], now: datetime, days: int) -> list[str]:
    """Partitions whose whole day lies before ``now - days``."""
    cutoff = now - timedelta(days=days)
    found = []
    for name in sorted(names):
        day = partition_day(name)
        if (
            day is not None
            and datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC) <= cutoff
        ):
            found.append(name)
    return found


def apply_retention(
    conn: psycopg.Connection[Any], now: datetime, days: int
) -> list[str]:
    """Drop the partitions older than ``days``; the names dropped."""
    dropped = expired(existing(conn), now, days)
    with conn.transaction():
        for name in dropped:
            conn.execute(
                sql.SQL("DROP TABLE IF EXISTS {}").format(
                    sql.Identifier("pgwarden", name)
                )
            )
    return dropped


def oldest_kept(now: datetime, days: int) -> datetime:
    """Records older than this would land in an expired partition."""
    cutoff_day = utc_day(now - timedelta(days=days))
    return datetime.combine(cutoff_day, time(), tzinfo=UTC)
