"""Every statement pgwarden sends is its own; the application's never are.

Read back from ``pg_stat_statements`` of a fresh database after pgwarden's commands
ran against it, on every server of the session.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pgwarden import pg
from pgwarden.embedded import free_port
from pgwarden.sqltext import is_marked, is_own
from tests.cli_helpers import clean_env, pgwarden
from tests.integration.test_advisor_demo import workload

pytestmark = pytest.mark.slow

#: pgwarden's commands, in the order a user would run them on a new database
COMMANDS = [
    ("init",),
    ("collect", "--once"),
    ("collect", "--once"),
    ("metrics", "--format", "json"),
    ("queries", "top", "--format", "json"),
    ("queries", "advise", "--format", "json"),
    ("indexes", "health", "--format", "json"),
    ("indexes", "advise", "--format", "json"),
    ("doctor", "--format", "json"),
    ("capacity", "baseline", "--format", "json"),
    ("partitions", "advise", "--format", "json"),
    ("maintain", "plan", "--format", "json"),
    ("slow-queries", "--format", "json"),
    ("collect", "--once"),
]
STATEMENTS = """
SELECT queryid, toplevel, calls, query FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
"""
TOKEN = "own-statements-token"


@dataclass(frozen=True)
class Entry:
    queryid: int
    toplevel: bool
    calls: int
    query: str

    @property
    def key(self) -> tuple[int, bool]:
        return self.queryid, self.toplevel


def statements(dsn: str) -> list[Entry]:
    with pg.connect(dsn) as conn:
        return [Entry(**row) for row in pg.fetch_all(conn, STATEMENTS)]


def reset(dsn: str) -> None:
    with pg.connect(dsn) as conn:
        conn.execute(
            "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database"
            " WHERE datname = current_database()), 0)"
        )


def run(dsn: str, *args: str) -> Any:
    done = pgwarden("--dsn", dsn, *args)
    assert done.returncode == 0, (args, done.stderr)
    return json.loads(done.stdout) if "json" in args else None


@contextmanager
def serving(dsn: str) -> Iterator[str]:
    """``pgwarden serve`` in a process of its own; yields its base URL."""
    port = free_port()
    env = clean_env(PGWARDEN_DASHBOARD__ADMIN_TOKEN=TOKEN)
    command = [sys.executable, "-m", "pgwarden", "--dsn", dsn, "serve",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    server = subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=60)


def api(base: str, path: str) -> Any:
    """The JSON of an admin API resource, once the server listens."""
    request = urllib.request.Request(
        base + path, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def application(dsn: str) -> None:
    """A plain psycopg connection, as any application opens, then the demo app."""
    with psycopg.connect(dsn) as conn:
        conn.execute('SELECT count(*) FROM "Tenant"')
        conn.execute('SELECT id FROM "Assessment" WHERE status = %s', ["DRAFT"])
        with conn.cursor() as cur:
            cur.executemany('SELECT id FROM "User" WHERE id = %s', [(1,), (2,)])
        conn.commit()
    workload(dsn, {"list_assessments": 30, "open_assessment_n_plus_one": 6})


def test_every_statement_pgwarden_sends_is_its_own(demo_dsn: str) -> None:
    reset(demo_dsn)
    for command in COMMANDS:
        run(demo_dsn, *command)
    with serving(demo_dsn) as base:
        metrics = api(base, "/api/admin/performance-metrics")
    assert metrics["own_statements"]["excluded"]
    entries = statements(demo_dsn)
    assert len(entries) > 100
    assert [e for e in entries if not is_own(e.query)] == []
    # statements the server runs itself (foreign key checks) are nested
    assert [e for e in entries if e.toplevel and not is_marked(e.query)] == []


def test_the_applications_statements_are_never_own(demo_dsn: str) -> None:
    reset(demo_dsn)
    for command in COMMANDS[:3]:
        run(demo_dsn, *command)
    statements(demo_dsn)  # recorded once done: its own entry is there the next time
    before = {e.key for e in statements(demo_dsn)}
    application(demo_dsn)
    found = [e for e in statements(demo_dsn) if e.key not in before]
    assert [e.query for e in found if is_own(e.query)] == []
    assert any('FROM "Tenant"' in e.query for e in found)
    app = {e.queryid for e in found}
    advice = run(demo_dsn, "queries", "advise", "--format", "json")  # EXPLAINs them
    run(demo_dsn, "collect", "--once")
    top = run(demo_dsn, "queries", "top", "--by", "calls", "--limit", "100",
              "--format", "json")  # fmt: skip
    metrics = run(demo_dsn, "metrics", "--format", "json")
    assert top and {int(q["queryid"]) for q in top} <= app
    assert any('FROM "Tenant"' in q["query"] for q in top)
    slowest = {int(q["queryid"]) for q in metrics["slowest_queries"]}
    assert slowest and slowest <= app
    assert metrics["own_statements"]["statements"] > 0
    kinds = {f["kind"] for f in advice["findings"]}
    assert "n_plus_one" in kinds
    assert {int(f["queryid"]) for f in advice["findings"] if f.get("queryid")} <= app


def test_the_seam_marks_every_kind_of_statement(empty_dsn: str) -> None:
    reset(empty_dsn)
    with pg.connect(empty_dsn, autocommit=False) as conn:
        conn.execute("CREATE TABLE t (a int, b text)")
        conn.execute(b"INSERT INTO t VALUES (1, 'x')")
        table = sql.Identifier("t")
        conn.execute(sql.SQL("SELECT a FROM {} WHERE a > %s").format(table), [0])
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO t VALUES (%s, %s)", [(2, "y"), (3, "z")])
            with cur.copy("COPY t (a, b) FROM STDIN") as copy:
                copy.write_row((4, "w"))
            assert len(list(cur.stream("SELECT a FROM t WHERE b <> %s", ["v"]))) == 4
        with conn.transaction():
            conn.execute("UPDATE t SET b = b || %s WHERE a = %s", ["!", 1])
        conn.commit()
        with conn.cursor(name="rows") as server_side:
            server_side.execute("SELECT b FROM t WHERE a < %s", [9])
            assert len(server_side.fetchall()) == 4
        conn.rollback()
    with pg.connect(empty_dsn, workload=True) as conn:
        conn.execute("SELECT b FROM t WHERE a = %s", [1])
    entries = statements(empty_dsn)
    unmarked = [e.query for e in entries if e.toplevel and not is_marked(e.query)]
    assert unmarked == ["SELECT b FROM t WHERE a = $1"]
    assert not is_own(unmarked[0])
    kinds = {e.query.split()[0].upper() for e in entries if e.toplevel}
    assert kinds >= {
        "CREATE",
        "INSERT",
        "SELECT",
        "UPDATE",
        "COPY",
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT",
        "RELEASE",
        "DECLARE",
        "FETCH",
        "CLOSE",
    }
