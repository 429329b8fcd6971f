"""The embedded server keeps its port across stops and crashes with clients connected.

A server that stopped or crashed leaves its connections in TIME_WAIT (or FIN_WAIT)
on its port; PostgreSQL binds with SO_REUSEADDR, so the port is still its own. Only a
port another process listens on makes the server move, and then it says so.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgwarden import embedded
from pgwarden.embedded import EmbeddedServer, system_bin_dir, wheel_bin_dir
from pgwarden.errors import EmbeddedServerError
from tests.cli_helpers import pgwarden
from tests.own_server import FAST

#: the kinds of server this machine offers, as ``PGWARDEN_TEST_SERVERS`` chooses
KINDS = [
    kind
    for kind in ("embedded", "system")
    if kind in os.environ.get("PGWARDEN_TEST_SERVERS", "embedded,system")
]


@pytest.fixture(params=KINDS)
def pg_bin(request: pytest.FixtureRequest) -> Path:
    found = wheel_bin_dir() if request.param == "embedded" else system_bin_dir()
    if found is None:
        pytest.skip(f"no {request.param} PostgreSQL binaries")
    return found


@pytest.fixture
def server(pg_bin: Path, tmp_path: Path) -> Iterator[EmbeddedServer]:
    srv = EmbeddedServer(tmp_path / "srv", pg_bin=pg_bin, overrides=FAST)
    srv.start()
    yield srv
    srv.stop()


def _clients(server: EmbeddedServer, count: int = 3) -> list[psycopg.Connection[Any]]:
    conns = [psycopg.connect(server.dsn()) for _ in range(count)]
    for conn in conns:
        conn.execute("SELECT 1")
    return conns


def _plain_bind_fails(port: int) -> bool:
    """What a probe without SO_REUSEADDR sees: the old connections hold the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def _wait_until_gone(server: EmbeddedServer, pid: int) -> None:
    """The kill is delivered, not instant: wait until the postmaster is gone."""
    deadline = time.monotonic() + 30
    while server.pid() == pid:
        assert time.monotonic() < deadline, f"postmaster {pid} survived SIGKILL"
        time.sleep(0.05)


def _close(conns: list[psycopg.Connection[Any]]) -> None:
    for conn in conns:
        conn.close()


def test_stop_with_clients_connected_keeps_the_port(server: EmbeddedServer) -> None:
    dsn = server.dsn()
    port = server.status().port
    assert port is not None
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE kept (x int)")
        conn.execute("INSERT INTO kept VALUES (7)")
    clients = _clients(server)
    assert server.stop() is True
    assert _plain_bind_fails(port), "the stopped server's connections hold the port"

    again = server.start()

    assert again.running and again.port == port
    assert server.dsn() == dsn
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT x FROM kept").fetchone() == (7,)
    _close(clients)


def test_crash_with_clients_connected_keeps_the_port(server: EmbeddedServer) -> None:
    dsn = server.dsn()
    first = server.status()
    assert first.pid is not None and first.port is not None
    clients = _clients(server)
    os.kill(first.pid, signal.SIGKILL)
    _wait_until_gone(server, first.pid)

    again = server.start()

    assert again.running and again.pid != first.pid
    assert again.port == first.port
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    _close(clients)


def _backends(server: EmbeddedServer) -> list[int]:
    with psycopg.connect(server.dsn()) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
    return [int(pid) for (pid,) in rows]


def test_crash_waits_for_a_lingering_backend_then_keeps_the_port(
    server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backend that outlives its postmaster holds the server's shared memory:
    start waits for it, names it when it does not exit, and never moves the port."""
    first = server.status()
    assert first.pid is not None
    clients = _clients(server, 1)
    (backend,) = _backends(server)
    os.kill(backend, signal.SIGSTOP)
    try:
        os.kill(first.pid, signal.SIGKILL)
        _wait_until_gone(server, first.pid)
        monkeypatch.setattr(embedded, "LEFTOVER_WAIT_S", 0.5)
        with pytest.raises(EmbeddedServerError, match="still running") as info:
            server.start()
        assert str(backend) in str(info.value)
        assert (server.pgdata / "postmaster.pid").exists(), "kept while it runs"
    finally:
        os.kill(backend, signal.SIGCONT)
    monkeypatch.setattr(embedded, "LEFTOVER_WAIT_S", 30)

    again = server.start()

    assert again.running and again.port == first.port
    _close(clients)


def test_quick_restarts_through_the_cli_keep_the_port(
    pg_bin: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "srv"
    args = ["--data-dir", str(data_dir), "--pg-bin", str(pg_bin)]
    started = pgwarden("embedded", "start", *args)
    assert started.returncode == 0, started.stderr
    server = EmbeddedServer(data_dir, pg_bin=pg_bin)
    port = server.status().port
    try:
        for _ in range(2):
            clients = _clients(server)
            stopped = pgwarden("embedded", "stop", "--data-dir", str(data_dir))
            assert stopped.returncode == 0, stopped.stderr
            again = pgwarden("embedded", "start", *args)
            assert again.returncode == 0, again.stderr
            assert f"127.0.0.1:{port} " in again.stderr
            assert "WARNING" not in again.stderr
            _close(clients)
    finally:
        server.stop()


def test_port_held_by_another_process_moves_with_a_warning(
    server: EmbeddedServer, pg_bin: Path
) -> None:
    old = server.status().port
    assert old is not None
    clients = _clients(server)
    server.stop()
    _close(clients)
    squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", old))
    squatter.listen(1)
    try:
        args = ["--data-dir", str(server.data_dir), "--pg-bin", str(pg_bin)]
        result = pgwarden("embedded", "start", *args)
    finally:
        squatter.close()

    assert result.returncode == 0, result.stderr
    new = server.status().port
    assert new is not None and new != old
    warning = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert len(warning) == 1
    assert f"port {old} " in warning[0] and f"port {new}" in warning[0]
    assert "taken by another process" in warning[0]
    with psycopg.connect(server.dsn()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    server.stop()
    assert server.start().port == new, "the new port is remembered"
