"""The embedded server, from the wheel and from system binaries."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from pgwarden.embedded import EmbeddedServer, system_bin_dir, wheel_bin_dir

KINDS = ["wheel", "system"]


@pytest.fixture(scope="module", params=KINDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmbeddedServer]:
    bin_dir = wheel_bin_dir() if request.param == "wheel" else system_bin_dir()
    if bin_dir is None:
        pytest.skip(f"no {request.param} PostgreSQL binaries")
    srv = EmbeddedServer(tmp_path_factory.mktemp(request.param) / "srv", pg_bin=bin_dir)
    srv.start()
    yield srv
    srv.stop()


def test_start_is_idempotent(server: EmbeddedServer) -> None:
    first = server.status()
    again = server.start()
    assert first.running and again.running
    assert again.pid == first.pid


def test_governance_settings(server: EmbeddedServer) -> None:
    with psycopg.connect(server.dsn()) as conn:
        settings = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                [[
                    "shared_preload_libraries", "track_io_timing", "compute_query_id",
                    "log_destination", "log_min_duration_statement", "listen_addresses",
                    "logging_collector", "auto_explain.log_min_duration",
                    "password_encryption",
                ]],
            ).fetchall()
        )  # fmt: skip
    assert "pg_stat_statements" in settings["shared_preload_libraries"]
    assert "auto_explain" in settings["shared_preload_libraries"]
    assert settings["auto_explain.log_min_duration"] == "-1"
    assert settings["track_io_timing"] == "on"
    assert settings["compute_query_id"] == "on"
    assert settings["log_destination"] == "jsonlog"
    assert settings["logging_collector"] == "on"
    assert settings["log_min_duration_statement"] == "100"
    assert settings["listen_addresses"] == "127.0.0.1"
    assert settings["password_encryption"] == "scram-sha-256"


def test_password_is_required(server: EmbeddedServer) -> None:
    without = make_conninfo(server.dsn(), password="")
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(without, connect_timeout=5)
    wrong = make_conninfo(server.dsn(), password="wrong")
    with pytest.raises(psycopg.OperationalError, match="password authentication"):
        psycopg.connect(wrong, connect_timeout=5)


def test_slow_statement_reaches_json_log(server: EmbeddedServer) -> None:
    with psycopg.connect(server.dsn()) as conn:
        conn.execute("SELECT pg_sleep(0.15) /* pgwarden-embedded-test */")
    log_dir = server.pgdata / "log"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        entries = [
            json.loads(line)
            for path in log_dir.glob("*.json")
            for line in path.read_text().splitlines()
        ]
        slow = [e for e in entries if "pgwarden-embedded-test" in e.get("message", "")]
        if slow:
            assert "duration" in slow[0]["message"]
            return
        time.sleep(0.2)
    pytest.fail("the slow statement did not reach the JSON server log")


def test_state_file_is_private(server: EmbeddedServer) -> None:
    assert server.state_path.stat().st_mode & 0o077 == 0


def test_stop_start_and_stale_pid(tmp_path: Path) -> None:
    srv = EmbeddedServer(tmp_path / "srv")
    assert srv.stop() is False
    first = srv.start()
    assert first.running and first.pid is not None
    with psycopg.connect(srv.dsn()) as conn:
        conn.execute("CREATE TABLE kept (x int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    os.kill(first.pid, signal.SIGKILL)  # a crash leaves postmaster.pid behind
    deadline = time.monotonic() + 10
    while srv.status().running and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (srv.pgdata / "postmaster.pid").exists() or not srv.status().running
    again = srv.start()
    assert again.running and again.pid != first.pid
    with psycopg.connect(srv.dsn()) as conn:
        assert conn.execute("SELECT x FROM kept").fetchone() == (42,)
    assert srv.stop() is True
    assert not srv.status().running
    assert not (srv.pgdata / "postmaster.pid").exists()


def test_missing_binaries_are_reported(tmp_path: Path) -> None:
    from pgwarden.errors import EmbeddedServerError

    with pytest.raises(EmbeddedServerError, match="no pg_ctl"):
        EmbeddedServer(tmp_path / "srv", pg_bin=tmp_path).start()
