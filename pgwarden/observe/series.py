"""Time series for the dashboard's charts and one statement's history."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import psycopg

from pgwarden.collect import history
from pgwarden.collect.kinds import KINDS
from pgwarden.observe import analysis, gather, hours
from pgwarden.slowlog.report import slow_queries_per_minute
from pgwarden.sqltext import own

Chart = dict[str, list[Any]]
Row = dict[str, Any]
#: ranges longer than this are drawn from hourly roll-ups
HOURLY_ABOVE = timedelta(days=2)
#: samples further apart than this many typical steps are not joined by a line
GAP_FACTOR = 1.5
#: ... and at least this many seconds longer than a typical step
MIN_BREAK_S = 30.0
#: the database columns the charts draw
DATABASE_COLUMNS = (
    "connections", "conn_active", "conn_idle", "conn_idle_in_xact", "blks_hit",
    "blks_read",
)  # fmt: skip
#: gaps of these parts leave an interval without statement samples
STATEMENT_PARTS = frozenset({"statements", "server"})
HOUR_S = 3600.0
_CONNECTIONS = {
    "total": "connections", "active": "conn_active", "idle": "conn_idle",
    "idle_in_transaction": "conn_idle_in_xact",
}  # fmt: skip


@functools.lru_cache(maxsize=16384)
def _t(ts: datetime) -> float:
    """Seconds since the epoch (each sample's time is converted for several charts)."""
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
    rows: Iterable[Mapping[str, Any]],
    intervals: Mapping[datetime, float],
    gaps: Collection[datetime] = (),
) -> dict[str, Chart]:
    """Queries per second and mean latency per sample (interval from the database).

    A collected interval without any statement is idle (0 queries per second, no
    latency) unless its statements were a recorded gap (null: the line breaks).
    """
    by_ts = {r["ts"]: r for r in rows}
    times = sorted({*by_ts, *intervals})
    qps: list[float | None] = []
    latency: list[float | None] = []
    for ts in times:
        row = by_ts.get(ts)
        if row is None:
            qps.append(None if ts in gaps else 0.0)
            latency.append(None)
            continue
        interval_s = intervals.get(ts, row.get("interval_s"))
        qps.append(analysis.per_second(row["calls"], interval_s))
        latency.append(analysis.mean(row["total_ms"], row["calls"]))
    t = [_t(ts) for ts in times]
    return {
        "queries_per_second": {"t": t, "qps": qps},
        "mean_latency_ms": {"t": t, "mean_ms": latency},
    }


def typical_step(times: Sequence[float]) -> float | None:
    """The median spacing of sample times (seconds), or None below two samples."""
    steps = sorted(b - a for a, b in itertools.pairwise(times) if b > a)
    return steps[len(steps) // 2] if steps else None


def break_gaps(
    chart: Chart, gaps: Iterable[float] = (), step: float | None = None
) -> Chart:
    """The chart with null points where its lines must break.

    At each recorded gap time without a sample, and midway between two samples
    further apart than ``GAP_FACTOR`` times ``step`` and at least ``MIN_BREAK_S``
    more than it (a period without collection).
    uPlot breaks a line at a null instead of joining its neighbours.
    """
    times: list[float] = chart["t"]
    have = set(times)
    breaks = {g for g in gaps if g not in have}
    if step:
        breaks |= {
            (a + b) / 2
            for a, b in itertools.pairwise(times)
            if b - a > GAP_FACTOR * step and b - a - step >= MIN_BREAK_S
        }
    if not breaks:
        return chart
    names = [n for n in chart if n != "t"]
    rows = [(t, *(chart[n][i] for n in names)) for i, t in enumerate(times)]
    rows += [(t, *(None for _ in names)) for t in breaks]
    rows.sort(key=lambda r: r[0])
    columns = list(zip(*rows, strict=True))
    return {"t": list(columns[0]), **{n: list(columns[i + 1]) for i, n in
                                       enumerate(names)}}  # fmt: skip


def statement_gaps(gaps: Iterable[Any], hourly: bool) -> set[datetime]:
    """Interval ends (or their hours) whose statements are a recorded gap."""
    found = {g.to_ts for g in gaps if g.part in STATEMENT_PARTS}
    return {_hour(ts) for ts in found} if hourly else found


def _hour(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def slow_chart(minutes: Iterable[Any], until: datetime) -> Chart:
    """Slow queries per minute by severity (objects with ``minute`` and counts)."""
    found = [m for m in minutes if m.minute < until]
    return {
        "t": [_t(m.minute) for m in found],
        "warning": [m.warning for m in found],
        "critical": [m.critical for m in found],
        "emergency": [m.emergency for m in found],
    }


def roll_up(points: Iterable[history.Point], gauges: Collection[str]) -> list[Row]:
    """Raw samples per hour and key as the collector rolls finished hours up.

    Counters summed, gauges at their maximum, intervals summed; ``ts`` is the
    start of the hour. A measure without any value stays None.
    """
    found: dict[tuple[datetime, tuple[Any, ...]], Row] = {}
    for p in points:
        hour = _hour(p.ts)
        row = found.setdefault(
            (hour, tuple(p.key.values())), {**p.key, "ts": hour, "interval_s": 0.0}
        )
        row["interval_s"] += p.interval_s
        for name, value in p.values.items():
            row[name] = _combine(row.get(name), value, name in gauges)
    return sorted(found.values(), key=lambda r: r["ts"])


def _combine(old: Any, new: Any, gauge: bool) -> Any:
    if old is None or new is None:
        return new if old is None else old
    return max(old, new) if gauge else old + new


def hour_totals(
    rows: Iterable[Mapping[str, Any]], names: Sequence[str], *, summed: bool = True
) -> list[Row]:
    """Rows summed per hour over ``names`` (or, not ``summed``, their maximum)."""
    found: dict[datetime, Row] = {}
    for r in rows:
        hour = _hour(r["ts"])
        row = found.setdefault(hour, {"ts": hour})
        for name in names:
            row[name] = _combine(row.get(name), r[name], not summed)
    return sorted(found.values(), key=lambda r: r["ts"])


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
    *,
    include_own: bool = False,
    cache: hours.HourCache | None = None,
) -> dict[str, Any]:
    """Every chart of the dashboard over ``[since, until)``.

    Queries per second and latency leave out pgwarden's own statements unless
    ``include_own``; recorded gaps and periods without collection break the lines.
    With ``cache``, the samples and totals of finished hours are read once.
    """
    hourly = until - since > HOURLY_ABOVE
    span = Span(since, until, _recent(repo_conn, target_id, since, until, hourly))
    db = _database(repo_conn, target_id, span, cache)
    charts: dict[str, Any] = database_charts(db)
    skip = [] if include_own else sorted(own.own_queryids(gather.texts(
        repo_conn, target_id)))  # fmt: skip
    recorded = history.gaps(repo_conn, target_id, since, until)
    found = _statements(repo_conn, target_id, db, span, skip, include_own, cache)
    intervals = {r["ts"]: float(r["interval_s"]) for r in db}
    charts.update(statement_charts(found, intervals, statement_gaps(recorded, hourly)))
    sizes = _sizes(repo_conn, target_id, db, span, cache)
    charts["table_size_bytes"] = size_chart(sizes)
    step = HOUR_S if hourly else typical_step(charts["connections"]["t"])
    gap_times = {_t(_hour(g.to_ts) if hourly else g.to_ts) for g in recorded}
    for name in list(charts):
        charts[name] = break_gaps(charts[name], gap_times, step)
    minutes = slow_queries_per_minute(repo_conn, target_id, since)
    charts["slow_queries_per_minute"] = slow_chart(minutes, until)
    resolution = "hour" if hourly else "interval"
    return {"since": since.isoformat(), "until": until.isoformat(),
            "resolution": resolution, "charts": charts,
            "gaps": [_gap(g) for g in recorded],
            "own_statements": {"excluded": not include_own,
                               "statements": len(skip)}}  # fmt: skip


class Span(NamedTuple):
    """The range of the charts; for hourly ones, the first hour not rolled up yet."""

    since: datetime
    until: datetime
    recent: datetime | None = None

    @property
    def rolled_up(self) -> datetime:
        """Where the roll-ups end and the raw samples of the recent hour begin."""
        return self.until if self.recent is None else max(self.recent, self.since)


def _recent(
    conn: psycopg.Connection[Any],
    target_id: int,
    since: datetime,
    until: datetime,
    hourly: bool,
) -> datetime | None:
    """The hour of the last collected interval, while the collector has not rolled
    it up (it does when the hour is over), if the hourly charts show it."""
    last = history.latest_interval(conn, target_id) if hourly else None
    if last is None or not since <= last.ts < until:
        return None
    return _hour(last.ts)


def _database(
    conn: psycopg.Connection[Any],
    target_id: int,
    span: Span,
    cache: hours.HourCache | None,
) -> list[dict[str, Any]]:
    """The database samples the charts draw (hourly roll-ups for long ranges).

    Raw samples of the hours before the last collected interval's are packed and
    final: with ``cache`` they are read once. Hourly charts end with the hour being
    collected, rolled up here from its raw samples.
    """
    since, until, _ = span
    if until - since > HOURLY_ABOVE:
        found = history.hourly_series(
            conn, "database", target_id, since, span.rolled_up
        )
        rows = [gather.flat(p) for p in found]
        if span.rolled_up < until:
            raw = history.series(conn, "database", target_id, span.rolled_up, until,
                                 columns=DATABASE_COLUMNS)  # fmt: skip
            rows += roll_up(raw, KINDS["database"].gauges)
        return rows

    def read(start: datetime, end: datetime) -> list[dict[str, Any]]:
        found = history.series(
            conn, "database", target_id, start, end, columns=DATABASE_COLUMNS
        )
        return [gather.flat(p) for p in found]

    last = history.latest_interval(conn, target_id) if cache is not None else None
    packed = hours.hour_of(last.ts) if last is not None else since
    return hours.by_ts(read, since, until, packed, cache, ("database", target_id))


def _statements(
    conn: psycopg.Connection[Any],
    target_id: int,
    db: Sequence[Mapping[str, Any]],
    span: Span,
    skip: Sequence[int],
    include_own: bool,
    cache: hours.HourCache | None,
) -> list[dict[str, Any]]:
    """Statement totals per sample (raw) or per hour, the database's statements.

    Raw intervals come from the collector's per-cycle totals where it wrote them;
    the hour being collected is summed from them.
    """
    if not db:
        return []
    dbid = int(db[-1]["datid"])
    params = {"dbid": dbid, "exclude": list(skip), "own": include_own}
    key = (target_id, dbid, tuple(skip), include_own)
    found = _cached(conn, "statement", target_id, db, span, params, key, cache)
    if span.rolled_up >= span.until:
        return found
    recent = gather.rows(conn, "statement_by_ts", target_id=target_id,
                         since=span.rolled_up, until=span.until, **params)  # fmt: skip
    return found + hour_totals(recent, ("calls", "total_ms"))


def _sizes(
    conn: psycopg.Connection[Any],
    target_id: int,
    db: Sequence[Mapping[str, Any]],
    span: Span,
    cache: hours.HourCache | None,
) -> list[dict[str, Any]]:
    """The total size of the tables per sample (raw) or per hour (for the hour being
    collected, the largest total of its samples: one row per sample, whatever the
    number of tables)."""
    found = _cached(conn, "table_size", target_id, db, span, {}, (target_id,), cache)
    if span.rolled_up >= span.until:
        return found
    recent = gather.rows(conn, "table_size_by_ts", target_id=target_id,
                         since=span.rolled_up, until=span.until)  # fmt: skip
    return found + hour_totals(recent, ("total_size_bytes",), summed=False)


def _cached(
    conn: psycopg.Connection[Any],
    prefix: str,
    target_id: int,
    db: Sequence[Mapping[str, Any]],
    span: Span,
    params: Mapping[str, Any],
    key: tuple[Any, ...],
    cache: hours.HourCache | None,
) -> list[dict[str, Any]]:
    """Rows of ``<prefix>_by_ts`` or ``<prefix>_by_hour``; finished hours cached.

    Hourly rows end where the roll-ups do (``span.rolled_up``).
    """
    since, until = span.since, span.rolled_up
    hourly = span.until - since > HOURLY_ABOVE
    name = f"{prefix}_by_hour" if hourly else f"{prefix}_by_ts"

    def read(start: datetime, end: datetime) -> list[dict[str, Any]]:
        return gather.rows(
            conn, name, target_id=target_id, since=start, until=end, **params
        )

    if not db:
        return read(since, until)
    # hours before the latest one seen are packed (raw) or rolled up, and final
    if span.recent is not None:
        packed = span.recent
    else:
        packed = hours.hour_of(db[-1]["ts"]) + (hours.HOUR if hourly else timedelta(0))
    return hours.by_ts(read, since, until, packed, cache, (name, *key))


def _gap(gap: Any) -> dict[str, Any]:
    start = gap.from_ts.isoformat() if gap.from_ts else None
    return {"part": gap.part, "from": start, "to": gap.to_ts.isoformat(),
            "reason": gap.reason}  # fmt: skip


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
