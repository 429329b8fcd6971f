"""``collect --once`` through a small Typer app (installs the schema first)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import psycopg
import pytest
import typer
from typer.testing import CliRunner

from pgwarden.cli import collect_cmd
from pgwarden.cli.runtime import Runtime
from pgwarden.config import load_settings
from tests.conftest import TestServer


def _app(dsn: str) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root(ctx: typer.Context) -> None:
        settings = load_settings(overrides={"dsn": dsn})
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
