"""Time series for the dashboard's charts and one statement's history."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import psycopg

from pgwarden.collect import history
from pgwarden.observe import analysis, gather
from pgwarden.slowlog.report import slow_queries_per_minute

Chart = dict[str, list[Any]]
#: ranges longer than this are drawn from hourly roll-ups
HOURLY_ABOVE = timedelta(days=2)
_CONNECTIONS = {
    "total": "connections", "active": "conn_active", "idle": "conn_idle",
    "idle_in_transaction": "conn_idle_in_xact",
}  # fmt: skip


def _t(ts: datetime) -> float:
    return ts.timestamp()


def database_charts(points: Iterable[Mapping[str, Any]]) -> dict[str, Chart]:
    """Connections and cache hit ratio per sample."""
    rows = list(points)
    connections: Chart = {"t": [_t(r["ts"]) for r in rows]}
    for name, column in _CONNECTIONS.items():
        connections[name] = [r.get(column) for r in rows]
    cache: Chart = {
        "t": [_t(r["ts"]) for r in rows],
        "ratio": [analysis.ratio(r.get("blks_hit"), r.get("blks_read")) for r in rows],
    }
    return {"connections": connections, "cache_hit_ratio": cache}


def statement_charts(
    rows: Iterable[Mapping[str, Any]], intervals: Mapping[datetime, float]
) -> dict[str, Chart]:
    """Queries per second and mean latency per sample (interval from the database)."""
    found = list(rows)
    times = [_t(r["ts"]) for r in found]
    qps = [
        analysis.per_second(r["calls"], intervals.get(r["ts"], r.get("interval_s")))
        for r in found
    ]
    latency = [analysis.mean(r["total_ms"], r["calls"]) for r in found]
    return {
        "queries_per_second": {"t": times, "qps": qps},
        "mean_latency_ms": {"t": times, "mean_ms": latency},
    }


def slow_chart(minutes: Iterable[Any], until: datetime) -> Chart:
    """Slow queries per minute by severity (objects with ``minute`` and counts)."""
    found = [m for m in minutes if m.minute < until]
    return {
        "t": [_t(m.minute) for m in found],
        "warning": [m.warning for m in found],
        "critical": [m.critical for m in found],
        "emergency": [m.emergency for m in found],
    }


def size_chart(rows: Iterable[Mapping[str, Any]]) -> Chart:
    found = list(rows)
    return {
        "t": [_t(r["ts"]) for r in found],
        "total_size_bytes": [r["total_size_bytes"] for r in found],
    }


def timeseries(
    repo_conn: psycopg.Connection[Any],
    target_id: int,
    since: datetime,
    until: datetime,
) -> dict[str, Any]:
    """Every chart of the dashboard over ``[since, until)``."""
    hourly = until - since > HOURLY_ABOVE
    read = history.hourly_series if hourly else history.series
    db = [gather.flat(p) for p in read(repo_conn, "database", target_id, since, until)]
    charts: dict[str, Any] = database_charts(db)
    params = {"target_id": target_id, "since": since, "until": until}
    statements, sizes = "statement_by_ts", "table_size_by_ts"
    if hourly:
        statements, sizes = "statement_by_hour", "table_size_by_hour"
    if db:
        dbid = int(db[-1]["datid"])
        found = gather.rows(repo_conn, statements, dbid=dbid, **params)
        intervals = {r["ts"]: float(r["interval_s"]) for r in db}
        charts.update(statement_charts(found, intervals))
    else:
        charts.update(statement_charts([], {}))
    charts["table_size_bytes"] = size_chart(gather.rows(repo_conn, sizes, **params))
    minutes = slow_queries_per_minute(repo_conn, target_id, since)
    charts["slow_queries_per_minute"] = slow_chart(minutes, until)
    resolution = "hour" if hourly else "interval"
    return {"since": since.isoformat(), "until": until.isoformat(),
            "resolution": resolution, "charts": charts}  # fmt: skip


def statement_points(points: Iterable[Any]) -> Chart:
    """One statement's samples summed per interval (over databases and roles)."""
    by_ts: dict[datetime, dict[str, float]] = {}
    for p in points:
        acc = by_ts.setdefault(p.ts, {"calls": 0, "total_ms": 0.0, "rows": 0})
        acc["interval_s"] = p.interval_s
        acc["calls"] += p.values.get("calls") or 0
        acc["total_ms"] += p.values.get("total_exec_ms") or 0.0
        acc["rows"] += p.values.get("rows") or 0
    ordered = sorted(by_ts.items())
    return {
        "t": [_t(ts) for ts, _ in ordered],
        "calls": [int(a["calls"]) for _, a in ordered],
        "calls_per_second": [
            analysis.per_second(a["calls"], a["interval_s"]) for _, a in ordered
        ],
        "mean_ms": [analysis.mean(a["total_ms"], a["calls"]) for _, a in ordered],
        "total_ms": [a["total_ms"] for _, a in ordered],
        "rows": [int(a["rows"]) for _, a in ordered],
    }


def query_history(
    repo_conn: psycopg.Connection[Any],
    target_id: int,
    queryid: int,
    since: datetime,
    until: datetime,
) -> dict[str, Any] | None:
    """Text, samples and recorded slow executions of one statement; None if unknown."""
    texts = history.statement_texts(repo_conn, target_id, queryid)
    if not texts:
        return None
    points = history.statement_series(repo_conn, target_id, since, until, queryid)
    slow = gather.rows(
        repo_conn, "slow_of_query", target_id=target_id, queryid=queryid,
        since=since, until=until,
    )  # fmt: skip
    return {
        "queryid": str(queryid),
        "query": texts[0].query,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "series": statement_points(p for p in points if p.key["toplevel"]),
        "slow_executions": [{**r, "ts": r["ts"].isoformat()} for r in slow],
    }
