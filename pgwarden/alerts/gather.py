"""Thin reads that build :class:`Facts`: the repository, then the target (guarded).

Collected data (database series, cycle log, slow query log) comes from the
repository. Inputs the collector does not keep (session ages, lock waits, replicas,
XID age, index bloat) are read live from the target when a connection is given;
an input that cannot be read is left out with the reason in ``notes``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.alerts import app_reports, store
from pgwarden.alerts import facts as src
from pgwarden.alerts.facts import Facts, IndexBloat, Replica, Session, SlowStatement
from pgwarden.collect import history
from pgwarden.config import AlertSettings
from pgwarden.errors import MissingCapability
from pgwarden.observe.errors import error_rates

logger = logging.getLogger(__name__)

TICK = timedelta(microseconds=1)
EVICTION_WINDOW = timedelta(hours=1)
SPIKE_WINDOW = timedelta(minutes=2)


def gather(
    repo_conn: psycopg.Connection[Any],
    target_id: int | None,
    target: str,
    now: datetime,
    settings: AlertSettings,
    target_conn: psycopg.Connection[Any] | None = None,
) -> Facts:
    """The facts of ``target``; a target unknown to the repository (``target_id``
    None) has only live inputs."""
    found: dict[str, Any] = {"sources": set(), "notes": []}
    if target_id is not None:
        _collected(repo_conn, target_id, now, settings, found)
        _slowlog(repo_conn, target_id, now, settings, found)
        _app(repo_conn, target_id, now, settings, found)
        _errors(repo_conn, target_id, now, settings, found)
    if target_conn is not None:
        _live(target_conn, found)
    sources = frozenset(found.pop("sources"))
    notes = tuple(found.pop("notes"))
    return Facts(now=now, target=target, sources=sources, notes=notes, **found)


def _guard(found: dict[str, Any], what: str, read: Callable[[], None]) -> None:
    try:
        read()
    except MissingCapability as exc:
        found["notes"].append(f"{what}: {exc}")
        logger.info("alert input unavailable", extra={"input": what})


def _collected(
    conn: psycopg.Connection[Any],
    target_id: int,
    now: datetime,
    s: AlertSettings,
    found: dict[str, Any],
) -> None:
    def read() -> None:
        last = history.latest_interval(conn, target_id)
        found["sources"].add(src.COLLECTOR)
        found["last_collect_at"] = last.ts if last else None
        registered = pg.fetch_one(
            conn, "SELECT first_seen FROM pgwarden.target WHERE id = %s", [target_id]
        )
        found["watched_since"] = registered["first_seen"] if registered else None
        window = max(EVICTION_WINDOW, timedelta(minutes=s.cache_hit_window_minutes))
        points = history.database_series(conn, target_id, now - window, now + TICK)
        fresh = timedelta(minutes=s.collector_silent_minutes)
        if not points or now - points[-1].ts > fresh:
            return
        found["sources"].add(src.HISTORY)
        latest = points[-1]
        found["database"] = {**latest.key, **latest.values}
        since = now - timedelta(minutes=s.cache_hit_window_minutes)
        recent = [p for p in points if p.ts > since]
        found["cache_hits"] = sum(int(p.values.get("blks_hit") or 0) for p in recent)
        found["cache_reads"] = sum(int(p.values.get("blks_read") or 0) for p in recent)
        hour = [p for p in points if p.ts > now - EVICTION_WINDOW]
        found["evictions_last_hour"] = sum(
            int(p.values.get("statements_dealloc") or 0) for p in hour
        )

    _guard(found, "collected history", read)


def _slowlog(
    conn: psycopg.Connection[Any],
    target_id: int,
    now: datetime,
    s: AlertSettings,
    found: dict[str, Any],
) -> None:
    def read() -> None:
        since = now - timedelta(minutes=s.slow_query_window_minutes)
        params = {"target_id": target_id, "since": since, "until": now}
        found_rows = store.rows(conn, "slow_statements", params)
        spike = {**params, "since": now - SPIKE_WINDOW}
        minutes = store.rows(conn, "slow_per_minute", spike)
        found["slow_statements"] = tuple(
            SlowStatement(r["fingerprint"], r["query"], int(r["executions"]),
                          float(r["worst_ms"]))
            for r in found_rows
        )  # fmt: skip
        found["slow_per_minute"] = max((int(m["count"]) for m in minutes), default=0)
        found["sources"].add(src.SLOWLOG)

    _guard(found, "slow query log", read)


def _app(
    conn: psycopg.Connection[Any],
    target_id: int,
    now: datetime,
    s: AlertSettings,
    found: dict[str, Any],
) -> None:
    def read() -> None:
        age = timedelta(minutes=s.app_report_max_age_minutes)
        found["app_pools"] = app_reports.fresh_pools(conn, target_id, now, age)
        if found["app_pools"]:
            found["sources"].add(src.APP)

    _guard(found, "application reports", read)


def _errors(
    conn: psycopg.Connection[Any],
    target_id: int,
    now: datetime,
    s: AlertSettings,
    found: dict[str, Any],
) -> None:
    def read() -> None:
        since = now - timedelta(minutes=s.error_rate_window_minutes)
        rates = error_rates(conn, target_id, since, now)
        found["error_rates"] = rates
        if rates.recorded:
            found["sources"].add(src.ERRORS)

    _guard(found, "error counts", read)


def _live(conn: psycopg.Connection[Any], found: dict[str, Any]) -> None:
    def query(name: str) -> list[dict[str, Any]]:
        with pg.guarded(f"live read for alerts ({name})"):
            return pg.fetch_all(conn, pg.query("alerts", name))

    def sessions() -> None:
        found["sessions"] = tuple(
            Session(**{**r, "blocking_pids": tuple(r["blocking_pids"])})
            for r in query("sessions")
        )
        found["sources"].add(src.SESSIONS)

    def replicas() -> None:
        rows = [_replica(r["name"], r) for r in query("replicas")]
        standby = query("standby_lag")
        if standby and standby[0]["standby"]:
            rows.append(_replica("this standby", standby[0]))
        found["replicas"] = tuple(rows)
        found["sources"].add(src.REPLICATION)

    def xid() -> None:
        rows = query("xid_age")
        if rows:
            found["xid_age"] = int(rows[0]["xid_age"])
            found["xid_database"] = rows[0]["datname"]
        found["sources"].add(src.XID)

    def bloat() -> None:
        found["index_bloat"] = tuple(IndexBloat(**r) for r in query("index_bloat"))
        found["sources"].add(src.BLOAT)

    for name, read in (("sessions", sessions), ("replication", replicas),
                       ("xid age", xid), ("index bloat", bloat)):  # fmt: skip
        _guard(found, name, read)


def _replica(name: str, row: dict[str, Any]) -> Replica:
    bytes_ = row["lag_bytes"]
    return Replica(
        name, float(row["lag_s"] or 0), None if bytes_ is None else int(bytes_)
    )
