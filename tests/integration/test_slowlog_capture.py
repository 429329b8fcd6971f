"""Slow query capture beside collection: retention, sampling failures, the demo."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgwarden import pg
from pgwarden.config import SlowQuerySettings, load_settings
from pgwarden.demo.services import CollectorThread
from pgwarden.repository import migrate
from pgwarden.slowlog import ensure_target, ingest_server_log, record
from pgwarden.slowlog.capture import SlowCapture
from pgwarden.slowlog.model import SlowQuery
from pgwarden.slowlog.partitions import existing


@pytest.fixture
def repo(empty_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with pg.connect(empty_dsn, statement_timeout_ms=None) as conn:
        migrate(conn)
        yield conn


def _settings(**values: Any) -> SlowQuerySettings:
    return SlowQuerySettings(**values)


def _old_row(conn: psycopg.Connection[Any], ts: datetime) -> str:
    target_id = ensure_target(conn, "test-target")
    query = SlowQuery(ts, 150.0, "SELECT $1", "f", "warning", "application")
    assert record(conn, target_id, [query], now=ts) == 1
    return f"slow_query_log_p{ts:%Y%m%d}"


def test_retention_runs_hourly_with_the_configured_days(
    repo: psycopg.Connection[Any],
) -> None:
    now = datetime.now(UTC)
    kept = _old_row(repo, now - timedelta(days=8))
    expired = _old_row(repo, now - timedelta(days=12))
    slow = SlowCapture(_settings(retention_days=10), "test-target")

    first = slow.after_cycle(repo, now)
    _old_row(repo, now - timedelta(days=13))  # another partition past retention
    within_the_hour = slow.after_cycle(repo, now + timedelta(minutes=30))
    an_hour_later = slow.after_cycle(repo, now + timedelta(minutes=61))

    assert first.upkeep is not None and first.upkeep.dropped == (expired,)
    assert f"slow_query_log_p{now + timedelta(days=2):%Y%m%d}" in existing(repo)
    assert kept in existing(repo)
    assert within_the_hour.upkeep is None
    assert an_hour_later.upkeep is not None
    assert an_hour_later.upkeep.dropped == (
        f"slow_query_log_p{now - timedelta(13):%Y%m%d}",
    )


def test_ingest_uses_the_retention_setting(
    repo: psycopg.Connection[Any], tmp_path: Path
) -> None:
    target_id = ensure_target(repo, "test-target")
    ts = (datetime.now(UTC) - timedelta(days=8)).strftime("%Y-%m-%d %H:%M:%S")
    line = {"timestamp": f"{ts} UTC", "pid": 1, "dbname": "d",
            "message": "duration: 200.0 ms  statement: SELECT 1"}  # fmt: skip
    for days, stored in ((5, 0), (10, 1)):
        log = tmp_path / f"kept-{days}.json"
        log.write_text(json.dumps(line) + "\n")
        result = ingest_server_log(repo, target_id, log, retention_days=days)
        assert (result.records, result.stored) == (1, stored)


def test_a_failed_sample_is_reported_once_and_returns(empty_dsn: str) -> None:
    reports: list[str] = []
    slow = SlowCapture(_settings(), "test-target", report=reports.append)
    with pg.connect(empty_dsn) as target:  # no pgwarden schema: storing fails
        assert slow.sample(target, target) == 0
        assert slow.sample(target, target) == 0
        target.close()
        assert slow.sample(target, target) == 0  # a lost connection: skipped
    assert len(reports) == 1
    assert reports[0].startswith("slow query activity sampling skipped:")
    assert "run pgwarden init" in reports[0]


def test_demo_collector_samples_between_cycles(
    repo: psycopg.Connection[Any], empty_dsn: str
) -> None:
    marker = f"demo_{uuid.uuid4().hex[:8]}"
    settings = load_settings(overrides={"slow_queries": {"sample_interval_seconds": 1}})
    collector = CollectorThread(empty_dsn, settings, 60, None)

    def run() -> None:
        with psycopg.connect(empty_dsn, autocommit=True) as conn:
            conn.execute(f"SELECT pg_sleep(2.5) AS {marker}")

    slow_statement = threading.Thread(target=run)
    collector.start()
    deadline = time.monotonic() + 15
    while collector.cycles == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # start the statement after the first cycle
    slow_statement.start()
    slow_statement.join()
    try:
        rows = _wait_for_row(repo, marker)
    finally:
        collector.stop()

    assert collector.cycles == 1 and collector.samples >= 2
    [(source, duration_ms)] = rows
    assert source == "activity" and duration_ms >= 1000


def _wait_for_row(
    conn: psycopg.Connection[Any], marker: str, timeout: float = 10
) -> list[tuple[Any, ...]]:
    deadline = time.monotonic() + timeout
    rows: list[tuple[Any, ...]] = []
    while not rows and time.monotonic() < deadline:
        rows = conn.execute(
            "SELECT source, duration_ms FROM pgwarden.slow_query_log"
            " WHERE query LIKE %s",
            [f"%{marker}%"],
        ).fetchall()
        time.sleep(0.2)
    return rows


def test_demo_collector_evaluates_the_alert_rules(
    repo: psycopg.Connection[Any], empty_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(overrides={"alerts": {"wraparound_margin_pct": 100}})
    collector = CollectorThread(empty_dsn, settings, 60, None)
    collector.start()
    try:
        deadline = time.monotonic() + 15
        while collector.alerts.evaluations == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        collector.stop()

    assert collector.cycles == 1 and collector.alerts.evaluations == 1
    found = repo.execute("SELECT state FROM pgwarden.alert WHERE rule = 'wraparound'")
    assert found.fetchall() == [("firing",)]
    assert capsys.readouterr().err.count("wraparound") >= 1
