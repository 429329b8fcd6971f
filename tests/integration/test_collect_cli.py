"""``collect --once`` through a small Typer app (installs the schema first)."""

from __future__ import annotations

import psycopg
import typer
from typer.testing import CliRunner

from pgwarden.cli import collect_cmd
from pgwarden.cli.runtime import Runtime
from pgwarden.config import load_settings


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
