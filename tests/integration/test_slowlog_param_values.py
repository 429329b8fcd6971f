"""Parameter values against a real server: what is kept, what never is, retention."""

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
import typer
from typer.testing import CliRunner

from pgwarden import pg
from pgwarden.advise.indexes import observed as ov
from pgwarden.advise.indexes.run import observed_of
from pgwarden.cli.runtime import Runtime
from pgwarden.cli.slowlog_cmd import ingest_log
from pgwarden.config import Settings, load_settings
from pgwarden.repository import migrate
from pgwarden.slowlog import activity, ensure_target, ingest_server_log
from pgwarden.slowlog.capture import SlowCapture, upkeep
from pgwarden.slowlog.logparse import LogEntry
from pgwarden.slowlog.param_values import Observation, Observer, record
from tests.conftest import TestServer

EMAIL = "alice.secret@example.com"
UUID = "6f1c2f0e-5b7a-4c1e-9d1b-2f3a4b5c6d7e"

SCHEMA = f"""
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL,
    status text NOT NULL, email text NOT NULL, token uuid NOT NULL);
INSERT INTO orders SELECT g, g % 500,
    CASE WHEN g % 50 = 0 THEN 'pending' WHEN g % 10 = 0 THEN 'cancelled'
         ELSE 'shipped' END,
    CASE WHEN g = 7 THEN '{EMAIL}' ELSE 'user' || g || '@example.com' END,
    CASE WHEN g = 7 THEN '{UUID}'::uuid ELSE gen_random_uuid() END
    FROM generate_series(1, 20000) g;
ANALYZE orders;
"""


@pytest.fixture
def target(empty_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with pg.connect(empty_dsn, statement_timeout_ms=None) as conn:
        migrate(conn)
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        yield conn


@pytest.fixture
def log_dir(pg_server: TestServer) -> Path:
    if pg_server.embedded is None:
        pytest.skip("needs the server's log directory")
    return pg_server.embedded.pgdata / "log"


def _stored(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    return pg.fetch_all(
        conn,
        "SELECT relname, attname, value, calls, queryid, fingerprint::text, "
        "day::text FROM pgwarden.parameter_value ORDER BY value",
    )


def _never_stored(rows: list[dict[str, Any]]) -> None:
    text = " ".join(str(v) for row in rows for v in row.values())
    for secret in (EMAIL, UUID, "user42@example.com"):
        assert secret not in text, text


def _wait_for_log(log_dir: Path, marker: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(marker in p.read_text(errors="replace") for p in log_dir.glob("*.*")):
            return
        time.sleep(0.2)
    pytest.fail(f"{marker} never reached the server log")


def _workload(dsn: str, marker: str) -> None:
    """Extended protocol (parameters in the log's detail) and literals."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET log_min_duration_statement = 0")
        for n in range(5):
            conn.execute(
                f"SELECT count(*) AS {marker} FROM orders "
                "WHERE status = %s AND customer_id = %s",
                ["pending", n],
            )
        conn.execute(
            f"SELECT id AS {marker} FROM orders WHERE email = %s AND status = %s",
            [EMAIL, "cancelled"],
        )
        conn.execute(f"SELECT id AS {marker} FROM orders WHERE token = %s", [UUID])
        conn.execute(
            f"SELECT id AS {marker} FROM orders WHERE status IN ('pending', 'lost') "
            f"AND email = '{EMAIL}'"
        )
        conn.execute(f"SELECT 1 AS {marker}_end")


def test_server_log_keeps_categorical_values_and_never_user_text(
    target: psycopg.Connection[Any], empty_dsn: str, log_dir: Path
) -> None:
    marker = f"m_{uuid.uuid4().hex[:10]}"
    _workload(empty_dsn, marker)
    _wait_for_log(log_dir, f"{marker}_end")
    target_id = ensure_target(target, "pv-target")

    ingest_server_log(target, target_id, log_dir, observer=Observer(target))

    rows = _stored(target)
    _never_stored(rows)
    found: dict[tuple[str, str, str], int] = {}
    for r in rows:
        key = (r["relname"], r["attname"], r["value"])
        found[key] = found.get(key, 0) + r["calls"]
    # 'lost' is no most common value of status: not kept
    assert found == {
        ("orders", "status", "cancelled"): 1,
        ("orders", "status", "pending"): 6,
    }
    assert all(r["day"] == str(datetime.now(UTC).date()) for r in rows)
    observed, notes = observed_of(empty_dsn, "pv-target", 30)
    assert notes == [] and observed is not None
    assert observed.statements() >= 2  # fingerprints may coincide


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_capture_counts_values_unless_turned_off(
    target: psycopg.Connection[Any], empty_dsn: str, log_dir: Path, enabled: bool
) -> None:
    marker = f"m_{uuid.uuid4().hex[:10]}"
    _workload(empty_dsn, marker)
    _wait_for_log(log_dir, f"{marker}_end")
    settings = Settings().slow_queries.model_copy(update={"parameter_values": enabled})
    capture = SlowCapture(settings, "pv-capture", log_dir)

    with pg.connect(empty_dsn) as other:
        capture.after_cycle(target, target_conn=other)

    rows = _stored(target)
    _never_stored(rows)
    assert sum(r["calls"] for r in rows) == (7 if enabled else 0)


def test_activity_samples_count_each_execution_once(
    target: psycopg.Connection[Any], empty_dsn: str
) -> None:
    target_id = ensure_target(target, "pv-activity")
    text = (
        "SELECT pg_sleep(1.5), (SELECT count(*) FROM orders "
        f"WHERE status = 'pending' AND email = '{EMAIL}' AND token = '{UUID}')"
    )

    def run() -> None:
        with psycopg.connect(
            empty_dsn, autocommit=True, application_name="sampled-app"
        ) as conn:
            conn.execute(text)

    worker = threading.Thread(target=run)
    worker.start()
    observer = Observer(target)
    samples = 0
    with pg.connect(empty_dsn) as repo:
        while worker.is_alive():
            samples += len(
                activity.sample(target, repo, target_id, 200, observer=observer)
            )
            time.sleep(0.2)
    worker.join()
    assert samples >= 2  # seen by several samples, counted once

    rows = _stored(target)
    _never_stored(rows)
    assert [(r["attname"], r["value"], r["calls"]) for r in rows] == [
        ("status", "pending", 1)
    ]


def test_retention_drops_old_observations(target: psycopg.Connection[Any]) -> None:
    target_id = ensure_target(target, "pv-retention")
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=45), now - timedelta(days=2)
    record(
        target,
        target_id,
        [
            Observation(old, "f1", None, "public", "orders", "status", "pending"),
            Observation(recent, "f1", 7, "public", "orders", "status", "pending"),
            Observation(recent, "f1", 7, "public", "orders", "status", "pending"),
        ],
    )
    assert len(_stored(target)) == 2

    upkeep(target, now, 30)

    rows = _stored(target)
    assert [(r["value"], r["calls"], r["queryid"]) for r in rows] == [("pending", 2, 7)]
    observed = ov.gather(target, target_id, (now - timedelta(days=30)).date())
    assert observed.by_queryid == {7: "f1"}


def test_an_auto_explain_plan_and_its_statement_count_once(
    target: psycopg.Connection[Any],
) -> None:
    now = datetime.now(UTC)
    text = "SELECT count(*) FROM orders WHERE status = $1 AND email = $2"
    plan = (
        f"duration: 12.0 ms  plan:\nQuery Text: {text}\n"
        f"Query Parameters: $1 = 'pending', $2 = '{EMAIL}'\n"
        "Aggregate  (cost=1.00..2.00 rows=1 width=8)\n"
        "  ->  Seq Scan on orders  (cost=0.00..1.00 rows=1 width=0)"
    )
    detail = f"Parameters: $1 = 'pending', $2 = '{EMAIL}'"
    entries = [
        LogEntry(now, plan, pid=1),
        LogEntry(
            now, f"duration: 12.1 ms  execute <unnamed>: {text}", 1, detail=detail
        ),
        LogEntry(now, plan, pid=2),  # its statement was not logged: the plan counts
    ]

    seen = Observer(target).from_log(entries)

    assert [(o.attname, o.value) for o in seen] == [("status", "pending")] * 2


def test_ingest_log_command_counts_values_with_the_target_reachable(
    target: psycopg.Connection[Any], empty_dsn: str, tmp_path: Path
) -> None:
    database = target.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
    ts = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
    log = tmp_path / "server.json"
    log.write_text(json.dumps({
        "timestamp": ts, "pid": 9, "dbname": database,
        "message": "duration: 150.0 ms  statement: SELECT id FROM orders "
                   f"WHERE status = 'pending' AND email = '{EMAIL}'",
    }) + "\n")  # fmt: skip
    app = typer.Typer()

    @app.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = Runtime(load_settings(overrides={"dsn": empty_dsn}), None, False)

    app.command("ingest-log")(ingest_log)

    result = CliRunner().invoke(app, ["ingest-log", str(log)])

    assert result.exit_code == 0, result.output
    rows = _stored(target)
    _never_stored(rows)
    assert [(r["attname"], r["value"], r["calls"]) for r in rows] == [
        ("status", "pending", 1)
    ]
