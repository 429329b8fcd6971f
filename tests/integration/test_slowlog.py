"""The slow query log against a real server: server log, sampling, dedup, retention."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgwarden import pg
from pgwarden.repository import migrate
from pgwarden.slowlog import (
    apply_retention,
    ensure_partitions,
    ensure_target,
    ingest_application_reports,
    ingest_server_log,
    record,
    sample_activity,
    slow_queries_per_minute,
)
from pgwarden.slowlog.model import SlowQuery
from pgwarden.slowlog.partitions import existing
from tests.conftest import TestServer

SECRETS = ("secret-123", "secret-456", "secret-789", "0.15", "0.55", "1.05")


@pytest.fixture
def repo(empty_dsn: str) -> Iterator[tuple[psycopg.Connection[Any], int]]:
    with pg.connect(empty_dsn, statement_timeout_ms=None) as conn:
        migrate(conn)
        yield conn, ensure_target(conn, "test-target")


@pytest.fixture
def log_dir(pg_server: TestServer) -> Path:
    if pg_server.embedded is None:
        pytest.skip("needs the server's log directory")
    return pg_server.embedded.pgdata / "log"


def _marker() -> str:
    return f"m_{uuid.uuid4().hex[:10]}"


def _wait_for_log(log_dir: Path, *markers: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = "".join(
            p.read_text(errors="replace") for p in log_dir.glob("*.json")
        ) + "".join(p.read_text(errors="replace") for p in log_dir.glob("*.csv"))
        if all(marker in text for marker in markers):
            return
        time.sleep(0.2)
    pytest.fail(f"{markers} never reached the server log")


def _rows(conn: psycopg.Connection[Any], marker: str) -> list[dict[str, Any]]:
    return pg.fetch_all(
        conn,
        "SELECT * FROM pgwarden.slow_query_log WHERE query LIKE %s ORDER BY ts",
        [f"%{marker}%"],
    )


def _no_secrets(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        stored = " ".join(str(row[k]) for k in ("query", "plan", "caller"))
        for secret in SECRETS:
            assert secret not in stored, stored


def _run_slow_statements(dsn: str, marker: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"SELECT pg_sleep(0.15), 'secret-123' AS {marker}_w "
            "/*action='slow_test',route='%2Fslow'*/"
        )
        conn.execute(
            f"SELECT pg_sleep(%s), %s::text AS {marker}_c",  # extended protocol
            [0.55, "secret-456"],
        )
        conn.execute(f"SELECT pg_sleep(1.05) AS {marker}_e\n  WHERE 'secret-789' <> ''")


def test_server_log_ingest(
    repo: tuple[psycopg.Connection[Any], int], empty_dsn: str, log_dir: Path
) -> None:
    conn, target_id = repo
    marker = _marker()
    _run_slow_statements(empty_dsn, marker)
    _wait_for_log(log_dir, f"{marker}_w", f"{marker}_c", f"{marker}_e")

    result = ingest_server_log(conn, target_id, log_dir)

    assert result.files >= 1 and result.stored >= 3
    rows = _rows(conn, marker)
    assert [row["severity"] for row in rows] == ["warning", "critical", "emergency"]
    assert {row["source"] for row in rows} == {"server_log"}
    assert rows[0]["caller"] == "slow_test /slow"
    assert rows[0]["query"] == f"SELECT pg_sleep($1), $2 AS {marker}_w"
    assert rows[1]["query"] == f"SELECT pg_sleep($1), $2::text AS {marker}_c"
    assert rows[2]["query"] == f"SELECT pg_sleep($1) AS {marker}_e\n  WHERE $2 <> $3"
    assert rows[2]["duration_ms"] >= 1050 and rows[2]["queryid"] is not None
    assert all(row["database"] == conn.info.dbname for row in rows)
    _no_secrets(rows)
    counts = slow_queries_per_minute(conn, target_id, datetime.now(UTC) - timedelta(1))
    assert sum(c.emergency for c in counts) >= 1


def test_incremental_ingest_reads_nothing_twice(
    repo: tuple[psycopg.Connection[Any], int], empty_dsn: str, log_dir: Path
) -> None:
    conn, target_id = repo
    first, second = _marker(), _marker()
    _run_slow_statements(empty_dsn, first)
    _wait_for_log(log_dir, f"{first}_e")
    ingest_server_log(conn, target_id, log_dir)
    ingest_server_log(conn, target_id, log_dir)
    # other tests' statements may still be reaching the log; ours must not repeat
    assert len(_rows(conn, first)) == 3
    duplicates = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM pgwarden.slow_query_log"
        " GROUP BY fingerprint, started_at, pid HAVING count(*) > 1) d"
    ).fetchone()
    assert duplicates == (0,)
    with psycopg.connect(empty_dsn, autocommit=True) as target:
        target.execute(f"SELECT pg_sleep(0.12) AS {second}")
    _wait_for_log(log_dir, second)

    later = ingest_server_log(conn, target_id, log_dir)

    assert later.stored >= 1
    assert len(_rows(conn, first)) == 3 and len(_rows(conn, second)) == 1


def test_rotation_and_truncation(
    repo: tuple[psycopg.Connection[Any], int], tmp_path: Path
) -> None:
    conn, target_id = repo
    marker = _marker()

    def line(n: int) -> str:
        ts = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        return (
            f'{{"timestamp":"{ts} UTC","pid":{n},"dbname":"d","message":'
            f'"duration: 200.0 ms  statement: SELECT {n} AS {marker}_{n}"}}\n'
        )

    log = tmp_path / "postgresql.json"
    log.write_text(line(1) + line(2))
    assert ingest_server_log(conn, target_id, tmp_path).stored == 2
    with log.open("a") as fh:
        fh.write(line(3) + line(4)[:30])  # the last line is still being written
    assert ingest_server_log(conn, target_id, tmp_path).stored == 1
    with log.open("a") as fh:
        fh.write(line(4)[30:])
    assert ingest_server_log(conn, target_id, tmp_path).stored == 1
    log.write_text(line(5))  # truncated and rewritten
    assert ingest_server_log(conn, target_id, tmp_path).stored == 1
    (tmp_path / "postgresql-2.json").write_text(line(6))  # rotated to a new file
    assert ingest_server_log(conn, target_id, tmp_path).stored == 1
    assert len(_rows(conn, marker)) == 6


def _sleep_in_thread(
    dsn: str, statement: str, application_name: str = "sampled-app"
) -> threading.Thread:
    def run() -> None:
        with psycopg.connect(
            dsn, autocommit=True, application_name=application_name
        ) as conn:
            conn.execute(statement)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _sample_while(
    thread: threading.Thread,
    target: psycopg.Connection[Any],
    repo: psycopg.Connection[Any],
    target_id: int,
) -> int:
    samples = 0
    while thread.is_alive():
        sample_activity(target, repo, target_id, threshold_ms=100)
        samples += 1
        time.sleep(0.25)
    thread.join()
    return samples


def test_activity_sampling_stores_a_statement_once(
    repo: tuple[psycopg.Connection[Any], int], empty_dsn: str
) -> None:
    conn, target_id = repo
    marker, own = _marker(), _marker()
    slow = _sleep_in_thread(empty_dsn, f"SELECT pg_sleep(2), 'secret-123' AS {marker}")
    ours = _sleep_in_thread(empty_dsn, f"SELECT pg_sleep(1) AS {own}", "pgwarden")
    with pg.connect(empty_dsn) as target:
        samples = _sample_while(slow, target, conn, target_id)
    ours.join()

    assert samples >= 4
    [row] = _rows(conn, marker)
    assert row["source"] == "activity" and row["severity"] == "emergency"
    assert 1500 <= row["duration_ms"] < 2500
    assert row["application_name"] == "sampled-app" and row["pid"] is not None
    assert row["query"] == f"SELECT pg_sleep($1), $2 AS {marker}"
    assert _rows(conn, own) == []


def test_log_and_sampling_are_one_execution(
    repo: tuple[psycopg.Connection[Any], int], empty_dsn: str, log_dir: Path
) -> None:
    conn, target_id = repo
    marker = _marker()
    statement = (
        f"SELECT pg_sleep(1.2) AS {marker} /*action='report',route='%2Freports'*/"
    )
    thread = _sleep_in_thread(empty_dsn, statement)
    with pg.connect(empty_dsn) as target:
        _sample_while(thread, target, conn, target_id)
    [sampled] = _rows(conn, marker)
    assert sampled["source"] == "activity" and sampled["caller"] == "report /reports"
    _wait_for_log(log_dir, marker)

    ingest_server_log(conn, target_id, log_dir)

    [row] = _rows(conn, marker)
    assert row["source"] == "server_log" and row["id"] == sampled["id"]
    assert row["duration_ms"] >= 1200 and row["duration_ms"] != sampled["duration_ms"]
    assert row["caller"] == "report /reports"
    assert row["backend_start"] is not None


def test_application_reports(repo: tuple[psycopg.Connection[Any], int]) -> None:
    conn, target_id = repo
    marker = _marker()
    now = datetime.now(UTC).isoformat()
    good = {
        "ts": now, "duration_ms": 640.5, "caller": "shop.views:checkout:88",
        "query": f"SELECT * FROM orders o WHERE o.note = 'secret-123' -- {marker}\n"
                 f"AND o.id IN (1, 2, 3) AND true AS {marker}",
        "database": "shop", "user": "app", "application_name": "shop",
    }  # fmt: skip
    records: list[Any] = [
        good,
        {**good, "duration_ms": "fast"},
        {**good, "duration_ms": 5},
        "not an object",
        {**good, "query": "x" * 50_000 + f" 'secret-456' {marker}"},
    ]

    result = ingest_application_reports(conn, target_id, records)

    assert (result.accepted, result.rejected) == (2, 3)
    assert [r.index for r in result.reasons] == [1, 2, 3]
    assert "below" in result.reasons[1].reason
    rows = pg.fetch_all(
        conn,
        "SELECT * FROM pgwarden.slow_query_log WHERE source = 'application' "
        "ORDER BY length(query)",
    )
    assert rows[0]["caller"] == "shop.views:checkout:88"
    assert rows[0]["severity"] == "critical" and rows[0]["username"] == "app"
    assert "secret" not in rows[0]["query"] and "$2" in rows[0]["query"]
    assert len(rows[1]["query"]) <= 16_384 and "secret" not in rows[1]["query"]


def test_retention_drops_old_partitions(
    repo: tuple[psycopg.Connection[Any], int],
) -> None:
    conn, target_id = repo
    now = datetime.now(UTC)
    old = now - timedelta(days=40)

    def query(ts: datetime) -> SlowQuery:
        return SlowQuery(ts, 150.0, "SELECT $1", "f", "warning", "application")

    record(conn, target_id, [query(old)], now=old)
    created = ensure_partitions(conn, now)
    record(conn, target_id, [query(now)])
    assert record(conn, target_id, [query(old)]) == 0  # already past retention
    before = existing(conn)
    assert len(before) >= 4 and len(created) == 3

    dropped = apply_retention(conn, now, 30)

    assert dropped == [f"slow_query_log_p{old:%Y%m%d}"]
    assert existing(conn) == before - set(dropped)
    [row] = pg.fetch_all(conn, "SELECT ts FROM pgwarden.slow_query_log")
    assert row["ts"] == now
    assert apply_retention(conn, now, 30) == []


def test_pgwardens_own_slow_statements_are_not_workload(
    repo: tuple[psycopg.Connection[Any], int], empty_dsn: str, log_dir: Path
) -> None:
    conn, target_id = repo
    marker = _marker()
    with psycopg.connect(empty_dsn, autocommit=True) as app:
        app.execute(f"SELECT pg_sleep(0.15) AS {marker}_app")
    with psycopg.connect(
        empty_dsn, autocommit=True, application_name="pgwarden-worker"
    ) as worker:
        worker.execute(f"SELECT pg_sleep(0.15) AS {marker}_worker")
    with pg.connect(empty_dsn, application_name="maintenance") as marked:
        marked.execute(f"SELECT pg_sleep(0.15) AS {marker}_marked")
    _wait_for_log(log_dir, f"{marker}_app", f"{marker}_worker", f"{marker}_marked")

    ingest_server_log(conn, target_id, log_dir)

    assert [row["query"].rpartition("AS ")[2] for row in _rows(conn, marker)] == [
        f"{marker}_app"
    ]
