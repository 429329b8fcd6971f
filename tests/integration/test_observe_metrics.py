"""performance_metrics, timeseries and query_history on collected history.

The helpers here (two collector cycles around some load) serve the web and
browser tests too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from pgwarden import pg
from pgwarden.collect import collect_once
from pgwarden.config import Settings
from pgwarden.observe import (
    performance_metrics,
    query_history,
    timeseries,
    top_queries,
)
from pgwarden.repository import migrate, targets

TARGET = "demo"
TOKEN = "test-token-0123456789"
MARKER = "observe-marker"


@dataclass(frozen=True)
class Collected:
    dsn: str
    target_id: int


def load(dsn: str, rounds: int = 40, create: bool = True) -> None:
    """Reads that hit indexes, a sequential scan, a slowish statement and writes."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for n in range(rounds):
            conn.execute(f'SELECT /* {MARKER} */ count(*) FROM "Assessment" '
                         'WHERE id = %s', [n])  # fmt: skip
            conn.execute('SELECT count(*) FROM "Answer"')
        conn.execute("SELECT pg_sleep(0.12)")
        if not create:
            return
        # no autoanalyze: the tests compare reads of its counters taken apart in time
        conn.execute('CREATE TABLE "Growth" (id int PRIMARY KEY, v text) '
                     "WITH (autovacuum_enabled = false)")  # fmt: skip
        conn.execute('INSERT INTO "Growth" SELECT g, repeat(\'x\', 100) '
                     "FROM generate_series(1, 2000) g")  # fmt: skip
        # a backend's table counters reach pg_stat_user_tables when it flushes them,
        # at most once a second or as it exits: now, before the next collection
        if conn.info.server_version >= 150000:
            conn.execute("SELECT pg_stat_force_next_flush()")


def collect_with_load(dsn: str, target: str = TARGET) -> Collected:
    """Install the repository in the same database, collect, load, collect."""
    with pg.connect(dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
    with pg.connect(dsn) as target_conn, pg.connect(dsn) as repo:
        # registered with its identity, so that a command given the DSN finds it
        found = targets.resolve(target_conn, repo, pg.describe(dsn))
        assert found is not None
        repo.execute("UPDATE pgwarden.target SET name = %s WHERE id = %s",
                     [target, found.id])  # fmt: skip
        collect_once(target_conn, repo, target)
        load(dsn)
        result = collect_once(target_conn, repo, target)
    assert not result.baseline and result.samples["database"] == 1, result.summary()
    return Collected(dsn, result.target_id)


def slow_report(duration_ms: float = 250.0) -> bytes:
    record = {"ts": datetime.now(UTC).isoformat(), "duration_ms": duration_ms,
              "query": "SELECT * FROM \"Answer\" WHERE id = 42",
              "caller": "app/answers.py:17"}  # fmt: skip
    return (json.dumps(record) + "\n").encode()


pytestmark = pytest.mark.slow


def test_metrics_of_the_last_interval(demo_dsn: str) -> None:
    collected = collect_with_load(demo_dsn)
    with pg.connect(demo_dsn) as repo:
        m = performance_metrics(repo, collected.target_id, datetime.now(UTC),
                                Settings(), target_name=TARGET,
                                target_dsn=demo_dsn)  # fmt: skip
    assert m.source == "history" and m.refresh_seconds == 60
    assert m.queries_per_second is not None and m.queries_per_second > 0
    assert m.mean_latency_ms is not None and m.mean_latency_ms > 0
    ratio = m.cache_hit_ratio.database
    assert ratio is not None and 0 < ratio <= 1
    assert m.cache_hit_ratio.application is None
    conns = m.active_connections
    assert conns is not None and conns.total >= 1
    assert conns.max_connections == 200 and conns.available is not None
    assert conns.utilisation == pytest.approx(conns.total / conns.available)
    assert "pg_sleep" in m.slowest_queries[0].query
    assert m.slowest_queries[0].mean_ms >= 120
    assert max(q.mean_ms for q in m.slowest_queries) == m.slowest_queries[0].mean_ms
    assert sum(q.share_of_total_time for q in m.slowest_queries) <= 1.000001
    pkey = [i for i in m.index_usage if i.index == "Assessment_pkey"]
    assert pkey and pkey[0].scans >= 40 and not pkey[0].unused
    assert any(i.unused for i in m.index_usage)
    assert m.unused_indexes == sum(1 for i in m.index_usage if i.unused)
    growth = [t for t in m.table_sizes if t.table == "Growth"]
    assert growth and growth[0].rows == 2000 and growth[0].total_size_bytes
    data = m.as_dict()
    assert isinstance(data["slowest_queries"][0]["queryid"], str)
    with pg.connect(demo_dsn) as repo:
        by_calls = top_queries(repo, collected.target_id, "calls", 100)
    marker = [q for q in by_calls if MARKER in q.query]
    assert marker and marker[0].calls == 40


def test_timeseries_and_query_history(demo_dsn: str) -> None:
    collected = collect_with_load(demo_dsn)
    until = datetime.now(UTC) + timedelta(seconds=1)
    since = until - timedelta(hours=1)
    with pg.connect(demo_dsn) as repo:
        charts = timeseries(repo, collected.target_id, since, until)["charts"]
        m = performance_metrics(repo, collected.target_id, until, Settings())
        top = top_queries(repo, collected.target_id, "calls", 100)
        queryid = next(q.queryid for q in top if MARKER in q.query)
        one = query_history(repo, collected.target_id, queryid, since, until)
        unknown = query_history(repo, collected.target_id, 12345, since, until)
    assert charts["queries_per_second"]["qps"] == [m.queries_per_second]
    assert charts["mean_latency_ms"]["mean_ms"] == [pytest.approx(m.mean_latency_ms)]
    assert charts["cache_hit_ratio"]["ratio"] == [m.cache_hit_ratio.database]
    assert charts["connections"]["total"] == [m.active_connections.total]  # type: ignore[union-attr]
    assert len(charts["table_size_bytes"]["t"]) == 1
    assert one is not None and one["series"]["calls"] == [40]
    assert MARKER in one["query"] and unknown is None


def test_the_week_charts_end_with_the_hour_being_collected(demo_dsn: str) -> None:
    """Hourly charts before the collector has rolled up a single hour."""
    collected = collect_with_load(demo_dsn)
    until = datetime.now(UTC) + timedelta(seconds=1)
    with pg.connect(demo_dsn) as repo:
        week = timeseries(repo, collected.target_id, until - timedelta(days=7), until)
        m = performance_metrics(repo, collected.target_id, until, Settings())
    assert m.interval_end is not None and week["resolution"] == "hour"
    hour = m.interval_end.replace(minute=0, second=0, microsecond=0).timestamp()
    charts = week["charts"]
    for name in ("queries_per_second", "mean_latency_ms", "cache_hit_ratio",
                 "connections", "table_size_bytes"):  # fmt: skip
        assert charts[name]["t"] == [hour], name
    assert charts["queries_per_second"]["qps"] == [pytest.approx(m.queries_per_second)]
    assert charts["connections"]["total"] == [m.active_connections.total]  # type: ignore[union-attr]
    assert charts["table_size_bytes"]["total_size_bytes"][0] > 0


def test_no_history_reads_the_target_live(empty_dsn: str) -> None:
    with pg.connect(empty_dsn) as conn:
        m = performance_metrics(conn, None, datetime.now(UTC), Settings(),
                                target_conn=conn)  # fmt: skip
        bare = performance_metrics(conn, None, datetime.now(UTC), Settings())
    assert m.source == "live" and m.active_connections is not None
    assert m.active_connections.total >= 1 and m.queries_per_second is None
    assert bare.source == "none" and bare.notes


def test_charts_read_the_same_without_per_cycle_totals(demo_dsn: str) -> None:
    collected = collect_with_load(demo_dsn)
    until = datetime.now(UTC) + timedelta(seconds=1)
    since = until - timedelta(hours=1)
    with pg.connect(demo_dsn) as repo:
        charts = timeseries(repo, collected.target_id, since, until)["charts"]
        everything = timeseries(repo, collected.target_id, since, until,
                                include_own=True)["charts"]  # fmt: skip
        with repo.transaction():
            repo.execute("DELETE FROM pgwarden.statement_total")
            from_arrays = timeseries(repo, collected.target_id, since, until)
            all_arrays = timeseries(repo, collected.target_id, since, until,
                                    include_own=True)  # fmt: skip
    for found, expected in ((charts, from_arrays), (everything, all_arrays)):
        qps = found["queries_per_second"]
        assert qps == expected["charts"]["queries_per_second"] and qps["qps"][0]
        latency = found["mean_latency_ms"]["mean_ms"]
        assert latency == pytest.approx(
            expected["charts"]["mean_latency_ms"]["mean_ms"]
        )
    assert (
        everything["queries_per_second"]["qps"][0]
        > charts["queries_per_second"]["qps"][0]
    )


def test_window_and_cached_hours_read_the_same_numbers(demo_dsn: str) -> None:
    """Top statements from the collector's window, index scans of cached hours."""
    from pgwarden.collect.partitions import ensure_partitions
    from pgwarden.observe.hours import HourCache

    collected = collect_with_load(demo_dsn)
    now = datetime.now(UTC)
    earlier = now - timedelta(hours=5)
    with pg.connect(demo_dsn) as repo:
        ensure_partitions(repo, now, since=earlier)
        repo.execute(
            "INSERT INTO pgwarden.index_hourly (target_id, hour, relid, samples,"
            " interval_s, idx_scan, idx_tup_read, idx_tup_fetch)"
            " SELECT DISTINCT target_id, date_trunc('hour', %s::timestamptz, 'UTC'),"
            " relid, 60, 3600, 1000, 10, 1 FROM pgwarden.index_current"
            " WHERE target_id = %s",
            [earlier, collected.target_id],
        )
        cache = HourCache()
        found = [
            performance_metrics(
                repo, collected.target_id, now, Settings(), cache=c, target_dsn=demo_dsn
            )
            for c in (None, cache, cache)
        ]
        with repo.transaction():
            repo.execute("DELETE FROM pgwarden.statement_window")
            from_samples = performance_metrics(
                repo, collected.target_id, now, Settings()
            )
    assert found[0].index_usage == found[1].index_usage == found[2].index_usage
    assert found[0].unused_indexes == found[1].unused_indexes == 0
    pkey = [i for i in found[0].index_usage if i.index == "Assessment_pkey"]
    assert (
        pkey
        and pkey[0].scans >= 1040
        and not any(i.unused for i in found[0].index_usage)
    )
    window, samples = found[0].slowest_queries, from_samples.slowest_queries
    assert [(q.queryid, q.calls, q.rows) for q in window] == [
        (q.queryid, q.calls, q.rows) for q in samples
    ]
    assert [q.mean_ms for q in window] == pytest.approx([q.mean_ms for q in samples])
    assert found[0].own_statements == from_samples.own_statements


def test_cached_hours_draw_the_same_charts(demo_dsn: str) -> None:
    from pgwarden.observe.hours import HourCache

    collected = collect_with_load(demo_dsn)
    until = datetime.now(UTC) + timedelta(seconds=1)
    since = until - timedelta(hours=24)
    cache = HourCache()
    with pg.connect(demo_dsn) as repo:
        found = [
            timeseries(repo, collected.target_id, since, until, cache=c)["charts"]
            for c in (None, cache, cache)
        ]
    assert found[0] == found[1] == found[2]
    assert found[0]["table_size_bytes"]["total_size_bytes"][0] > 0
    assert found[0]["connections"]["total"][0] >= 1
