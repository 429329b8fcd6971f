"""Admin API latency on 30 days of history at 1,000 statements: the dashboard's
three chart resources against a 100 ms goal, every other page's API against 300 ms.

Builds the history of one target in a repository on an embedded server with SQL
(``INSERT … SELECT generate_series`` into the collector's ``_current``, ``_history``
and ``_hourly`` tables, partitions from ``ensure_partitions``): raw samples every
minute for ``collect.raw_retention_days`` (7), hourly roll-ups for 30 days, 1,000
statements (a few of them pgwarden's own), 24 tables and 96 indexes. Statement
columns the dashboard never reads are left NULL.

Then serves the app with uvicorn on loopback and times N requests per resource
with httpx after a warm-up, and times the underlying queries bare (psycopg, same
parameters) for comparison. Every other ``GET /api/admin/*`` route the app has is
timed too (the pages' APIs, found in the app's routes; a path parameter is filled
with a statement of the history, or the route is listed as not timed); the live
reads of the target go to the bench database itself.

    python bench/api_latency.py [--requests 200] [--days 30] [--statements 1000]
                                [--budget 30] [--explain] [--no-totals]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

from pgwarden import pg
from pgwarden.collect import history
from pgwarden.collect.kinds import KINDS, WINDOW, Kind
from pgwarden.collect.partitions import ensure_partitions
from pgwarden.collect.store import save_window
from pgwarden.config import Settings
from pgwarden.embedded import EmbeddedServer
from pgwarden.observe import gather, metrics, series
from pgwarden.repository import migrate
from pgwarden.web import create_app
from pgwarden.web.server import make_server

GOAL_MS = 100.0
PAGE_GOAL_MS = 300.0
TARGET = "bench"
TOKEN = "bench-token-0123456789"
DBID = 16384
SAMPLES = 60  # one per minute per hour
#: statement columns the dashboard reads; the others stay NULL
STATEMENT_COLUMNS = (
    "calls",
    "rows",
    "total_exec_ms",
    "plans",
    "shared_blks_hit",
    "shared_blks_read",
)
RESOURCES = (
    "/api/admin/performance-metrics",
    "/api/admin/timeseries?range=24h",
    "/api/admin/timeseries?range=7d",
)


def _keys(kind: Kind, statements: int) -> str:
    """A SELECT of the key columns of ``kind``'s synthetic keys."""
    if kind.name == "statement":
        return (
            f"SELECT {DBID}::bigint AS dbid, 10::bigint AS userid, "
            f"(1000003 * k)::bigint AS queryid, true AS toplevel "
            f"FROM generate_series(1, {statements}) k"
        )
    count = {"database": 1, "table": 24, "index": 96}[kind.name]
    column = kind.key_names[0]
    base = {"database": DBID, "table": 100000, "index": 200000}[kind.name]
    return (
        f"SELECT ({base} + k - 1)::bigint AS {column} "
        f"FROM generate_series(1, {count}) k"
    )


def _columns(kind: Kind) -> list[tuple[str, str]]:
    wanted = STATEMENT_COLUMNS if kind.name == "statement" else kind.value_names
    return [(c.name, c.sqltype) for c in kind.columns if c.name in wanted]


def _array(name: str, sqltype: str) -> str:
    scale = 50 if name == "total_exec_ms" else 1000
    return (
        f"array(SELECT (random() * {scale} * (1 + k.ord % 7))::{sqltype} "
        f"FROM generate_series(1, {SAMPLES}) WHERE k.ord IS NOT NULL) "
        f"AS {name}"
    )


def build_kind(
    conn: psycopg.Connection[Any],
    kind: Kind,
    target_id: int,
    statements: int,
    span: dict[str, datetime],
) -> None:
    """Template arrays per key, then history, roll-ups and the current hour."""
    columns = _columns(kind)
    names = ", ".join(n for n, _ in columns)
    keys = ", ".join(kind.key_names)
    arrays = ", ".join(_array(n, t) for n, t in columns)
    conn.execute(
        f"DROP TABLE IF EXISTS tpl; CREATE TEMP TABLE tpl AS SELECT k.*, "
        f"{arrays} FROM (SELECT *, row_number() OVER () AS ord FROM "
        f"({_keys(kind, statements)}) s) k"
    )
    rollups = ", ".join(
        f"(SELECT {'max' if n in kind.gauges else 'sum'}(x) FROM unnest({n}) x) AS {n}"
        for n, _ in columns
    )
    conn.execute(
        f"DROP TABLE IF EXISTS tpl_sum; CREATE TEMP TABLE tpl_sum AS "
        f"SELECT {keys}, {rollups} FROM tpl"
    )
    params = {"t": target_id, **span}
    # statement intervals are their cycle's (collect_cycle): a NULL array
    intervals = "NULL" if kind.cycle_interval else "array_fill(60000, ARRAY[60])"
    conn.execute(
        f"INSERT INTO pgwarden.{kind.history} (target_id, hour, {keys}, at_ms, "
        f"interval_ms, {names}) SELECT %(t)s, h, {keys}, "
        f"array(SELECT m * 60000 FROM generate_series(0, 59) m), "
        f"{intervals}, {names} FROM tpl, "
        f"generate_series(%(raw_from)s::timestamptz, %(hour)s::timestamptz "
        f"- interval '1 hour', interval '1 hour') h",
        params,
    )
    conn.execute(
        f"INSERT INTO pgwarden.{kind.hourly} (target_id, hour, {keys}, samples, "
        f"interval_s, {names}) SELECT %(t)s, h, {keys}, 60, 3600, {names} "
        f"FROM tpl_sum, "
        f"generate_series(%(rollup_from)s::timestamptz, %(hour)s::timestamptz "
        f"- interval '1 hour', interval '1 hour') h",
        params,
    )
    picked = ", ".join(f"{n}[1 + m %% 60]" for n, _ in columns)
    conn.execute(
        f"INSERT INTO pgwarden.{kind.current} (target_id, ts, interval_s, {keys}, "
        f"{names}) SELECT %(t)s, %(hour)s::timestamptz + m * interval '1 minute', 60, "
        f"{keys}, {picked} FROM tpl, generate_series(0, %(minutes)s) m",
        {**params, "minutes": int((span["last"] - span["hour"]).total_seconds() // 60)},
    )


def build_totals(
    conn: psycopg.Connection[Any], target_id: int, statements: int, span: dict[str, Any]
) -> None:
    """The collector's per-cycle statement totals, from the statement template."""
    conn.execute(
        "INSERT INTO pgwarden.statement_total (target_id, ts, dbid, interval_s, "
        "calls, total_exec_ms, rows, shared_blks_hit, shared_blks_read, own_calls, "
        "own_exec_ms) SELECT %(t)s, h + s.m * interval '1 minute', %(dbid)s, 60, "
        "s.calls, s.ms, s.rows, s.hit, s.read, s.own_calls, s.own_ms FROM ("
        " SELECT m, sum(calls[m + 1]) FILTER (WHERE NOT own) AS calls,"
        " sum(total_exec_ms[m + 1]) FILTER (WHERE NOT own) AS ms,"
        " sum(rows[m + 1]) FILTER (WHERE NOT own) AS rows,"
        " sum(shared_blks_hit[m + 1]) FILTER (WHERE NOT own) AS hit,"
        " sum(shared_blks_read[m + 1]) FILTER (WHERE NOT own) AS read,"
        " sum(calls[m + 1]) FILTER (WHERE own) AS own_calls,"
        " sum(total_exec_ms[m + 1]) FILTER (WHERE own) AS own_ms"
        " FROM (SELECT *, queryid / 1000003 > %(n)s * 0.98 AS own FROM tpl) t,"
        " generate_series(0, 59) m GROUP BY m) s, "
        "generate_series(%(raw_from)s::timestamptz, %(last)s, interval '1 hour') h "
        "WHERE h + s.m * interval '1 minute' <= %(last)s",
        {"t": target_id, "dbid": DBID, "n": statements, **span},
    )


def build(
    conn: psycopg.Connection[Any], days: int, statements: int, totals: bool = True
) -> int:
    """The synthetic history of target ``bench``; its id.

    Without ``totals``, no per-cycle statement totals and no statement window:
    charts and top statements unpack the arrays, as before the collector wrote
    them.
    """
    settings = Settings()
    now = datetime.now(UTC)
    last = now.replace(second=0, microsecond=0)
    hour = last.replace(minute=0)
    raw_days = min(days, settings.collect.raw_retention_days)
    span = {
        "last": last,
        "hour": hour,
        "raw_from": hour - timedelta(days=raw_days),
        "rollup_from": hour - timedelta(days=days),
    }
    ensure_partitions(conn, now, since=span["rollup_from"])
    row = conn.execute(
        "INSERT INTO pgwarden.target (name, server_version_num) "
        "VALUES (%s, 180000) RETURNING id",
        [TARGET],
    ).fetchone()
    assert row is not None
    target_id = int(row[0])
    for kind in KINDS.values():
        started = time.perf_counter()
        build_kind(conn, kind, target_id, statements, span)
        if kind.name == "statement" and totals:
            build_totals(conn, target_id, statements, span)
        print(f"  {kind.name}: {time.perf_counter() - started:.1f} s", flush=True)
    _names(conn, target_id, statements)
    conn.execute(
        "INSERT INTO pgwarden.collect_cycle (target_id, ts, prev_ts, duration_ms, "
        "statements, new_texts, disabled) SELECT %s, ts, ts - interval '1 minute', "
        "40, %s, 0, '{}' FROM generate_series(%s::timestamptz, %s, "
        "interval '1 minute') ts",
        [target_id, statements, span["raw_from"], last],
    )
    if totals:  # what the collector's last cycle wrote
        save_window(conn, target_id, last, WINDOW)
    conn.execute(
        "INSERT INTO pgwarden.collect_gap (target_id, part, from_ts, to_ts, reason) "
        "VALUES (%s, 'server', %s, %s, 'server restarted')",
        [target_id, last - timedelta(days=3, minutes=1), last - timedelta(days=3)],
    )
    return target_id


def _names(conn: psycopg.Connection[Any], target_id: int, statements: int) -> None:
    """Texts (the last 2 % pgwarden's own reads) and relation names."""
    conn.execute(
        "INSERT INTO pgwarden.statement_text (target_id, dbid, userid, queryid, "
        "toplevel, datname, rolname, query, query_length) SELECT %s, %s, 10, "
        "1000003 * k, true, 'app', 'app', q, length(q) FROM generate_series(1, %s) k, "
        "LATERAL (SELECT CASE WHEN k > %s * 0.98 THEN 'SELECT ts FROM "
        "pgwarden.statement_current WHERE target_id = $1 AND k = ' || k ELSE "
        '\'SELECT "id", "tenantId", "status" FROM "Table\' || k %% 24 || \'" '
        'WHERE "tenantId" = $1 AND "createdAt" > $2 /* \' || repeat(\'x\', k %% 200) '
        "|| ' */ LIMIT $3' END AS q) t",
        [target_id, DBID, statements, statements],
    )
    conn.execute(
        "INSERT INTO pgwarden.relation (target_id, kind, relid, schema_name, "
        "rel_name, table_relid) SELECT %s, 'table', 100000 + k, 'public', "
        "'Table' || k, NULL FROM generate_series(0, 23) k UNION ALL SELECT %s, "
        "'index', 200000 + k, 'public', 'Index' || k, 100000 + k %% 24 "
        "FROM generate_series(0, 95) k",
        [target_id, target_id],
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def page_resources(app: Any, queryid: int) -> tuple[list[str], list[str]]:
    """Every other GET of /api/admin (to time) and those it cannot fill (to list),
    from the app's OpenAPI description."""
    timed, skipped = [], []
    for path, methods in app.openapi()["paths"].items():
        if "get" not in methods or not path.startswith("/api/admin"):
            continue
        if any(path == r.split("?")[0] for r in RESOURCES):
            continue
        filled = path.replace("{queryid}", str(queryid))
        (skipped if "{" in filled else timed).append(filled)
    return timed, skipped


@contextmanager
def serving(dsn: str) -> Iterator[tuple[str, Any]]:
    port = _free_port()
    app = create_app(Settings(), dsn, TARGET, TOKEN, target_dsn=dsn)
    server = make_server(app, "127.0.0.1", port, access_log=False)
    server.config.log_level = "warning"
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(10)


def percentiles(times: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


def _get(client: httpx.Client, path: str) -> float:
    start = time.perf_counter()
    response = client.get(path)
    if response.status_code != 404:  # 404: nothing recorded yet, a valid answer
        response.raise_for_status()
    return (time.perf_counter() - start) * 1000


def time_requests(
    url: str, requests: int, budget_s: float, paths: list[str]
) -> dict[str, tuple[float, list[float]]]:
    """Per resource: the first (cold) request, then up to N after a warm-up of 10."""
    found: dict[str, tuple[float, list[float]]] = {}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        for path in paths:
            cold = _get(client, path)
            for _ in range(10):
                _get(client, path)
            times: list[float] = []
            deadline = time.monotonic() + budget_s
            while len(times) < requests and time.monotonic() < deadline:
                times.append(_get(client, path))
            found[path] = (cold, times)
    return found


def bare_queries(target_id: int) -> dict[str, Callable[[psycopg.Connection[Any]], Any]]:
    """The reads behind the three resources, with the parameters they use."""
    now = datetime.now(UTC)
    day, week = now - timedelta(hours=24), now - timedelta(days=7)
    with_ids = {"target_id": target_id, "dbid": DBID, "exclude": [], "own": False}

    def named(name: str, **params: Any) -> Callable[[psycopg.Connection[Any]], Any]:
        return lambda c: gather.rows(c, name, **params)

    last = now.replace(second=0, microsecond=0)
    return {
        "statement_totals (1 h)": named(
            "statement_totals", **with_ids, since=last - metrics.TOP_WINDOW, until=now
        ),
        "statement_by_ts (24 h)": named(
            "statement_by_ts", **with_ids, since=day, until=now
        ),
        "statement_by_hour (7 d)": named(
            "statement_by_hour", **with_ids, since=week, until=now
        ),
        "database series (24 h)": lambda c: history.series(
            c, "database", target_id, day, now, columns=series.DATABASE_COLUMNS
        ),
        "table_size_by_ts (24 h)": named(
            "table_size_by_ts", target_id=target_id, since=day, until=now
        ),
        "table_first_size (7 d)": named(
            "table_first_size", target_id=target_id, since=week
        ),
        "statement_window (1 h)": named(
            "statement_window", target_id=target_id, dbid=DBID, ts=last
        ),
        "index_hours (30 d)": named(
            "index_hours",
            target_id=target_id,
            since=now - timedelta(days=30),
            until=last.replace(minute=0),
        ),
        "index_recent (30 d)": named(
            "index_recent",
            target_id=target_id,
            since=now - timedelta(days=30),
            after=last.replace(minute=0),
        ),
        "statement texts": lambda c: gather.texts(c, target_id),
    }


def time_bare(dsn: str, target_id: int, runs: int = 10) -> dict[str, float]:
    found = {}
    with pg.connect(dsn, statement_timeout_ms=None) as conn:
        for name, run in bare_queries(target_id).items():
            run(conn)
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                run(conn)
                times.append((time.perf_counter() - start) * 1000)
            found[name] = statistics.median(times)
    return found


def explain(dsn: str, target_id: int) -> None:
    now = datetime.now(UTC)
    params = {
        "target_id": target_id,
        "dbid": DBID,
        "exclude": [],
        "own": False,
        "since": now - timedelta(hours=24),
        "until": now,
    }
    with pg.connect(dsn, statement_timeout_ms=None) as conn:
        text = pg.query("observe", "statement_by_ts")
        query = sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + sql.SQL(text)
        for row in conn.execute(query, params):
            print("   ", row[0])


def run(server: EmbeddedServer, args: argparse.Namespace) -> None:
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE bench")
    dsn = server.dsn("bench")
    with pg.connect(dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
    start = time.perf_counter()
    with pg.connect(dsn, autocommit=False, statement_timeout_ms=None) as conn:
        target_id = build(conn, args.days, args.statements, not args.no_totals)
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        size = conn.execute("SELECT pg_size_pretty(pg_database_size('bench'))")
        built = (size.fetchone() or ["?"])[0]
    print(
        f"history: {args.days} days, {args.statements} statements, 24 tables, "
        f"96 indexes; built in {time.perf_counter() - start:.0f} s ({built})"
    )
    with serving(dsn) as (url, app):
        timings = time_requests(url, args.requests, args.budget, list(RESOURCES))
        pages, skipped = page_resources(app, 1000003)
        page_timings = time_requests(url, args.pages_requests, args.budget, pages)
    print(
        f"\n{'GET':<40} {'n':>4} {'cold':>8} {'p50':>8} {'p95':>8} {'p99':>8}  p95/goal"
    )
    for goal, found in ((GOAL_MS, timings), (PAGE_GOAL_MS, page_timings)):
        for path, (cold, times) in found.items():
            p50, p95, p99 = percentiles(times)
            print(
                f"{path.removeprefix('/api/admin'):<40} {len(times):4d} {cold:6.0f}ms "
                f"{p50:6.1f}ms {p95:6.1f}ms {p99:6.1f}ms  {p95 / goal:.2f} "
                f"({goal:.0f} ms)"
            )
    if page_timings:
        worst = max(page_timings, key=lambda p: percentiles(page_timings[p][1])[1])
        p95 = percentiles(page_timings[worst][1])[1]
        print(f"slowest page resource: {worst} p95 {p95:.1f} ms "
              f"= {p95 / PAGE_GOAL_MS:.2f} of {PAGE_GOAL_MS:.0f} ms")  # fmt: skip
    for path in skipped:
        print(f"not timed (needs an id this history does not hold): {path}")
    bare = time_bare(dsn, target_id)
    print("\nbare SQL, median of 10 (psycopg, same parameters):")
    for name, ms in sorted(bare.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<30} {ms:7.1f} ms")
    slowest = max(bare, key=lambda k: bare[k])
    print(f"slowest underlying query: {slowest} {bare[slowest]:.1f} ms")
    if args.explain:
        print("\nEXPLAIN ANALYZE statement_by_ts (24 h):")
        explain(dsn, target_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--statements", type=int, default=1000)
    parser.add_argument(
        "--budget",
        type=float,
        default=30.0,
        help="seconds of timed requests per resource at most",
    )
    parser.add_argument(
        "--pages-requests", type=int, default=50,
        help="timed requests per page resource (after a warm-up of 10)",
    )  # fmt: skip
    parser.add_argument("--explain", action="store_true")
    parser.add_argument(
        "--no-totals",
        action="store_true",
        help="no per-cycle statement totals or window: the arrays are unpacked",
    )
    args = parser.parse_args()
    assert series.HOURLY_ABOVE < timedelta(days=7)  # 7d is served from roll-ups
    with tempfile.TemporaryDirectory(prefix="pgwarden-bench-") as tmp:
        server = EmbeddedServer(Path(tmp) / "server")
        server.start()
        try:
            run(server, args)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
