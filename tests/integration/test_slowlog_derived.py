"""Slow queries derived from pg_stat_statements, collected as a pg_monitor role that
cannot read the server log (a hosted database)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from pgwarden import pg
from pgwarden.collect.loop import CollectionLoop
from pgwarden.config import Settings
from pgwarden.doctor import evaluate, gather
from pgwarden.repository import migrate
from pgwarden.slowlog import LogSource, discover_log_source
from tests.cli_helpers import pgwarden
from tests.conftest import TestServer


@contextmanager
def _monitor_role(dsn: str, *grants: str) -> Iterator[str]:
    """A login role with only pg_monitor (and ``grants``); its DSN."""
    name, password = f"mon_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    role = sql.Identifier(name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE pg_monitor").format(
                role, sql.Literal(password)
            )
        )
        for grant in grants:
            conn.execute(sql.SQL(grant).format(role=role))
    try:
        yield make_conninfo(dsn, user=name, password=password)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(role))
            conn.execute(sql.SQL("DROP ROLE {}").format(role))


def _hosted(loop: CollectionLoop, monitor_dsn: str) -> LogSource:
    """The loop sees the server as a hosted one: no log file reachable from here."""
    with psycopg.connect(monitor_dsn) as conn:
        source = discover_log_source(conn, local_files=False)
    loop.slow.log_source = lambda *args, **kwargs: source  # type: ignore[method-assign]
    return source


def _run(dsn: str, statement: str, *params: Any) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement, params)  # type: ignore[arg-type]


def _derived(dsn: str) -> list[dict[str, Any]]:
    with pg.connect(dsn) as conn:
        return pg.fetch_all(
            conn,
            "SELECT query, duration_ms, exactness, executions, severity, caller"
            " FROM pgwarden.slow_query_log WHERE source = 'statements' ORDER BY query",
        )


def _loop(monitor_dsn: str, repo_dsn: str, **slow: Any) -> CollectionLoop:
    settings = Settings(slow_queries=slow)  # type: ignore[arg-type]
    loop = CollectionLoop(
        monitor_dsn, repo_dsn, "hosted", settings, report=print, alerts=False
    )
    source = _hosted(loop, monitor_dsn)
    assert not source.reads_log, source
    return loop


def test_a_monitor_role_without_the_log_gets_slow_queries(empty_dsn: str) -> None:
    with pg.connect(empty_dsn) as conn:
        migrate(conn)
    with _monitor_role(empty_dsn) as monitor, _loop(monitor, empty_dsn) as loop:
        assert loop.cycle() is not None  # the baseline
        _run(empty_dsn, "SELECT pg_sleep(%s) /*controller='report'*/", 0.25)
        _run(empty_dsn, "SELECT 1 + %s", 1)
        for _ in range(3):
            _run(empty_dsn, "SELECT 'many', pg_sleep(%s)", 0.12)
        with pg.connect(empty_dsn) as own:  # pgwarden's own statement, marked
            own.execute("SELECT 'own', pg_sleep(0.15)")
        assert loop.cycle() is not None
        doctor = pgwarden("doctor", "--format", "json", "--dsn", monitor)
        with pg.connect(monitor) as conn:  # as on a hosted server: no log from here
            facts = gather(conn)
            hosted = replace(
                facts, log_source=discover_log_source(conn, local_files=False)
            )
    found = _derived(empty_dsn)
    assert [row["exactness"] for row in found] == ["mean", "exact"], found
    many, once = found
    assert once["query"] == "SELECT pg_sleep($1)"
    assert 250 <= once["duration_ms"] < 400 and once["executions"] == 1
    assert once["caller"] == "report" and once["severity"] == "warning"
    assert "pg_sleep" in many["query"] and "many" not in many["query"]
    assert 120 <= many["duration_ms"] < 250 and many["executions"] == 3
    assert doctor.returncode == 0, doctor.stderr
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert "derived from pg_stat_statements" in checks["slow_query_sources"]["detail"]
    sources = next(c for c in evaluate(hosted) if c.name == "slow_query_sources")
    assert sources.ok, sources
    assert "server log: off" in sources.detail
    assert "activity sampling: on" in sources.detail
    assert "derived from pg_stat_statements: on" in sources.detail


RESET_GRANT = (
    "GRANT EXECUTE ON FUNCTION pg_stat_statements_reset(oid, oid, bigint, boolean) "
    "TO {role}"
)


@pytest.mark.pg(">=17")
def test_the_minmax_reset_records_the_interval_maximum(
    pg_server: TestServer, empty_dsn: str
) -> None:
    with pg.connect(empty_dsn) as conn:
        migrate(conn)
    with (
        _monitor_role(empty_dsn, RESET_GRANT) as monitor,
        _loop(monitor, empty_dsn, statements_minmax_reset=True) as loop,
    ):
        loop.cycle()
        _run(empty_dsn, "SELECT 'max', pg_sleep(%s)", 0.3)
        for _ in range(4):  # the mean, 60 ms, is under the threshold
            _run(empty_dsn, "SELECT 'max', pg_sleep(%s)", 0.0)
        loop.cycle()
    found = _derived(empty_dsn)
    assert [row["exactness"] for row in found] == ["max"], found
    assert 300 <= found[0]["duration_ms"] < 450 and found[0]["executions"] == 1
