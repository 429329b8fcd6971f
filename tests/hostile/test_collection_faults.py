"""Collection never stops because of one row or one line (real server).

Any database user can write a server log line (``RAISE LOG``) and run a statement
whose text pg_stat_statements and pg_stat_activity show to the collector. A hostile
or broken one costs only itself: it is skipped (or its bad bytes escaped) and
counted, and everything around it is still read and stored.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import typer
from psycopg import sql
from typer.testing import CliRunner

from pgwarden import pg
from pgwarden.cli import collect_cmd
from pgwarden.cli.runtime import Runtime
from pgwarden.cli.slowlog_cmd import ingest_log
from pgwarden.config import load_settings
from pgwarden.repository import migrate
from tests.conftest import TestServer

SECRET = "secret-4242"


def _app(dsn: str, **overrides: Any) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root(ctx: typer.Context) -> None:
        settings = load_settings(overrides={"dsn": dsn, **overrides})
        ctx.obj = Runtime(settings=settings, format=None, debug=False)

    app.command("collect")(collect_cmd.collect)
    app.command("ingest-log")(ingest_log)
    return app


def _marker() -> str:
    return f"m_{uuid.uuid4().hex[:10]}"


def _rows(dsn: str, query: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def _slow_queries(dsn: str, marker: str) -> list[str]:
    rows = _rows(
        dsn,
        "SELECT query FROM pgwarden.slow_query_log WHERE query LIKE %s ORDER BY ts",
        [f"%{marker}%"],
    )
    return [row[0] for row in rows]


@pytest.fixture
def log_dir(pg_server: TestServer) -> Path:
    if pg_server.embedded is None:
        pytest.skip("needs the server's log directory")
    return pg_server.embedded.pgdata / "log"


def _wait_for_log(log_dir: Path, marker: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in [*log_dir.glob("*.json"), *log_dir.glob("*.csv")]:
            if marker in path.read_text(errors="replace"):
                return
        time.sleep(0.2)
    pytest.fail(f"{marker} never reached the server log")


HOSTILE_LOG_LINES = (
    # a duration no statement runs for (it overflowed the start time)
    f"duration: 99999999999999999999 ms  statement: SELECT '{SECRET}' AS forged",
    # an auto_explain plan nested past any recursion limit
    "duration: 1.0 ms  plan:\n" + "[" * 100_000,
    # statement texts that defeat the normaliser
    "duration: 150.0 ms  statement: SELECT $99999999999, 1 AS x",
    "duration: 150.0 ms  statement: SELECT $" + "9" * 5000,
)


def test_hostile_log_lines_do_not_stop_collect(empty_dsn: str, log_dir: Path) -> None:
    marker = _marker()
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute(f"SELECT pg_sleep(0.12) AS {marker}_before")
        for line in HOSTILE_LOG_LINES:
            conn.execute("SELECT set_config('pgwarden_test.line', %s, false)", [line])
            conn.execute(
                "DO $$BEGIN RAISE LOG '%', current_setting('pgwarden_test.line'); END$$"
            )
        conn.execute(f"SELECT pg_sleep(0.12) AS {marker}_after")
    _wait_for_log(log_dir, f"{marker}_after")

    result = CliRunner().invoke(
        _app(empty_dsn),
        ["collect", "--interval", "5", "--duration", "1", "--log-dir", str(log_dir)],
    )

    assert result.exit_code == 0, result.output
    assert _slow_queries(empty_dsn, marker) == [
        f"SELECT pg_sleep($1) AS {marker}_before",
        f"SELECT pg_sleep($1) AS {marker}_after",
    ]
    assert "slow query capture skipped" in result.stderr
    assert "unreadable record" in result.stderr
    assert SECRET not in result.output
    forged = _rows(
        empty_dsn,
        "SELECT count(*) FROM pgwarden.slow_query_log WHERE query LIKE %s",
        ["%forged%"],
    )
    assert forged == [(0,)]


def _json_line(query: str, ms: float = 150.0, **extra: Any) -> bytes:
    ts = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    record = {"timestamp": f"{ts} UTC", "pid": 77, "dbname": "shop",
              "message": f"duration: {ms} ms  statement: {query}", **extra}  # fmt: skip
    return json.dumps(record).encode() + b"\n"


def test_ingest_log_reads_the_good_lines_and_counts_the_bad(
    empty_dsn: str, tmp_path: Path
) -> None:
    with pg.connect(empty_dsn) as conn:
        migrate(conn)
    marker = _marker()
    bad = [
        _json_line(f"SELECT '{SECRET}'", ms=10**20),  # absurd duration
        _json_line("SELECT 1", timestamp="0001-01-01 00:00:00 +14"),  # absurd date
        _json_line("SELECT 1", timestamp="2999-01-01 00:00:00 UTC"),  # the future
        _json_line("SELECT 1", pid=2**70),  # out of the repository's range
        b"[" * 200_000 + b"\n",  # nesting
        b'{"timestamp": "2024-05-01 12:00:00 UTC", "message": "dura',  # cut short
        b"\xff\xfe" + SECRET.encode() + b"\n",  # not UTF-8, not JSON
    ]
    good = [_json_line(f"SELECT 1 AS {marker}_{i}") for i in range(3)]
    log = tmp_path / "server.json"
    odd = _json_line("SELECT '\x00\ud800'")  # NUL and a lone surrogate: cleaned
    lines = [line.rstrip(b"\n") + b"\n" for line in bad]
    log.write_bytes(b"".join([good[0], *lines, good[1], odd, good[2]]))

    result = CliRunner().invoke(_app(empty_dsn), ["ingest-log", str(log)])

    assert result.exit_code == 0, result.output
    assert _slow_queries(empty_dsn, marker) == [
        f"SELECT $1 AS {marker}_{i}" for i in range(3)
    ]
    assert f"skipped {len(bad)} unreadable log records" in result.stderr
    assert "duration: out of range at byte" in result.stderr
    assert SECRET not in result.output


def test_a_cut_csvlog_record_costs_only_itself(empty_dsn: str, tmp_path: Path) -> None:
    with pg.connect(empty_dsn) as conn:
        migrate(conn)
    marker = _marker()
    ts = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"

    def record(query: str) -> str:
        message = f"duration: 150.0 ms  statement: {query}".replace('"', '""')
        return (f'{ts},"app","shop",77,"h:1","s",1,"SELECT",{ts},"3/4",0,"LOG",'
                f'"00000","{message}",,,,,,,,,"psql","client backend",,\n')  # fmt: skip

    first = record(f'SELECT "a",\n  1 AS {marker}_0')
    cut = record(f"SELECT '{SECRET}'")[:-40] + "\n"  # its message's quote is open
    log = tmp_path / "server.csv"
    log.write_text(first + cut + record(f'SELECT "b",\n 1 AS {marker}_1'))

    result = CliRunner().invoke(_app(empty_dsn), ["ingest-log", str(log)])

    assert result.exit_code == 0, result.output
    assert len(_slow_queries(empty_dsn, marker)) == 2
    assert "skipped 1 unreadable log record" in result.stderr
    assert SECRET not in result.output


@pytest.fixture
def sql_ascii_db(pg_server: TestServer) -> Iterator[str]:
    """A SQL_ASCII database; its statements leave pg_stat_statements at the end
    (while they are there, no UTF8 database of the server can read any text)."""
    name = f"pgwarden_test_ascii_{uuid.uuid4().hex[:8]}"
    with pg_server.admin() as conn:
        conn.execute(
            sql.SQL(
                "CREATE DATABASE {} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'"
                " TEMPLATE template0"
            ).format(sql.Identifier(name))
        )
    dsn = pg_server.dsn(name)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
        yield dsn
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_stat_statements_reset(0::oid, oid, 0::bigint)"
                " FROM pg_database WHERE datname = current_database()"
            )
        pg_server.drop(name)


def _run_bytes(dsn: str, statement: bytes) -> None:
    """Run ``statement`` as bytes, as a SQL_ASCII client may send them."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        result = conn.pgconn.exec_(statement)
        assert result.error_message == b"", result.error_message


def test_statement_text_of_any_bytes_keeps_the_statistics(
    sql_ascii_db: str, empty_dsn: str
) -> None:
    marker = _marker()
    table = f"t_{marker}".encode() + b"\xfe\xff"
    _run_bytes(sql_ascii_db, b'CREATE TABLE "' + table + b'" (x int)')
    query = f"SELECT 1 /* \xff\xfe {marker} */ AS".encode("latin-1") + b' "a\xff"'
    for _ in range(3):
        _run_bytes(sql_ascii_db, query)
    app = _app(sql_ascii_db, repository_dsn=empty_dsn)

    first = CliRunner().invoke(app, ["collect", "--once"])
    _run_bytes(sql_ascii_db, query)
    second = CliRunner().invoke(app, ["collect", "--once"])

    assert first.exit_code == 0 and second.exit_code == 0, second.output
    assert "escaped_texts=" in first.stderr
    [(text, calls)] = _rows(
        empty_dsn,
        "SELECT t.query, sum(s.calls) FROM pgwarden.statement_text t"
        " JOIN pgwarden.statement_current s"
        " USING (target_id, dbid, userid, queryid, toplevel)"
        " WHERE t.query LIKE %s GROUP BY t.query",
        [f"%{marker}%"],
    )
    assert text == f'SELECT $1 /* \\xff\\xfe {marker} */ AS "a\\xff"'
    assert calls == 1  # the statistics of the interval are stored
    names = _rows(
        empty_dsn,
        "SELECT rel_name FROM pgwarden.relation WHERE rel_name LIKE %s",
        [f"t_{marker}%"],
    )
    assert names == [(f"t_{marker}\\xfe\\xff",)]


def test_another_databases_bad_text_leaves_the_counters(
    sql_ascii_db: str, empty_dsn: str
) -> None:
    _run_bytes(sql_ascii_db, b"SELECT 1 /* \xff\xfe */")
    app = _app(empty_dsn)

    first = CliRunner().invoke(app, ["collect", "--once"])
    running = threading.Thread(
        target=_run_bytes, args=(sql_ascii_db, b"SELECT pg_sleep(3) /* \xff */")
    )
    running.start()
    try:
        _wait_running(empty_dsn, "pg_sleep(3)")  # sampled by the next cycle
        second = CliRunner().invoke(app, ["collect", "--once"])
    finally:
        running.join()

    assert first.exit_code == 0 and second.exit_code == 0, second.output
    assert "counters are kept" in second.stderr
    [(stored,)] = _rows(
        empty_dsn, "SELECT count(*) FROM pgwarden.statement_current", []
    )
    assert stored > 0  # the interval's statistics are stored


def _wait_running(dsn: str, text: str, timeout: float = 10) -> None:
    """Until a statement containing ``text`` has run for a slow statement's time."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT 1 FROM pg_stat_activity WHERE state = 'active'"
                " AND query_start < clock_timestamp() - interval '200 ms'"
                " AND position(%s IN query::bytea) > 0",
                [text.encode()],
            ).fetchone()
            if row:
                return
            time.sleep(0.05)
    pytest.fail(f"{text} never ran")


def test_a_nan_counter_costs_its_row(empty_dsn: str) -> None:
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (x int)")
        conn.execute("CREATE TABLE broken (x int)")
        conn.execute("UPDATE pg_class SET reltuples = 'NaN' WHERE relname = 'broken'")
    app = _app(empty_dsn)

    first = CliRunner().invoke(app, ["collect", "--once"])
    second = CliRunner().invoke(app, ["collect", "--once"])

    assert first.exit_code == 0 and second.exit_code == 0, second.output
    assert "skipped rows: tables=1 (first: reltuples: not a finite number)" in (
        second.stderr
    )
    tables = _rows(
        empty_dsn,
        "SELECT r.rel_name FROM pgwarden.table_current c"
        " JOIN pgwarden.relation r ON r.target_id = c.target_id AND r.relid = c.relid"
        " AND r.kind = 'table'",
        [],
    )
    assert ("kept",) in tables and ("broken",) not in tables
