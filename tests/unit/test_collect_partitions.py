"""Partition naming, bounds and retention decisions; kinds match the DDL."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pgwarden.collect.kinds import KINDS
from pgwarden.collect.partitions import (
    POLICIES,
    Policy,
    bucket,
    expired,
    next_bucket,
    partition_name,
    partition_start,
    wanted,
)
from pgwarden.config import CollectSettings
from pgwarden.repository import available_migrations, schema_sql

NOW = datetime(2025, 3, 15, 10, 30, tzinfo=UTC)


def test_buckets_are_utc_days_and_months() -> None:
    assert bucket(NOW, "day") == datetime(2025, 3, 15, tzinfo=UTC)
    assert bucket(NOW, "month") == datetime(2025, 3, 1, tzinfo=UTC)
    assert next_bucket(datetime(2025, 12, 1, tzinfo=UTC), "month") == datetime(
        2026, 1, 1, tzinfo=UTC
    )


def test_names_encode_the_lower_bound() -> None:
    start = datetime(2025, 3, 15, tzinfo=UTC)
    name = partition_name("statement_history", start, "day")
    assert name == "statement_history_p20250315"
    assert partition_start(name, "day") == start
    assert partition_start("statement_history", "day") is None


def test_partitions_are_created_one_ahead() -> None:
    policy = Policy("statement_history", "day", "raw")
    assert [s.day for s in wanted(policy, NOW, NOW)] == [15, 16]


def test_only_wholly_expired_partitions_are_dropped() -> None:
    settings = CollectSettings(raw_retention_days=7, rollup_retention_days=400)
    policy = Policy("statement_history", "day", "raw")
    names = {f"statement_history_p202503{d:02d}" for d in range(1, 16)}
    old = expired(policy, names, NOW, settings)
    assert old == [f"statement_history_p202503{d:02d}" for d in range(1, 8)]


def test_every_kind_has_its_tables_in_the_migration_and_schema() -> None:
    ddl = next(m.sql for m in available_migrations() if m.name == "0002_history")
    for kind in KINDS.values():
        for table in (kind.current, kind.history, kind.hourly):
            assert f"CREATE TABLE pgwarden.{table} (" in ddl
            assert f"CREATE TABLE pgwarden.{table} (" in schema_sql()
        body = re.search(rf"pgwarden\.{kind.hourly} \((.*?)\) PARTITION", ddl, re.S)
        assert body is not None
        for name in kind.value_names:
            assert f"    {name} " in body.group(1)
    assert {p.table for p in POLICIES} >= {k.history for k in KINDS.values()}


def test_cycles_outlive_the_raw_samples_that_read_their_interval() -> None:
    policy = next(p for p in POLICIES if p.table == "collect_cycle")
    names = {f"collect_cycle_p2025{m:02d}" for m in range(1, 7)}
    now = datetime(2025, 6, 15, tzinfo=UTC)
    longer_raw = CollectSettings(raw_retention_days=120, rollup_retention_days=30)
    assert expired(policy, names, now, longer_raw) == ["collect_cycle_p202501"]
    shorter_raw = CollectSettings(raw_retention_days=7, rollup_retention_days=30)
    assert len(expired(policy, names, now, shorter_raw)) == 4
