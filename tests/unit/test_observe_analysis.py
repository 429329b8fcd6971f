"""Analysis functions of pgwarden.observe on hand-made rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pgwarden.collect import history
from pgwarden.observe import analysis, hours, series
from pgwarden.slowlog.report import MinuteCount

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_ratio_per_second_and_mean_without_data() -> None:
    assert analysis.ratio(90, 10) == 0.9
    assert analysis.ratio(0, 0) is None and analysis.ratio(None, 3) is None
    assert analysis.per_second(120, 60.0) == 2.0 and analysis.per_second(5, 0) is None
    assert analysis.mean(10.0, 4) == 2.5 and analysis.mean(10.0, 0) is None


def test_connections_count_other_states_and_utilisation() -> None:
    row = {"connections": 20, "conn_active": 5, "conn_idle": 10,
           "conn_idle_in_xact": 2, "conn_waiting_lock": 1,
           "max_connections": 103, "reserved_connections": 3}  # fmt: skip
    c = analysis.connections(row)
    assert c.other == 3 and c.available == 100 and c.utilisation == 0.2
    data = c.as_dict()
    assert data["by_state"] == {"active": 5, "idle": 10, "idle_in_transaction": 2,
                                "other": 3}  # fmt: skip
    assert data["max"] == 100 and data["waiting_on_lock"] == 1
    unknown = analysis.connections({"connections": 1})
    assert unknown.utilisation is None and unknown.available is None


TOTALS = [
    {"queryid": 1, "calls": 100, "total_ms": 50.0, "rows": 100,
     "max_interval_mean_ms": 0.6},
    {"queryid": 2, "calls": 2, "total_ms": 400.0, "rows": 2,
     "max_interval_mean_ms": 300.0},
    {"queryid": 3, "calls": 10, "total_ms": 50.0, "rows": 0,
     "max_interval_mean_ms": 5.0},
    {"queryid": 4, "calls": 0, "total_ms": 0.0, "rows": 0,
     "max_interval_mean_ms": None},
]  # fmt: skip


def test_top_queries_rank_share_and_max() -> None:
    slow = {2: {"max_ms": 950.0, "caller": "app.py:10"}}
    top = analysis.top_queries(TOTALS, {1: "q1", 2: "q2"}, slow, "mean", 10)
    assert [q.queryid for q in top] == [2, 3, 1]
    assert top[0].mean_ms == 200.0 and top[0].max_ms == 950.0
    assert top[0].caller == "app.py:10" and top[0].share_of_total_time == 0.8
    assert top[1].query == "" and top[1].max_ms == 5.0
    assert sum(q.share_of_total_time for q in top) == pytest.approx(1.0)
    by_calls = analysis.top_queries(TOTALS, {}, {}, "calls", 2)
    assert [q.queryid for q in by_calls] == [1, 3]
    by_total = analysis.top_queries(TOTALS, {}, {}, "total", 10)
    assert [q.queryid for q in by_total] == [2, 1, 3]


NAMES = {
    10: {"relid": 10, "schema_name": "public", "rel_name": "t", "table_relid": None},
    11: {"relid": 11, "schema_name": "public", "rel_name": "t_pkey",
         "table_relid": 10},
    12: {"relid": 12, "schema_name": "public", "rel_name": "t_idle",
         "table_relid": 10},
}  # fmt: skip


def test_index_usage_flags_the_indexes_index_health_calls_unused() -> None:
    latest = [{"relid": 11, "size_bytes": 8192}, {"relid": 12, "size_bytes": 16384},
              {"relid": 99, "size_bytes": 1}]  # fmt: skip
    totals = {11: {"scans": 7, "tup_read": 9, "tup_fetch": 8}}
    found = analysis.index_usage(latest, totals, NAMES, frozenset({12}))
    assert [(i.index, i.scans, i.unused) for i in found] == [
        ("t_idle", 0, True), ("t_pkey", 7, False)]  # fmt: skip
    assert found[1].table == "t" and found[1].tuples_read == 9
    unknown = analysis.index_usage(latest, totals, NAMES, None)
    assert [i.unused for i in unknown] == [None, None]


def test_growth_needs_an_hour_of_history() -> None:
    first = {"ts": T0, "total_size_bytes": 1000}
    assert analysis.growth_per_day(first, 2000, T0 + timedelta(hours=12)) == 2000.0
    assert analysis.growth_per_day(first, 2000, T0 + timedelta(minutes=5)) is None
    assert analysis.growth_per_day(None, 2000, T0) is None
    latest = [{"relid": 10, "size_bytes": 1, "total_size_bytes": 3000,
               "n_live_tup": 5}]  # fmt: skip
    sizes = analysis.table_sizes(latest, {10: first}, NAMES, T0 + timedelta(days=2))
    assert sizes[0].growth_bytes_per_day == 1000.0 and sizes[0].rows == 5


def test_slow_rate_sums_minutes() -> None:
    minutes = [MinuteCount(T0, warning=2), MinuteCount(T0, critical=1, emergency=1)]
    rate = analysis.slow_rate(minutes)
    assert (rate.warning, rate.critical, rate.emergency, rate.total) == (2, 1, 1, 4)


def test_charts_from_rows() -> None:
    db = [
        {"ts": T0, "blks_hit": 9, "blks_read": 1, "connections": 3},
        {"ts": T0 + timedelta(minutes=1), "blks_hit": 0, "blks_read": 0},
    ]
    charts = series.database_charts(db)
    assert charts["cache_hit_ratio"]["ratio"] == [0.9, None]
    assert charts["connections"]["total"] == [3, None]
    rows = [{"ts": T0, "calls": 120, "total_ms": 60.0}]
    stm = series.statement_charts(rows, {T0: 60.0})
    assert stm["queries_per_second"]["qps"] == [2.0]
    assert stm["mean_latency_ms"]["mean_ms"] == [0.5]
    minutes = [MinuteCount(T0, warning=1), MinuteCount(T0 + timedelta(hours=2))]
    slow = series.slow_chart(minutes, T0 + timedelta(hours=1))
    assert slow == {"t": [T0.timestamp()], "warning": [1], "critical": [0],
                    "emergency": [0]}  # fmt: skip


def test_statement_charts_idle_intervals_and_recorded_gaps() -> None:
    ts = [T0 + timedelta(minutes=n) for n in range(4)]
    rows = [{"ts": ts[0], "calls": 60, "total_ms": 30.0},
            {"ts": ts[3], "calls": 120, "total_ms": 60.0}]  # fmt: skip
    intervals = dict.fromkeys(ts, 60.0)
    charts = series.statement_charts(rows, intervals, {ts[2]})
    assert charts["queries_per_second"]["qps"] == [1.0, 0.0, None, 2.0]
    assert charts["mean_latency_ms"]["mean_ms"] == [0.5, None, None, 0.5]


def test_gaps_and_missing_collection_break_the_lines() -> None:
    t = [T0.timestamp() + 60 * n for n in (0, 1, 2, 3, 10, 11)]
    chart = {"t": t, "qps": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]}
    step = series.typical_step(t)
    assert step == 60.0
    broken = series.break_gaps(chart, [t[1], T0.timestamp() + 150], step)
    nulls = [x for x, v in zip(broken["t"], broken["qps"], strict=True) if v is None]
    # a recorded gap between two samples, and the 7-minute stop of the collector
    assert nulls == [T0.timestamp() + 150, (t[3] + t[4]) / 2]
    assert broken["t"] == sorted(broken["t"]) and len(broken["qps"]) == 8
    assert series.break_gaps(chart, [t[1]], None) == chart
    assert len(series.break_gaps(chart, [], step)["t"]) == 7
    assert series.typical_step([1.0]) is None


def test_statement_gaps_of_hourly_charts_fall_on_their_hour() -> None:
    gap = history.GapRow("statements", T0, T0 + timedelta(minutes=37), "reset")
    other = history.GapRow("tables", T0, T0 + timedelta(minutes=5), "reset")
    assert series.statement_gaps([gap, other], hourly=True) == {T0}
    assert series.statement_gaps([gap], hourly=False) == {gap.to_ts}


def test_finished_hours_are_read_once() -> None:
    reads: list[tuple[datetime, datetime]] = []
    samples = [T0 + timedelta(minutes=20 * n) for n in range(9)]  # 3 hours

    def read(since: datetime, until: datetime) -> list[dict[str, Any]]:
        reads.append((since, until))
        return [{"ts": ts, "calls": 1} for ts in samples if since <= ts < until]

    cache = hours.HourCache()
    packed = T0 + timedelta(hours=2)  # the third hour is being collected
    since, until = T0 + timedelta(minutes=30), T0 + timedelta(hours=3)
    first = hours.by_ts(read, since, until, packed, cache, "k")
    again = hours.by_ts(read, since, until, packed, cache, "k")
    assert first == again == [r for r in read(since, until)]
    assert reads[:3] == [(T0, packed), (packed, until), (packed, until)]
    assert hours.by_ts(read, since, until, packed, None, "k") == first


def test_the_hour_being_collected_rolls_up_as_the_collector_will() -> None:
    def point(minute: int, hit: int, conns: int | None) -> history.Point:
        ts = T0 + timedelta(minutes=minute)
        values = {"blks_hit": hit, "connections": conns}
        return history.Point(ts, 60.0, {"datid": 5}, values)

    hour = series.roll_up([point(1, 10, 3), point(2, 5, 7), point(3, 1, None)],
                   {"connections"})  # fmt: skip
    assert hour == [{"datid": 5, "ts": T0, "interval_s": 180.0, "blks_hit": 16,
                     "connections": 7}]  # fmt: skip
    rows = [{"ts": T0 + timedelta(minutes=m), "calls": c} for m, c in ((1, 2), (2, 3))]
    assert series.hour_totals(rows, ("calls",)) == [{"ts": T0, "calls": 5}]
    assert series.hour_totals(rows, ("calls",), summed=False) == [
        {"ts": T0, "calls": 3}
    ]
