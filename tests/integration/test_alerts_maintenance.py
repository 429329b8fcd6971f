"""Alerts a running maintenance operation causes are muted while it runs, and only
those: a lock held by the maintenance backend, and REINDEX of a bloated index."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from pgwarden import pg
from pgwarden.alerts import Alert, Retry, evaluate_once, store
from pgwarden.alerts.message import Message
from pgwarden.config import Settings, load_settings
from pgwarden.maintain import store as runs
from pgwarden.repository import migrate

TARGET = "maintained"


@dataclass
class Capture:
    name: str = "capture"
    min_severity: str = "info"
    sent: list[Message] = field(default_factory=list)

    def rules(self) -> list[str]:
        return [a.rule for m in self.sent for a in m.alerts]

    def send(self, message: Message) -> None:
        self.sent.append(message)


def _settings(**alerts: Any) -> Settings:
    quiet = {"wraparound_margin_pct": 0, "index_bloat_pct": 100,
             "blocked_session_seconds": 0, "long_transaction_minutes": 0.01,
             "idle_in_transaction_minutes": 60,
             "disabled_rules": ["collector_silent"]}  # fmt: skip
    return load_settings(overrides={"alerts": {**quiet, **alerts}})


class Harness:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.repo = pg.connect(dsn, statement_timeout_ms=None)
        self.target = pg.connect(dsn)
        self.channel = Capture()

    def evaluate(self, settings: Settings) -> dict[str, Alert]:
        evaluate_once(
            self.repo, TARGET, settings, datetime.now(UTC), target_conn=self.target,
            channels=[self.channel], retry=Retry(0, 0),
        )  # fmt: skip
        since = datetime(2000, 1, 1, tzinfo=UTC)
        return {a.rule: a for a in store.list_alerts(self.repo, "open", since)}

    def start_run(self, table: str, operation: str, **kw: Any) -> int:
        target_id = runs.target_id(self.repo, TARGET)
        values = {"target_id": target_id, "schema_name": "public",
                  "table_name": table, "table_oid": None, "index_name": None,
                  "operation": operation, "trigger": "schedule", "status": "running",
                  "reason": "test", "error": None, "started_at": datetime.now(UTC),
                  "finished_at": None, "duration_ms": None, "attempts": 1,
                  "live_rows_before": None, "dead_rows_before": None,
                  "size_before": None, "backend_pid": None, "worker": "test",
                  **kw}  # fmt: skip
        return runs.insert(self.repo, values)


@pytest.fixture
def harness(empty_dsn: str) -> Iterator[Harness]:
    with pg.connect(empty_dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
        conn.commit()
    h = Harness(empty_dsn)
    yield h
    h.repo.close()
    h.target.close()


def _blocked_reader(dsn: str, query: str) -> threading.Thread:
    def read() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(query)

    thread = threading.Thread(target=read)
    thread.start()
    return thread


def _wait_blocked(h: Harness, count: int) -> None:
    query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        row = h.target.execute(query).fetchone()
        if row is not None and row[0] >= count:
            return
        time.sleep(0.05)


def test_locks_of_a_running_vacuum_full_are_muted_other_locks_are_not(
    harness: Harness,
) -> None:
    h = harness
    with psycopg.connect(h.dsn, autocommit=True) as setup:
        setup.execute('CREATE TABLE "Answer" (id int PRIMARY KEY, "tenantId" int)')
        setup.execute('INSERT INTO "Answer" SELECT g, g FROM generate_series(1, 100) g')
        setup.execute("CREATE TABLE other (id int PRIMARY KEY, v int)")
        setup.execute("INSERT INTO other VALUES (1, 0)")
    maint = psycopg.connect(h.dsn)
    maint.execute('LOCK TABLE "Answer" IN ACCESS EXCLUSIVE MODE')  # as VACUUM FULL
    run_id = h.start_run("Answer", "vacuum_full", backend_pid=maint.info.backend_pid)
    reader = _blocked_reader(h.dsn, 'SELECT count(*) FROM "Answer"')
    _wait_blocked(h, 1)
    time.sleep(1.0)  # the maintenance transaction is now "long" (0.6 s limit)

    found = h.evaluate(_settings())
    blocked, long_tx = found["blocked_sessions"], found["long_transaction"]
    assert blocked.state == long_tx.state == "firing"
    assert blocked.muted_by == "maintenance: vacuum_full public.Answer"
    assert long_tx.muted_by == blocked.muted_by
    assert h.channel.sent == []

    holder = psycopg.connect(h.dsn)
    holder.execute("UPDATE other SET v = 1 WHERE id = 1")
    writer = _blocked_reader(h.dsn, "UPDATE other SET v = 2 WHERE id = 1")
    _wait_blocked(h, 2)
    found = h.evaluate(_settings())
    assert found["blocked_sessions"].value == 2
    assert found["blocked_sessions"].muted_by is None
    assert "blocked_sessions" in h.channel.rules()

    holder.commit()
    maint.commit()
    runs.mark_failed(h.repo, run_id, "finished")
    for thread in (reader, writer):
        thread.join()
    holder.close()
    maint.close()


def test_index_bloat_of_an_index_being_reindexed_is_muted(harness: Harness) -> None:
    h = harness
    with psycopg.connect(h.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE b (id int, v text)")
        conn.execute("INSERT INTO b SELECT g, 'v' FROM generate_series(1, 50000) g")
        conn.execute("CREATE INDEX b_id ON b (id)")
        conn.execute("DELETE FROM b WHERE id % 10 <> 0")
        conn.execute("VACUUM ANALYZE b")
    bloat = _settings(index_bloat_pct=20, index_bloat_min_bytes=0)
    run_id = h.start_run("b", "reindex", index_name="b_id")
    alert = h.evaluate(bloat)["index_bloat"]
    assert alert.state == "firing" and alert.labels == {"index": "public.b_id"}
    assert alert.muted_by == "maintenance: reindex public.b index b_id"
    assert "index_bloat" not in h.channel.rules()

    runs.mark_failed(h.repo, run_id, "lock_timeout: gave up")
    alert = h.evaluate(bloat)["index_bloat"]
    assert alert.muted_by is None and "index_bloat" in h.channel.rules()
