"""Restarts, crashes and killed connections never double count (own server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pgwarden import pg
from pgwarden.collect import Collector, CycleFailed
from pgwarden.embedded import EmbeddedServer
from pgwarden.repository import migrate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    embedded = EmbeddedServer(tmp_path_factory.mktemp("collect-restart"))
    embedded.start()
    with psycopg.connect(embedded.dsn(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE collect")
    with psycopg.connect(embedded.dsn("collect"), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")
    with pg.connect(embedded.dsn("collect"), autocommit=False) as conn:
        migrate(conn)
    yield embedded
    embedded.stop()


@pytest.fixture
def collector(server: EmbeddedServer) -> Iterator[Collector]:
    dsn = server.dsn("collect")
    name = f"restart-{uuid.uuid4().hex[:8]}"
    with Collector(dsn, dsn, name) as running:
        yield running


def run_marker(dsn: str, cast: str, calls: int) -> None:
    """``SELECT $1::<cast>``: one statement per cast (comments do not change it)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for n in range(calls):
            conn.execute(f"SELECT %s::{cast}", [n])


def marker_calls(dsn: str, target_id: int, cast: str) -> list[int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT s.calls FROM pgwarden.statement_current s"
            " JOIN pgwarden.statement_text t"
            " USING (target_id, dbid, userid, queryid, toplevel)"
            " WHERE s.target_id = %s AND t.query = %s ORDER BY s.ts",
            [target_id, f"SELECT $1::{cast}"],
        ).fetchall()
    return [row[0] for row in rows]


def restart(server: EmbeddedServer, collector: Collector, mode: str) -> None:
    if mode == "fast":
        server.stop()
        server.start()  # may move to another port
        collector.target_dsn = collector.repository_dsn = server.dsn("collect")
        return
    state = server.state()
    assert state is not None
    log = str(Path(server.pgdata) / "restart.log")
    server._pg_ctl(state, "restart", "-m", "immediate", "-w", "-l", log)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_restart_is_a_gap_and_never_double_counts(
    server: EmbeddedServer, collector: Collector, mode: str
) -> None:
    dsn, marker = (
        server.dsn("collect"),
        {"fast": "smallint", "immediate": "bigint"}[mode],
    )
    collector.cycle()
    run_marker(dsn, marker, 10)
    before = collector.cycle()
    run_marker(dsn, marker, 7)
    restart(server, collector, mode)
    with pytest.raises(CycleFailed, match="next cycle reconnects"):
        collector.cycle()  # the old connections died with the server
    across = collector.cycle()
    dsn = server.dsn("collect")
    assert [g.part for g in across.gaps] == ["server"]
    assert "restarted" in across.gaps[0].reason
    run_marker(dsn, marker, 4)
    after = collector.cycle()
    assert not after.gaps, after.summary()
    assert marker_calls(dsn, before.target_id, marker) == [10, 4]


def test_killed_connection_fails_one_cycle_only(
    server: EmbeddedServer, collector: Collector
) -> None:
    dsn, marker = server.dsn("collect"), "real"
    first = collector.cycle()
    assert collector.target is not None
    pid = collector.target.info.backend_pid
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    run_marker(dsn, marker, 9)
    with pytest.raises(CycleFailed) as failed:
        collector.cycle()
    assert "terminat" in str(failed.value) and "\n" not in str(failed.value)
    run_marker(dsn, marker, 2)
    result = collector.cycle()
    assert result.prev_ts == first.ts and not result.gaps
    assert marker_calls(dsn, first.target_id, marker) == [11]


def test_killed_repository_connection_keeps_the_previous_snapshot(
    server: EmbeddedServer, collector: Collector
) -> None:
    dsn, marker = server.dsn("collect"), "float8"
    first = collector.cycle()
    assert collector.repository is not None
    pid = collector.repository.info.backend_pid
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    run_marker(dsn, marker, 5)
    with pytest.raises(CycleFailed):
        collector.cycle()
    result = collector.cycle()
    assert result.prev_ts == first.ts
    assert marker_calls(dsn, first.target_id, marker) == [5]


def test_collector_state_survives_a_new_collector(server: EmbeddedServer) -> None:
    dsn, marker = server.dsn("collect"), "numeric"
    with Collector(dsn, dsn, "handover") as one:
        first = one.cycle()
    run_marker(dsn, marker, 6)
    with Collector(dsn, dsn, "handover") as two:
        second = two.cycle()
    assert second.prev_ts == first.ts
    assert marker_calls(dsn, first.target_id, marker) == [6]


def test_two_collectors_of_one_target_never_double_count(
    server: EmbeddedServer,
) -> None:
    """A collector whose memory is stale (another one wrote since) reads it back."""
    dsn, marker = server.dsn("collect"), "text"
    name = f"shared-{uuid.uuid4().hex[:8]}"
    with Collector(dsn, dsn, name) as one, Collector(dsn, dsn, name) as two:
        first = one.cycle()
        run_marker(dsn, marker, 3)
        two.cycle()
        run_marker(dsn, marker, 4)
        stale = one.cycle()
        run_marker(dsn, marker, 5)
        one.cycle()
    assert not stale.gaps, stale.summary()
    assert marker_calls(dsn, first.target_id, marker) == [3, 4, 5]
