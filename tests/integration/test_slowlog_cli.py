"""``ingest-log`` and ``slow-queries`` as command functions in a Typer app."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer
from typer.testing import CliRunner

from pgwarden import pg
from pgwarden.cli.runtime import Runtime
from pgwarden.cli.slowlog_cmd import ingest_log, slow_queries
from pgwarden.config import load_settings
from pgwarden.repository import migrate


def _app(dsn: str) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = Runtime(load_settings(overrides={"dsn": dsn}), None, False)

    app.command("ingest-log")(ingest_log)
    app.command("slow-queries")(slow_queries)
    return app


def _line(pid: int, ms: float, query: str) -> str:
    ts = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    record = {"timestamp": f"{ts} UTC", "pid": pid, "dbname": "shop",
              "message": f"duration: {ms} ms  statement: {query}"}  # fmt: skip
    return json.dumps(record) + "\n"


def test_ingest_log_then_list(empty_dsn: str, tmp_path: Path) -> None:
    with pg.connect(empty_dsn) as conn:
        migrate(conn)
    log = tmp_path / "server.json"
    log.write_text(_line(1, 120.0, "SELECT 'secret-123' AS from_file"))
    app, runner = _app(empty_dsn), CliRunner()

    from_file = runner.invoke(app, ["ingest-log", str(log)])
    from_stdin = runner.invoke(
        app, ["ingest-log", "-"], input=_line(2, 2500.0, "SELECT 7 AS from_stdin")
    )
    listed = runner.invoke(app, ["slow-queries", "--since", "1h", "--format", "json"])
    emergencies = runner.invoke(
        app, ["slow-queries", "--min-ms", "1000", "--format", "json"]
    )
    table = runner.invoke(app, ["slow-queries", "--format", "md"])

    assert from_file.exit_code == 0 and from_stdin.exit_code == 0, from_file.output
    assert json.loads(listed.stdout)[0]["query"] == "SELECT $1 AS from_stdin"
    assert [r["severity"] for r in json.loads(listed.stdout)] == [
        "emergency", "warning",
    ]  # fmt: skip
    assert "secret" not in listed.stdout
    assert len(json.loads(emergencies.stdout)) == 1
    assert table.exit_code == 0 and "from_file" in table.stdout
    missing = runner.invoke(app, ["ingest-log", str(tmp_path / "nope.json")])
    assert missing.exit_code != 0
