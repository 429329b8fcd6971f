"""The server log is read without ``--log-dir`` when the server and the role allow."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from pgwarden import pg
from pgwarden.repository import migrate
from pgwarden.slowlog import discover_log_source, ensure_target
from pgwarden.slowlog.remotelog import ingest_remote_log
from tests.cli_helpers import pgwarden
from tests.conftest import TestServer


def _log_dir(server: TestServer) -> Path:
    if server.embedded is None:
        pytest.skip("the server's log directory is not known to the tests")
    return server.embedded.pgdata / "log"


def _slow_statement(dsn: str, log_dir: Path) -> str:
    """Run a statement above log_min_duration_statement (100ms on the test
    servers); return once the server has written it to its log."""
    marker = uuid.uuid4().hex
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("SELECT pg_sleep(0.3), {}").format(sql.Literal(marker)))
    for _ in range(100):  # the logging collector writes on its own schedule
        if any(marker in p.read_text(errors="replace") for p in log_dir.iterdir()):
            return marker
        time.sleep(0.1)
    raise AssertionError("the slow statement never reached the server log")


def _logged_sleeps(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT source FROM pgwarden.slow_query_log "
            "WHERE query LIKE '%%pg_sleep%%' AND database = current_database()"
        ).fetchall()
    return [row[0] for row in rows]


@contextmanager
def _plain_role(dsn: str) -> Iterator[str]:
    name, password = f"plain_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    role = sql.Identifier(name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                role, sql.Literal(password)
            )
        )
    try:
        yield make_conninfo(dsn, user=name, password=password)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(role))
            conn.execute(sql.SQL("DROP ROLE {}").format(role))


def test_collect_reads_the_local_server_log_by_itself(
    pg_server: TestServer, empty_dsn: str
) -> None:
    _slow_statement(empty_dsn, _log_dir(pg_server))
    result = pgwarden("collect", "--once", "--dsn", empty_dsn)
    assert result.returncode == 0, result.stderr
    assert "from the server log" in result.stderr
    assert "server_log" in _logged_sleeps(empty_dsn)
    doctor = pgwarden("doctor", "--format", "json", "--dsn", empty_dsn)
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    source = checks["slow_query_source"]
    assert source["ok"] and source["detail"].startswith("server log via file path")


def test_the_log_is_read_through_pg_read_file_once(
    pg_server: TestServer, empty_dsn: str
) -> None:
    _slow_statement(empty_dsn, _log_dir(pg_server))
    with pg.connect(empty_dsn) as target, pg.connect(empty_dsn) as repo:
        source = discover_log_source(target, local_files=False)
        assert source.kind == "pg_read_file", source
        assert source.detail.startswith("server log via pg_read_file")
        assert source.server_dir is not None
        migrate(repo)
        target_id = ensure_target(repo, "remote")
        first = ingest_remote_log(target, repo, target_id, source.server_dir)
        again = ingest_remote_log(target, repo, target_id, source.server_dir)
    assert first.stored >= 1 and first.records > 0
    assert again.records == 0 and again.bytes_read == 0
    assert "server_log" in _logged_sleeps(empty_dsn)


def test_a_role_without_the_privileges_samples_activity(empty_dsn: str) -> None:
    with _plain_role(empty_dsn) as dsn:
        result = pgwarden("doctor", "--format", "json", "--dsn", dsn)
    assert result.returncode == 0, result.stderr
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    source = checks["slow_query_source"]
    assert not source["ok"]
    assert source["detail"].startswith("activity sampling only")
    assert "log_directory" in source["detail"]
    assert "GRANT pg_monitor TO" in source["fix"]
