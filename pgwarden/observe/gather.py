"""Thin reads of the repository (and, without history, of the target itself)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from pgwarden import pg
from pgwarden.collect import history
from pgwarden.collect.history import Point

GROUP = "observe"
#: the smallest step past a sample's ``ts``, to read exactly one interval
TICK = timedelta(microseconds=1)


def rows(
    conn: psycopg.Connection[Any], name: str, **params: Any
) -> list[dict[str, Any]]:
    """A named query of ``sql/observe.sql``; a missing table reads as no rows."""
    with pg.guarded("pgwarden history (run pgwarden init and collect)"):
        with conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(pg.query(GROUP, name), params).fetchall()


def points_at(
    conn: psycopg.Connection[Any], kind: str, target_id: int, ts: datetime
) -> list[Point]:
    """The samples of one kind in the interval ending at ``ts``."""
    return history.series(conn, kind, target_id, ts, ts + TICK)


def flat(point: Point) -> dict[str, Any]:
    return {**point.key, **point.values, "ts": point.ts, "interval_s": point.interval_s}


def names(conn: psycopg.Connection[Any], target_id: int) -> dict[int, dict[str, Any]]:
    """Tables and indexes by relid."""
    return {int(r["relid"]): r for r in rows(conn, "relations", target_id=target_id)}


def texts(conn: psycopg.Connection[Any], target_id: int) -> dict[int, str]:
    found: dict[int, str] = {}
    for text in history.statement_texts(conn, target_id):
        found.setdefault(text.queryid, text.query)
    return found


def slow_by_query(
    conn: psycopg.Connection[Any], target_id: int, since: datetime
) -> dict[int, dict[str, Any]]:
    found = rows(conn, "slow_by_query", target_id=target_id, since=since)
    return {int(r["queryid"]): r for r in found}


def statement_totals(
    conn: psycopg.Connection[Any],
    target_id: int,
    dbid: int,
    since: datetime,
    until: datetime,
) -> list[dict[str, Any]]:
    return rows(
        conn, "statement_totals", target_id=target_id, dbid=dbid, since=since,
        until=until,
    )  # fmt: skip


def interval_total(
    conn: psycopg.Connection[Any], target_id: int, dbid: int, ts: datetime
) -> dict[str, Any] | None:
    """The collector's statement totals of the interval ending at ``ts``, if any."""
    found = rows(conn, "interval_total", target_id=target_id, dbid=dbid, ts=ts)
    return found[0] if found else None


def live_database(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Connections and cumulative counters read from the target now."""
    with pg.guarded("live read of the target"):
        activity = pg.fetch_one(conn, pg.query(GROUP, "live_activity")) or {}
        database = pg.fetch_one(conn, pg.query(GROUP, "live_database")) or {}
    return {**activity, **database}
