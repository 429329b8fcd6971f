"""One database is one target, whatever address reaches it.

Two spellings of a DSN, or a server that moved to another port, keep one target row
and one history; an older repository's duplicate rows are merged by the migration.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import psycopg
import typer
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from typer.testing import CliRunner

from pgwarden.cli import collect_cmd, metrics_cmd
from pgwarden.cli.runtime import Runtime
from pgwarden.config import load_settings
from pgwarden.embedded import EmbeddedServer
from pgwarden.repository import available_migrations, migrate
from pgwarden.repository.targets import name_of
from tests.own_server import FAST


def _app(dsn: str) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root(ctx: typer.Context) -> None:
        settings = load_settings(overrides={"dsn": dsn})
        ctx.obj = Runtime(settings=settings, format=None, debug=False)

    app.command("collect")(collect_cmd.collect)
    app.command("metrics")(metrics_cmd.metrics)
    return app


def _collect(dsn: str) -> None:
    result = CliRunner().invoke(_app(dsn), ["collect", "--once"])
    assert result.exit_code == 0, result.output


def _metrics_target(dsn: str) -> str:
    result = CliRunner().invoke(_app(dsn), ["metrics", "--format", "json"])
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["target"])


def _targets(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT t.id, t.name, t.address,"
            " (SELECT count(*) FROM pgwarden.collect_cycle c WHERE c.target_id = t.id)"
            " FROM pgwarden.target t ORDER BY t.id"
        ).fetchall()


def test_two_spellings_of_one_database_are_one_target(empty_dsn: str) -> None:
    params = conninfo_to_dict(empty_dsn)
    other = make_conninfo(
        empty_dsn, host="localhost", hostaddr="127.0.0.1", connect_timeout="7",
        application_name="another-spelling",
    )  # fmt: skip
    assert name_of(empty_dsn, None) != name_of(other, None)
    _collect(empty_dsn)
    _collect(other)
    [(_, name, address, cycles)] = _targets(empty_dsn)
    assert cycles == 2
    assert name == f"127.0.0.1:{params['port']}/{params['dbname']}"
    assert address == f"localhost:{params['port']}/{params['dbname']}"
    assert _metrics_target(other) == name == _metrics_target(empty_dsn)


def _hold(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT
    sock.bind(("127.0.0.1", port))
    sock.listen(1)
    return sock


def test_a_server_moved_to_another_port_keeps_its_target(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / "moving", overrides=FAST)
    server.start()
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE app")
        with psycopg.connect(server.dsn("app"), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
        before = server.dsn("app")
        _collect(before)
        _collect(before)
        server.stop()
        old_port = conninfo_to_dict(before)["port"]
        with _hold(int(str(old_port))):  # another process took the port
            server.start()
            after = server.dsn("app")
            assert conninfo_to_dict(after)["port"] != old_port
            _collect(after)
            [(_, name, address, cycles)] = _targets(after)
        assert cycles == 3
        assert name == f"127.0.0.1:{old_port}/app"
        assert address == name_of(after, None)
    finally:
        server.stop()


# -- the migration merges duplicates of an older repository --------------------

ALERT = """
INSERT INTO pgwarden.alert (target_id, fingerprint, rule, severity, state, summary,
                            description, runbook, group_key, started_at, fired_at,
                            last_seen_at)
VALUES (%(t)s, 'fp-' || %(fp)s, 'r', 'warning', 'firing', 's', 'd', 'rb', 'g',
        now(), now(), now())
"""
REPORT = """
INSERT INTO pgwarden.report (target_id, kind, created_at, summary, data)
VALUES (%(t)s, 'index-health', now(), 'line', '{}')
"""
LAUNCH = """
INSERT INTO pgwarden.launch (target_id, launch_date, timezone, source, recorded_by)
VALUES (%(t)s, %(day)s, 'UTC', 'command', 'someone')
"""


def _old_repository(dsn: str) -> None:
    """The schema as migration 0014 left it."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for migration in available_migrations():
            if migration.version > 14:
                break
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO pgwarden.schema_version (version, name) VALUES (%s, %s)",
                [migration.version, migration.name],
            )


def test_migration_merges_the_rows_of_one_database(empty_dsn: str) -> None:
    _old_repository(empty_dsn)
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        ids = [
            conn.execute(
                "INSERT INTO pgwarden.target (name, system_identifier, first_seen)"
                " VALUES (%s, %s, now() - %s * interval '1 day') RETURNING id",
                [name, sysid, age],
            ).fetchone()[0]  # type: ignore[index]
            for name, sysid, age in [
                ("127.0.0.1:5432/shop", "7001", 3),
                ("127.0.0.1:6000/shop", "7001", 2),
                ("localhost:6001/shop", "7001", 1),
                ("127.0.0.1:5432/other", "7001", 1),
                ("127.0.0.1:7000/shop", None, 1),
            ]
        ]
        oldest, second, third, other, unknown = ids
        for n, target in enumerate(ids):
            day = "2024-01-01" if target == oldest else "2024-02-01"
            for child in (ALERT, REPORT, LAUNCH):
                conn.execute(child, {"t": target, "fp": "same", "day": day})
            conn.execute(ALERT, {"t": target, "fp": str(n)})
    with psycopg.connect(empty_dsn) as conn:
        migrate(conn)
    with psycopg.connect(empty_dsn) as conn:
        names = conn.execute(
            "SELECT id, name, address FROM pgwarden.target ORDER BY id"
        ).fetchall()
        assert [row[0] for row in names] == [oldest, other, unknown]
        alerts = conn.execute(
            "SELECT fingerprint FROM pgwarden.alert WHERE target_id = %s ORDER BY 1",
            [oldest],
        ).fetchall()
        # each row's own alert moved; of the three open 'fp-same', the oldest's kept
        assert [a[0] for a in alerts] == ["fp-0", "fp-1", "fp-2", "fp-same"]
        reports = conn.execute(
            "SELECT count(*) FROM pgwarden.report WHERE target_id = %s", [oldest]
        ).fetchone()
        assert reports == (3,)
        launch = conn.execute(
            "SELECT launch_date::text FROM pgwarden.launch WHERE target_id = %s",
            [oldest],
        ).fetchone()
        assert launch == ("2024-01-01",)
        left = conn.execute(
            "SELECT count(*) FROM pgwarden.alert WHERE target_id IN (%s, %s)",
            [second, third],
        ).fetchone()
        assert left == (0,)


def test_an_older_row_is_adopted_when_its_identity_is_first_read(
    empty_dsn: str,
) -> None:
    _old_repository(empty_dsn)
    address = name_of(empty_dsn, None)
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO pgwarden.target (name) VALUES (%s)", [address])
        migrate(conn)
    _collect(empty_dsn)
    moved = make_conninfo(empty_dsn, host="localhost", hostaddr="127.0.0.1")
    _collect(moved)
    [(_, name, _, cycles)] = _targets(empty_dsn)
    assert (name, cycles) == (address, 2)
