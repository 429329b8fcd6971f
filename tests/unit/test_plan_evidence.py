"""Growth from the target's own evidence: creation timestamps and insert counters."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from pgwarden.config import CapacitySettings
from pgwarden.plan import xlsx
from pgwarden.plan.baseline import Inputs, build_baseline
from pgwarden.plan.evidence import (
    Window,
    creation_column,
    from_timestamps,
    table_rate,
    window,
)
from pgwarden.plan.project import Assumptions, project

NOW = datetime(2026, 11, 29, 15, 30, tzinfo=UTC)
W = window(NOW, 28)
MB = 1024 * 1024


def col(name: str, default: str | None = None) -> dict[str, Any]:
    return {"column_name": name, "default_expr": default, "with_time_zone": True}


def test_the_creation_column_is_named_so_or_defaults_to_now() -> None:
    def pick(*columns: dict[str, Any]) -> str | None:
        found = creation_column(columns)
        return None if found is None else found["column_name"]

    assert pick(col("updatedAt", "now()"), col("createdAt", "now()")) == "createdAt"
    assert pick(col("created_at")) == "created_at"
    assert pick(col("inserted_at")) == "inserted_at"
    assert pick(col("dateCreated")) == "dateCreated"
    assert pick(col("ts", "CURRENT_TIMESTAMP"), col("expires_at")) == "ts"
    assert pick(col("occurredAt", "clock_timestamp()")) == "occurredAt"
    assert pick(col("lastLoginAt", "now()"), col("updated_at", "now()")) is None
    assert pick(col("expiresAt"), col("dueAt")) is None
    assert pick() is None


def test_the_window_is_complete_utc_days_before_today() -> None:
    assert W == Window(date(2026, 11, 1), date(2026, 11, 29))
    assert W.before == date(2026, 10, 31)


def counted(counts: dict[date, int], pct: float = 100.0) -> dict[str, Any]:
    return {
        "relid": 1,
        "column": "createdAt",
        "sample_pct": pct,
        "counts": sorted(counts.items()),
        "reason": None,
    }


def days_back(n: int) -> date:
    return W.until - timedelta(days=n)


def test_rows_per_day_with_weekly_range() -> None:
    counts = {W.before: 5000}
    for n in range(1, 29):
        counts[days_back(n)] = 100 if n <= 7 else 50  # the last week doubled
    counts[W.until] = 10_000  # today: not a complete day, not counted
    rate = table_rate(counted(counts), W, 7)
    assert not isinstance(rate, str)
    assert rate.days == 28
    assert rate.rows_per_day == pytest.approx((7 * 100 + 21 * 50) / 28)
    assert (rate.low, rate.high) == (50, 100)


def test_a_block_sample_is_scaled_up() -> None:
    counts = {W.before: 10, **{days_back(n): 3 for n in range(1, 29)}}
    rate = table_rate(counted(counts, pct=10.0), W, 7)
    assert not isinstance(rate, str)
    assert rate.rows_per_day == pytest.approx(30)


def test_a_young_table_counts_from_its_first_row() -> None:
    counts = {days_back(n): 20 for n in range(1, 11)}
    rate = table_rate(counted(counts), W, 7)
    assert not isinstance(rate, str)
    assert (rate.days, rate.rows_per_day) == (10, 20)
    assert table_rate(counted(counts), W, 14) == (
        f"rows only since {days_back(10).isoformat()} (10 days)"
    )


def test_rows_all_from_today_are_no_evidence() -> None:
    """A table bulk-loaded today with createdAt = now() says nothing of growth."""
    assert table_rate(counted({W.until: 1_000_000}), W, 7) == (
        "no row created before today"
    )
    assert table_rate({**counted({}), "reason": "timed out"}, W, 7) == "timed out"


def test_an_old_table_without_new_rows_does_not_grow() -> None:
    rate = table_rate(counted({W.before: 500}), W, 7)
    assert not isinstance(rate, str)
    assert rate.rows_per_day == 0 and rate.days == 28


def storage(relid: int, name: str, total: int, rows: int) -> dict[str, Any]:
    return {
        "relid": relid,
        "schema_name": "public",
        "rel_name": name,
        "heap_bytes": total // 2,
        "index_bytes": total // 2,
        "total_bytes": total,
        "reltuples": rows,
        "n_live_tup": rows,
        "n_tup_ins": rows,
        "n_tup_del": 0,
        "columns": ["id", "tenantId", "createdAt"],
    }


def test_database_growth_sums_the_tables_in_bytes() -> None:
    tables = [
        storage(1, "AuditLog", 100 * MB, 102_400),  # 1 kB a row
        storage(2, "Answer", 50 * MB, 25_600),  # 2 kB a row
        storage(3, "Framework", 1 * MB, 10),  # no creation column
    ]
    found = from_timestamps(
        tables,
        [
            {**counted({W.before: 1, **{days_back(n): 1000 for n in range(1, 29)}})},
            {
                **counted({W.before: 1, **{days_back(n): 100 for n in range(1, 29)}}),
                "relid": 2,
            },
        ],
        W,
        7,
        NOW,
        needs=7,
    )
    assert found is not None
    db = found.database
    assert db.method == "creation-timestamps"
    assert db.per_day == pytest.approx(1000 * 1024 + 100 * 2048)
    assert db.low == db.high == pytest.approx(db.per_day)
    assert db.span_days == 28
    assert "2 tables holding 99 % of the table bytes" in db.note
    assert "over the last 28 days" in db.note
    size, rows = found.tables[1]
    assert rows.per_day == pytest.approx(1000) and size.per_day == pytest.approx(
        1e3 * 1024
    )
    assert 3 not in found.tables


def baseline_inputs(**changes: Any) -> Inputs:
    daily = {
        "day": NOW,
        "ts": NOW,
        "size_bytes": 200 * MB,
        "connections": 3,
        "blks_hit": 99,
        "blks_read": 1,
    }
    base = Inputs(
        target="t",
        generated_at=NOW,
        first_ts=NOW - timedelta(minutes=6),
        database_daily=[daily],
        database_ends=[{**daily, "ts": NOW - timedelta(minutes=6)}, daily],
        table_daily=[],
        table_ends=[],
        rate_daily=[],
        peak={"peak_qps": 10.0, "peak_ts": NOW, "mean_ms": 2.0},
        settings={
            "max_connections": 100,
            "reserved_connections": 3,
            "shared_buffers_bytes": 128 * MB,
            "work_mem_bytes": 4 * MB,
            "block_size": 8192,
            "database_bytes": 200 * MB,
            "stats_reset": None,
        },
        storage=[storage(1, "AuditLog", 100 * MB, 102_400)],
        buffercache=None,
        history_samples=5,
        evidence_window=W,
        created=[counted({W.before: 9, **{days_back(n): 10 for n in range(1, 29)}})],
    )
    return replace(base, **changes)


def test_minutes_of_history_take_growth_from_creation_timestamps() -> None:
    b = build_baseline(baseline_inputs(), CapacitySettings())
    assert b.database.method == "creation-timestamps"
    assert b.database.per_day == pytest.approx(10 * 1024)
    assert "pgwarden's history spans 6 minutes in 5 samples" in b.database.note
    p = project(b, Assumptions(months=(12,), users_x=1, headroom_pct=30))
    assert p.as_dict()["growth"]["method"] == "creation-timestamps"
    twelve = p.horizons[0]
    assert twelve["database_bytes"] == round(200 * MB + 10 * 1024 * 12 * 30.44)
    assert twelve["database_bytes_low"] == twelve["database_bytes_high"]


def test_insert_counters_since_an_old_reset_when_no_timestamps() -> None:
    settings = {
        **baseline_inputs().settings,
        "stats_reset": NOW - timedelta(days=50),
    }
    table = {**storage(1, "AuditLog", 100 * MB, 102_400), "n_tup_ins": 60_000}
    table["n_tup_del"] = 10_000
    b = build_baseline(
        baseline_inputs(settings=settings, storage=[table], created=[]),
        CapacitySettings(),
    )
    assert b.database.method == "insert-counters"
    assert b.database.per_day == pytest.approx(1000 * 1024)
    assert "since the statistics reset on 2026-10-10" in b.database.note
    assert "bulk loads since then count" in b.database.note


def test_a_recent_reset_is_not_enough() -> None:
    settings = {**baseline_inputs().settings, "stats_reset": NOW - timedelta(hours=2)}
    b = build_baseline(
        baseline_inputs(settings=settings, created=[]), CapacitySettings()
    )
    assert b.database.method == "none"
    assert "the statistics were reset only 2.0 hours ago" in b.database.note


def test_the_workbook_states_method_and_range() -> None:
    daily = {days_back(n): 10 if n % 7 else 30 for n in range(1, 29)}
    b = build_baseline(
        baseline_inputs(created=[counted({W.before: 1, **daily})]),
        CapacitySettings(),
    )
    p = project(b, Assumptions(months=(6, 12), users_x=10, headroom_pct=30))
    wb = xlsx.workbook(p)
    inputs = wb["Inputs"]
    assert inputs[xlsx.METHOD_CELL].value == "creation-timestamps"
    assert "creation timestamps of 1 tables" in inputs[xlsx.EVIDENCE_CELL].value
    low = inputs[xlsx.CELLS["database_growth_low_per_day"]].value
    high = inputs[xlsx.CELLS["database_growth_high_per_day"]].value
    assert low == pytest.approx(b.database.low) and high == pytest.approx(
        b.database.high
    )
    header = [c.value for c in wb["Database"][1]]
    assert "Database at the highest rate (bytes)" in header
