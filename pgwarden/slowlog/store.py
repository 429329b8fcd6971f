"""Writing slow queries: one row per execution, whichever sources saw it.

The same execution may be seen by the server log, by activity sampling and by the
application. It is stored once: the server log's exact duration wins over the
application's, which wins over a sampled lower bound, and the richer caller is kept
(a comment or a reported frame beats a bare application_name).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from pgwarden import pg
from pgwarden.config import SlowQuerySettings
from pgwarden.skipped import Skipped
from pgwarden.slowlog import partitions
from pgwarden.slowlog.model import SlowQuery
from pgwarden.slowlog.severity import DEFAULT_THRESHOLDS, Thresholds

#: Start times of the same execution seen by two sources differ by less than this.
TOLERANCE = timedelta(seconds=1)
#: Default retention (``slow_queries.retention_days``); callers pass the setting.
RETENTION_DAYS: int = SlowQuerySettings().retention_days  # type: ignore[call-arg]
#: which source's timing wins a merge; a derived row is never merged into
_SOURCE_RANK = {"statements": 0, "activity": 1, "application": 2, "server_log": 3}
_FEATURE = "slow query log (run pgwarden init)"
#: a value the repository (or the driver) refuses: the row, not the batch, is lost
_REFUSED = (psycopg.DataError, ValueError)


def ensure_target(conn: psycopg.Connection[Any], name: str) -> int:
    """The id of the target called ``name``, registering it when new."""
    with pg.guarded(_FEATURE):
        row = pg.fetch_one(conn, pg.query("slowlog", "ensure_target"), [name])
    assert row is not None
    return int(row["id"])


def record(
    conn: psycopg.Connection[Any],
    target_id: int,
    queries: Iterable[SlowQuery],
    *,
    tolerance: timedelta = TOLERANCE,
    retention_days: int = RETENTION_DAYS,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    now: datetime | None = None,
    skipped: Skipped | None = None,
) -> int:
    """Store (or merge) each slow query; the number of executions written.

    A row the repository refuses (a value out of its range) costs only itself: it is
    left out and counted in ``skipped``, and the others are stored.
    """
    floor = partitions.oldest_kept(now or datetime.now(UTC), retention_days)
    batch = [q for q in queries if q.ts >= floor]
    if not batch:
        return 0
    with pg.guarded(_FEATURE), conn.transaction():
        conn.execute(pg.query("slowlog", "lock_target"), [target_id])
        partitions.ensure_days(conn, {partitions.utc_day(q.ts) for q in batch})
        try:
            with conn.transaction():
                for query in batch:
                    _store_one(conn, target_id, query, tolerance, thresholds)
            return len(batch)
        except _REFUSED:
            pass  # store them one by one, each in a savepoint of its own
        stored = 0
        for query in batch:
            try:
                with conn.transaction():
                    _store_one(conn, target_id, query, tolerance, thresholds)
                stored += 1
            except _REFUSED as exc:
                if skipped is not None:
                    skipped.add(f"not stored ({type(exc).__name__})")
    return stored


def _store_one(
    conn: psycopg.Connection[Any],
    target_id: int,
    query: SlowQuery,
    tolerance: timedelta,
    thresholds: Thresholds,
) -> None:
    params = _params(target_id, query)
    existing = None
    if query.source == "activity" and query.pid is not None:
        existing = _fetch_one(conn, "find_running", params)
        if existing is not None:
            _update(conn, existing, _longest(existing, params), thresholds)
            return
    params_match = {**params, "tolerance": tolerance}
    existing = _fetch_one(conn, "find_same_execution", params_match)
    if existing is None:
        conn.execute(pg.query("slowlog", "insert"), params)
    else:
        _update(conn, existing, merge(existing, params), thresholds)


def _fetch_one(
    conn: psycopg.Connection[Any], name: str, params: dict[str, Any]
) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(pg.query("slowlog", name), params)
        return cur.fetchone()


def _params(target_id: int, query: SlowQuery) -> dict[str, Any]:
    values = asdict(query)
    del values["started"]
    return {**values, "target_id": target_id, "started_at": query.started_at}


def _longest(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    if new["duration_ms"] <= old["duration_ms"]:
        return old
    return {**old, "ts": new["ts"], "duration_ms": new["duration_ms"]}


def merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """One row from two sightings of the same execution."""
    exact, other = (
        (new, old)
        if _SOURCE_RANK[new["source"]] > _SOURCE_RANK[old["source"]]
        else (old, new)
    )
    merged = {**old, **{k: exact[k] for k in _TIMING}}
    merged["caller"] = richer_caller(old, new)
    for key in ("plan", "queryid", "username", "application_name", "pid"):
        merged[key] = exact.get(key) or other.get(key)
    merged["backend_start"] = old.get("backend_start") or new.get("backend_start")
    return merged


_TIMING = ("ts", "started_at", "duration_ms", "source")


def richer_caller(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """A caller from comments or a report beats application_name beats nothing."""
    ranked = sorted((old, new), key=_caller_rank, reverse=True)
    return ranked[0].get("caller")


def _caller_rank(row: dict[str, Any]) -> int:
    caller = row.get("caller")
    if not caller:
        return 0
    return 1 if caller == row.get("application_name") else 2


def _update(
    conn: psycopg.Connection[Any],
    old: dict[str, Any],
    row: dict[str, Any],
    thresholds: Thresholds,
) -> None:
    severity = thresholds.classify(row["duration_ms"]) or "warning"
    values = {**row, "severity": severity, "id": old["id"], "old_ts": old["ts"]}
    conn.execute(pg.query("slowlog", "update"), values)
