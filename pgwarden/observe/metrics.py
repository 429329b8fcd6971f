"""``performance_metrics``: the one source of the dashboard, the CLI and /metrics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import psycopg

from pgwarden.collect import history
from pgwarden.collect.kinds import WINDOW
from pgwarden.config import Settings
from pgwarden.errors import MissingCapability
from pgwarden.observe import analysis, gather, hours, indexes
from pgwarden.observe.errors import ErrorRates, error_rates
from pgwarden.observe.model import (
    CacheHit,
    OwnStatements,
    PerformanceMetrics,
    SlowRate,
    TopQuery,
)
from pgwarden.slowlog.report import slow_queries_per_minute
from pgwarden.sqltext import own

#: slowest queries are ranked over this much history
TOP_WINDOW = WINDOW
#: table growth per day is measured over at most this much history
GROWTH_WINDOW = timedelta(days=7)
TOP_LIMIT = 10


def performance_metrics(
    repo_conn: psycopg.Connection[Any],
    target_id: int | None,
    now: datetime,
    settings: Settings,
    *,
    target_name: str | None = None,
    target_conn: psycopg.Connection[Any] | None = None,
    target_dsn: str | None = None,
    app_cache_ratio: float | None = None,
    include_own: bool = False,
    cache: hours.HourCache | None = None,
) -> PerformanceMetrics:
    """Metrics of the last collected interval, or a live read when there is none.

    pgwarden's own statements (:mod:`pgwarden.sqltext.own`) are left out of the
    slowest queries, queries per second and mean latency unless ``include_own``.
    Unused indexes need the target's catalog: through ``target_conn``, else a
    connection to ``target_dsn`` (unknown without either).
    With ``cache``, the index scans of finished hours and the catalog are read once.
    """
    empty = _empty(now, settings, target_name, app_cache_ratio)
    if target_id is None:
        return _live(empty, target_conn, "no history for this target yet")
    empty = replace(empty, error_rates=_errors(repo_conn, target_id, now, settings))
    last = history.latest_interval(repo_conn, target_id)
    db = gather.points_at(repo_conn, "database", target_id, last.ts) if last else []
    if last is None or not db:
        return _live(empty, target_conn, "no completed interval collected yet")
    point = gather.flat(db[0])
    empty = replace(empty, own_statements=OwnStatements(excluded=not include_own))
    target = target_conn if target_conn is not None else target_dsn
    return _from_history(
        repo_conn, target_id, now, settings, empty, point, target, cache
    )


def _errors(
    conn: psycopg.Connection[Any], target_id: int, now: datetime, settings: Settings
) -> ErrorRates | None:
    """The errors of the alert window, as the ``error_rate`` rule judges them;
    None while the repository lacks their tables."""
    since = now - timedelta(minutes=settings.alerts.error_rate_window_minutes)
    try:
        return error_rates(conn, target_id, since, now)
    except MissingCapability:
        return None


def _empty(
    now: datetime, settings: Settings, name: str | None, app_ratio: float | None
) -> PerformanceMetrics:
    return PerformanceMetrics(
        generated_at=now, target=name,
        refresh_seconds=settings.dashboard.refresh_seconds, source="none",
        interval_end=None, interval_seconds=None, active_connections=None,
        queries_per_second=None, transactions_per_second=None, mean_latency_ms=None,
        cache_hit_ratio=CacheHit(None, app_ratio), index_usage=(),
        index_window_days=settings.index_health.unused_days, slowest_queries=(),
        table_sizes=(), slow_queries_per_minute=SlowRate(),
        collect_interval_seconds=settings.collect.interval_seconds,
    )  # fmt: skip


def _live(
    empty: PerformanceMetrics, conn: psycopg.Connection[Any] | None, why: str
) -> PerformanceMetrics:
    if conn is None:
        return replace(empty, notes=(why,))
    row = gather.live_database(conn)
    ratio = analysis.ratio(row.get("blks_hit"), row.get("blks_read"))
    return replace(
        empty,
        source="live",
        active_connections=analysis.connections(row),
        cache_hit_ratio=replace(empty.cache_hit_ratio, database=ratio),
        notes=(f"{why}: live read; cache hit ratio since the statistics reset",),
    )


def _from_history(
    conn: psycopg.Connection[Any],
    target_id: int,
    now: datetime,
    settings: Settings,
    empty: PerformanceMetrics,
    db: Mapping[str, Any],
    target: indexes.Target,
    cache: hours.HourCache | None = None,
) -> PerformanceMetrics:
    ts, interval_s = db["ts"], db["interval_s"]
    dbid, texts = int(db["datid"]), gather.texts(conn, target_id)
    skip = _skip(texts, not empty.own_statements.excluded)
    top, left_out = _top(conn, target_id, dbid, ts, "mean", TOP_LIMIT, texts, skip)
    calls, total_ms, own_calls = _interval(
        conn, target_id, dbid, ts, skip, not empty.own_statements.excluded
    )
    excluded = replace(empty.own_statements, statements=left_out, calls=own_calls)
    xacts = (db.get("xact_commit") or 0) + (db.get("xact_rollback") or 0)
    ratio = analysis.ratio(db.get("blks_hit"), db.get("blks_read"))
    found = indexes.index_usage(conn, target_id, ts, now, settings, target, cache)
    return replace(
        empty,
        source="history",
        interval_end=ts,
        interval_seconds=interval_s,
        active_connections=analysis.connections(db),
        queries_per_second=analysis.per_second(calls, interval_s),
        transactions_per_second=analysis.per_second(xacts, interval_s),
        mean_latency_ms=analysis.mean(total_ms, calls),
        cache_hit_ratio=replace(empty.cache_hit_ratio, database=ratio),
        index_usage=found.usage,
        unused_indexes=found.unused,
        slowest_queries=top,
        table_sizes=_tables(conn, target_id, ts),
        slow_queries_per_minute=_slow_rate(conn, target_id, now),
        own_statements=excluded,
        notes=(found.note,) if found.note else (),
    )


def _interval(
    conn: psycopg.Connection[Any],
    target_id: int,
    dbid: int,
    ts: datetime,
    skip: frozenset[int],
    include_own: bool,
) -> tuple[int, float | None, int]:
    """Calls and time of the interval ending at ``ts``, and pgwarden's own calls.

    From the collector's per-cycle totals; from the statements' samples for an
    interval collected before the collector wrote totals.
    """
    total = gather.interval_total(conn, target_id, dbid, ts)
    if total is not None:
        calls, ms = int(total["calls"]), float(total["total_exec_ms"])
        own_calls = int(total["own_calls"])
        if include_own:
            return calls + own_calls, ms + float(total["own_exec_ms"]), own_calls
        return calls, ms, own_calls
    found = gather.statement_totals(conn, target_id, dbid, ts, ts + gather.TICK)
    kept, own_rows = analysis.split_own(found, skip)
    calls, total_ms = analysis.calls_and_time(kept)
    own, _ = analysis.calls_and_time(own_rows)
    return calls, total_ms, own


def _skip(texts: Mapping[int, str], include_own: bool) -> frozenset[int]:
    """The statement ids of pgwarden's own statements, unless they are included."""
    return frozenset() if include_own else own.own_queryids(texts)


def _top(
    conn: psycopg.Connection[Any],
    target_id: int,
    dbid: int,
    ts: datetime,
    by: analysis.SortKey,
    limit: int,
    texts: Mapping[int, str],
    skip: frozenset[int],
) -> tuple[tuple[TopQuery, ...], int]:
    """The top statements, and how many of pgwarden's own were left out.

    From the collector's sums of the window ending at ``ts``; from the statements'
    samples for an interval collected before the collector wrote them.
    """
    since = ts - TOP_WINDOW
    found = gather.statement_window(conn, target_id, dbid, ts)
    if not found:
        found = gather.statement_totals(conn, target_id, dbid, since, ts + gather.TICK)
    kept, left_out = analysis.split_own(found, skip)
    slow = gather.slow_by_query(conn, target_id, since)
    return analysis.top_queries(kept, texts, slow, by, limit), len(left_out)


def top_queries(
    repo_conn: psycopg.Connection[Any],
    target_id: int,
    by: analysis.SortKey = "total",
    limit: int = 10,
    *,
    include_own: bool = False,
) -> tuple[TopQuery, ...]:
    """Top statements of the last hour of history, by total or mean time or calls."""
    return top_queries_counted(repo_conn, target_id, by, limit, include_own)[0]


def top_queries_counted(
    repo_conn: psycopg.Connection[Any],
    target_id: int,
    by: analysis.SortKey = "total",
    limit: int = 10,
    include_own: bool = False,
) -> tuple[tuple[TopQuery, ...], int]:
    """:func:`top_queries` and how many of pgwarden's own statements it left out."""
    last = history.latest_interval(repo_conn, target_id)
    db = gather.points_at(repo_conn, "database", target_id, last.ts) if last else []
    if not db:
        return (), 0
    texts = gather.texts(repo_conn, target_id)
    dbid, ts = int(db[0].key["datid"]), db[0].ts
    skip = _skip(texts, include_own)
    return _top(repo_conn, target_id, dbid, ts, by, limit, texts, skip)


def _tables(
    conn: psycopg.Connection[Any], target_id: int, ts: datetime
) -> tuple[Any, ...]:
    since = ts - GROWTH_WINDOW
    first = gather.rows(conn, "table_first_size", target_id=target_id, since=since)
    latest = [gather.flat(p) for p in gather.points_at(conn, "table", target_id, ts)]
    by_relid = {int(r["relid"]): r for r in first}
    return analysis.table_sizes(latest, by_relid, gather.names(conn, target_id), ts)


def _slow_rate(
    conn: psycopg.Connection[Any], target_id: int, now: datetime
) -> SlowRate:
    return analysis.slow_rate(
        slow_queries_per_minute(conn, target_id, now - timedelta(minutes=1))
    )
