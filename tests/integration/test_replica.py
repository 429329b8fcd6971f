"""A streaming standby of an embedded primary, on PostgreSQL 18 and the system's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from pgwarden.embedded import EmbeddedServer
from pgwarden.replica import EmbeddedReplica
from tests.own_server import KINDS, own_server


@pytest.fixture(scope="module", params=KINDS)
def primary(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmbeddedServer]:
    data_dir = tmp_path_factory.mktemp("primary") / "pg"
    with own_server(request.param, data_dir, {"max_connections": "30"}) as srv:
        yield srv


def _slots(primary: EmbeddedServer) -> list[str]:
    with psycopg.connect(primary.dsn()) as conn:
        rows = conn.execute("SELECT slot_name FROM pg_replication_slots").fetchall()
    return [r[0] for r in rows]


def test_replica_streams_replays_and_cleans_up(
    primary: EmbeddedServer, tmp_path: Path
) -> None:
    with EmbeddedReplica.of(primary, tmp_path / "standby") as replica:
        assert str(replica.port) != conninfo_to_dict(primary.dsn())["port"]
        with psycopg.connect(primary.dsn(), autocommit=True) as conn:
            state = conn.execute(
                "SELECT state, sync_state FROM pg_stat_replication "
                "WHERE application_name = %s",
                [replica.name],
            ).fetchone()
            conn.execute("CREATE TABLE replicated (id int)")
            conn.execute("INSERT INTO replicated SELECT generate_series(1, 50)")
        assert state == ("streaming", "async")
        assert replica.slot in _slots(primary)
        replica.wait_replayed()
        with psycopg.connect(replica.dsn(), autocommit=True) as conn:
            row = conn.execute(
                "SELECT pg_is_in_recovery(), count(*) FROM replicated"
            ).fetchone()
            assert row == (True, 50)
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("INSERT INTO replicated VALUES (51)")
    assert replica.slot not in _slots(primary)
    assert replica.server.pid() is None
    with psycopg.connect(primary.dsn(), autocommit=True) as conn:
        conn.execute("DROP TABLE replicated")
    with EmbeddedReplica.of(primary, tmp_path / "standby") as again:  # slot gone
        again.wait_replayed()
        with psycopg.connect(again.dsn()) as conn:
            assert conn.execute("SELECT to_regclass('replicated')").fetchone() == (
                None,
            )
    assert again.slot not in _slots(primary)


def test_replica_restarts_from_its_files(
    primary: EmbeddedServer, tmp_path: Path
) -> None:
    replica = EmbeddedReplica.of(primary, tmp_path / "standby").start()
    try:
        replica.stop()
        with psycopg.connect(primary.dsn(), autocommit=True) as conn:
            conn.execute("CREATE TABLE while_stopped AS SELECT 1 AS one")
        replica.start()
        replica.wait_replayed()
        with psycopg.connect(replica.dsn()) as conn:
            assert conn.execute("SELECT one FROM while_stopped").fetchone() == (1,)
    finally:
        replica.remove(delete_files=True)
        with psycopg.connect(primary.dsn(), autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS while_stopped")
    assert not (tmp_path / "standby").exists()
    assert replica.slot not in _slots(primary)


def test_paused_replay_falls_behind_and_catches_up(
    primary: EmbeddedServer, tmp_path: Path
) -> None:
    with EmbeddedReplica.of(primary, tmp_path / "standby") as replica:
        replica.pause_replay()
        with psycopg.connect(primary.dsn(), autocommit=True) as conn:
            conn.execute("CREATE TABLE behind AS SELECT 1 AS one")
        with psycopg.connect(replica.dsn()) as conn:
            visible = conn.execute("SELECT to_regclass('behind')").fetchone()
        assert visible == (None,)
        replica.resume_replay()
        replica.wait_replayed()
        with psycopg.connect(replica.dsn()) as conn:
            assert conn.execute("SELECT one FROM behind").fetchone() == (1,)
    with psycopg.connect(primary.dsn(), autocommit=True) as conn:
        conn.execute("DROP TABLE behind")
