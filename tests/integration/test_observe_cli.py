"""``pgwarden metrics`` and ``queries top`` print the numbers of the same function."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import typer
from pydantic import SecretStr
from typer.testing import CliRunner

from pgwarden import pg
from pgwarden.cli import metrics_cmd, serve_cmd
from pgwarden.cli.runtime import Runtime
from pgwarden.config import Settings
from pgwarden.observe import performance_metrics
from tests.integration.test_observe_metrics import MARKER, collect_with_load

pytestmark = pytest.mark.slow


def cli(dsn: str) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = Runtime(Settings(dsn=SecretStr(dsn)), None, False)

    app.command("metrics")(metrics_cmd.metrics)
    app.command("top")(metrics_cmd.queries_top)
    return app


def test_metrics_json_matches_the_function(demo_dsn: str) -> None:
    collected = collect_with_load(demo_dsn, pg.describe(demo_dsn))
    result = CliRunner().invoke(cli(demo_dsn), ["metrics", "--format", "json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    with pg.connect(demo_dsn) as repo:
        expected = performance_metrics(
            repo, collected.target_id, datetime.now(UTC), Settings(),
            target_name=pg.describe(demo_dsn), target_dsn=demo_dsn,
        ).as_dict()  # fmt: skip
    del printed["generated_at"], expected["generated_at"]
    for found in (printed, expected):  # the error window ends at each one's now
        del found["error_rates"]["since"], found["error_rates"]["until"]
    assert printed == expected
    table = CliRunner().invoke(cli(demo_dsn), ["metrics", "--format", "table"])
    assert table.exit_code == 0 and "queries per second" in table.stdout


def test_queries_top_by_calls(demo_dsn: str) -> None:
    collect_with_load(demo_dsn, pg.describe(demo_dsn))
    argv = ["top", "--by", "calls", "--limit", "50", "--format", "json"]
    result = CliRunner().invoke(cli(demo_dsn), argv)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    marker = [r for r in rows if MARKER in r["query"]]
    assert marker and marker[0]["calls"] == 40
    assert [r["calls"] for r in rows] == sorted(
        (r["calls"] for r in rows), reverse=True
    )
    bad = CliRunner().invoke(cli(demo_dsn), ["top", "--by", "rows"])
    assert bad.exit_code != 0


def test_metrics_without_history_read_the_target(empty_dsn: str) -> None:
    from pgwarden.repository import migrate

    with pg.connect(empty_dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
    result = CliRunner().invoke(cli(empty_dsn), ["metrics", "--format", "json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["source"] == "live"
    assert printed["active_connections"]["total"] >= 1


def test_metrics_before_pgwarden_is_installed_read_the_target(empty_dsn: str) -> None:
    result = CliRunner().invoke(cli(empty_dsn), ["metrics", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["source"] == "live"


def test_serve_generates_a_token_once(capsys: pytest.CaptureFixture[str]) -> None:
    token = serve_cmd._token(None, "http://127.0.0.1:1/")
    assert len(token) >= 40 and token in capsys.readouterr().err
    assert serve_cmd._token(SecretStr("kept"), "x") == "kept"
    assert capsys.readouterr().err == ""
