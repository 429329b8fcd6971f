"""``collect --once`` through a small Typer app (installs the schema first)."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import typer
from typer.testing import CliRunner

from pgwarden.cli import collect_cmd
from pgwarden.cli.runtime import Runtime
from pgwarden.config import load_settings
from pgwarden.repository import migrate
from pgwarden.slowlog import ensure_target, record
from pgwarden.slowlog.model import SlowQuery
from tests.conftest import TestServer


def _app(dsn: str, **overrides: Any) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root(ctx: typer.Context) -> None:
        settings = load_settings(overrides={"dsn": dsn, **overrides})
        ctx.obj = Runtime(settings=settings, format=None, debug=False)

    app.command("collect")(collect_cmd.collect)
    return app


def test_collect_once_installs_the_schema_and_prints_one_line(empty_dsn: str) -> None:
    app = _app(empty_dsn)
    first = CliRunner().invoke(app, ["collect", "--once"])
    assert first.exit_code == 0, first.output
    assert "schema version" in first.stderr and "baseline" in first.stderr
    second = CliRunner().invoke(app, ["collect", "--once"])
    assert second.exit_code == 0, second.output
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "statement=" in lines[0]
    with psycopg.connect(empty_dsn) as conn:
        cycles = conn.execute("SELECT count(*) FROM pgwarden.collect_cycle").fetchone()
    assert cycles == (2,)


def test_collect_once_reports_an_unreachable_target(empty_dsn: str) -> None:
    bad = "postgresql://nobody@127.0.0.1:1/nothing?connect_timeout=2"
    app = typer.Typer()

    @app.callback()
    def _root(ctx: typer.Context) -> None:
        overrides = {"dsn": bad, "repository_dsn": empty_dsn}
        ctx.obj = Runtime(load_settings(overrides=overrides), None, False)

    app.command("collect")(collect_cmd.collect)
    result = CliRunner().invoke(app, ["collect", "--once"])
    assert result.exit_code != 0
    assert "next cycle reconnects" in str(result.exception)


def test_collect_captures_slow_queries_from_the_server_log(
    empty_dsn: str, pg_server: TestServer
) -> None:
    if pg_server.embedded is None:
        pytest.skip("needs a server whose log directory is local")
    log_dir = pg_server.embedded.pgdata / "log"
    marker = f"collect_cli_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute(f"SELECT pg_sleep(0.12), 'secret-{marker}' AS {marker}")
    app = _app(empty_dsn)
    deadline = time.monotonic() + 10
    found: list[tuple[str, str]] = []
    while not found and time.monotonic() < deadline:
        result = CliRunner().invoke(
            app, ["collect", "--once", "--log-dir", str(log_dir)]
        )
        assert result.exit_code == 0, result.output
        with psycopg.connect(empty_dsn) as conn:
            found = conn.execute(
                "SELECT query, severity FROM pgwarden.slow_query_log"
                " WHERE query LIKE %s",
                [f"%{marker}%"],
            ).fetchall()
        time.sleep(0.3)
    assert found, "the slow statement was not captured from the server log"
    query, severity = found[0]
    assert severity == "warning"
    assert f"secret-{marker}" not in query


def test_collect_rejects_a_missing_log_dir(empty_dsn: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _app(empty_dsn), ["collect", "--once", "--log-dir", str(tmp_path / "none")]
    )
    assert result.exit_code != 0
    assert "is not a directory" in str(result.exception)


def _running(dsn: str, statement: str, marker: str) -> threading.Thread:
    """Run ``statement`` in a thread; return once the server shows it running."""

    def run() -> None:
        with psycopg.connect(dsn, autocommit=True, application_name="app") as conn:
            conn.execute(statement)

    thread = threading.Thread(target=run)
    thread.start()
    with psycopg.connect(dsn, autocommit=True) as conn:
        while (
            thread.is_alive()
            and not conn.execute(
                "SELECT 1 FROM pg_stat_activity WHERE query LIKE %s AND pid <> "
                "pg_backend_pid()",
                [f"%{marker}%"],
            ).fetchone()
        ):
            time.sleep(0.05)
    return thread


def test_activity_is_sampled_between_collection_cycles(empty_dsn: str) -> None:
    marker = f"sampled_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        migrate(conn)  # so that the first cycle comes at once
    app = _app(empty_dsn, slow_queries={"sample_interval_seconds": 1})
    thread = _running(empty_dsn, f"SELECT pg_sleep(2.5) AS {marker}", marker)

    result = CliRunner().invoke(app, ["collect", "--interval", "60", "--duration", "4"])
    thread.join()

    assert result.exit_code == 0, result.output
    with psycopg.connect(empty_dsn) as conn:
        cycles = conn.execute("SELECT count(*) FROM pgwarden.collect_cycle").fetchone()
        found = conn.execute(
            "SELECT source, duration_ms, application_name"
            " FROM pgwarden.slow_query_log WHERE query LIKE %s",
            [f"%{marker}%"],
        ).fetchall()
    assert cycles == (1,)  # the only collection cycle ran before the statement ended
    [(source, duration_ms, application_name)] = found
    assert source == "activity" and application_name == "app"
    assert duration_ms >= 1000  # seen again by the samples after the cycle


def test_collect_applies_the_slow_query_log_retention(empty_dsn: str) -> None:
    now = datetime.now(UTC)
    old = now - timedelta(days=12)
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        migrate(conn)
        target_id = ensure_target(conn, "old")
        query = SlowQuery(old, 150.0, "SELECT $1", "f", "warning", "application")
        assert record(conn, target_id, [query], now=old) == 1
    app = _app(empty_dsn, slow_queries={"retention_days": 10})

    result = CliRunner().invoke(app, ["collect", "--once"])

    assert result.exit_code == 0, result.output
    partition = f"slow_query_log_p{old:%Y%m%d}"
    assert f"slow query log retention dropped {partition}" in result.stderr
    with psycopg.connect(empty_dsn) as conn:
        left = conn.execute(  # the server log may add the test's own DDL
            "SELECT count(*) FROM pgwarden.slow_query_log WHERE source = 'application'"
        ).fetchone()
        ahead = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname = %s",
            [f"slow_query_log_p{now + timedelta(days=2):%Y%m%d}"],
        ).fetchone()
    assert left == (0,) and ahead == (1,)


def _alerts(dsn: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn) as conn:
        found = conn.execute("SELECT rule, state FROM pgwarden.alert").fetchall()
    return [(str(rule), str(state)) for rule, state in found]


def test_collect_evaluates_the_alert_rules_after_a_cycle(empty_dsn: str) -> None:
    app = _app(empty_dsn, alerts={"wraparound_margin_pct": 100})

    first = CliRunner().invoke(app, ["collect", "--duration", "0"])

    assert first.exit_code == 0, first.output
    assert ("wraparound", "firing") in _alerts(empty_dsn)
    assert "wraparound" in first.stderr  # the console channel, without channels set
    second = CliRunner().invoke(app, ["collect", "--duration", "0"])
    assert second.exit_code == 0, second.output
    assert "wraparound" not in second.stderr  # still firing: no repeat within 4 h
    assert _alerts(empty_dsn).count(("wraparound", "firing")) == 1


def test_a_failing_evaluation_does_not_stop_collection(empty_dsn: str) -> None:
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        migrate(conn)
        conn.execute("DROP TABLE pgwarden.alert CASCADE")
    app = _app(empty_dsn, alerts={"wraparound_margin_pct": 100})

    result = CliRunner().invoke(app, ["collect", "--duration", "0"])

    assert result.exit_code == 0, result.output
    failed = [x for x in result.stderr.splitlines() if "alert evaluation" in x]
    assert len(failed) == 1 and "failed:" in failed[0]
    with psycopg.connect(empty_dsn) as conn:
        cycles = conn.execute("SELECT count(*) FROM pgwarden.collect_cycle").fetchone()
    assert cycles == (1,)
