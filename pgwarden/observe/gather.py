"""Thin reads of the repository (and, without history, of the target itself)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row, tuple_row

from pgwarden import pg
from pgwarden.collect import history
from pgwarden.collect.history import Point
from pgwarden.observe import hours

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
    """Statement texts by queryid (the first stored one)."""
    found: dict[int, str] = {}
    with pg.guarded("pgwarden history (run pgwarden init and collect)"):
        with conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(pg.query(GROUP, "texts"), {"target_id": target_id})
            for queryid, query in cur:
                found.setdefault(int(queryid), query)
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


def statement_window(
    conn: psycopg.Connection[Any], target_id: int, dbid: int, ts: datetime
) -> list[dict[str, Any]]:
    """The collector's per-statement sums of the window ending at ``ts``, if written."""
    return rows(conn, "statement_window", target_id=target_id, dbid=dbid, ts=ts)


def index_totals(
    conn: psycopg.Connection[Any],
    target_id: int,
    since: datetime,
    ts: datetime,
    cache: hours.HourCache | None = None,
) -> dict[int, dict[str, Any]]:
    """Scans per index from ``since`` to the interval ending at ``ts``, by relid.

    As index health reads them: the roll-ups of the hour of ``since`` on, and the
    samples not rolled up yet from ``since`` on. Hours before the one of ``ts`` are
    rolled up and final: with ``cache`` their sums are read once per hour.
    """
    params = {"target_id": target_id, "since": since}
    end, first = hours.hour_of(ts), hours.hour_of(since)
    key = ("index_hours", target_id, first)
    found = cache.get(key, end) if cache is not None else None
    if found is None:
        found = rows(conn, "index_hours", target_id=target_id, since=first, until=end)
        if cache is not None:
            cache.put(key, end, found)
    totals: dict[int, dict[str, Any]] = {}
    for row in (*found, *rows(conn, "index_recent", **params, after=end)):
        total = totals.setdefault(int(row["relid"]), {"relid": row["relid"]})
        for name in ("scans", "tup_read", "tup_fetch"):
            total[name] = (total.get(name) or 0) + (row[name] or 0)
    return totals


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
