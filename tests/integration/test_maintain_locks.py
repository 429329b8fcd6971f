"""Maintenance under contention: lock_timeout and retries, one run per table across
workers, a worker killed mid-run, a run cancelled with Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg import errors as pgerrors
from psycopg import sql

from pgwarden import pg
from pgwarden.maintain import active_runs, run_cycle
from tests.cli_helpers import clean_env
from tests.integration.test_maintain_run import (
    HOSTILE,
    bloated,
    runs,
    settings,
    window_env,
)

TABLE = sql.Identifier(HOSTILE)


@contextmanager
def reader_in_transaction(dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """An application transaction that read the table: it holds ACCESS SHARE."""
    with psycopg.connect(dsn) as conn:
        conn.execute(sql.SQL("SELECT count(*) FROM {}").format(TABLE))
        yield conn
        conn.rollback()


def wait_for(check: Any, what: str, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def running_run(dsn: str) -> Any:
    return wait_for(lambda: active_runs_of(dsn), "a running maintenance run")[0]


def active_runs_of(dsn: str) -> list[Any]:
    with pg.connect(dsn) as conn:
        return active_runs(conn, pg.describe(dsn))


def backend_alive(dsn: str, pid: int) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return row.fetchone() is not None


def waiting_on_lock(dsn: str, pid: int) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT wait_event_type FROM pg_stat_activity "
                           "WHERE pid = %s", [pid]).fetchone()  # fmt: skip
    return row is not None and row[0] == "Lock"


def test_lock_timeout_retries_then_records_a_timeout_without_blocking_the_app(
    empty_dsn: str,
) -> None:
    bloated(empty_dsn)
    s = settings(lock_timeout_ms=300, lock_retries=2, retry_backoff_seconds=0.05)
    app_errors: list[BaseException] = []
    app_queries = 0
    stop = threading.Event()

    def application() -> None:
        # far above lock_timeout: cancelled only if maintenance blocked it for good
        nonlocal app_queries
        with pg.connect(empty_dsn, statement_timeout_ms=20 * 300) as conn:
            while not stop.is_set():
                try:
                    conn.execute(sql.SQL("SELECT count(*) FROM {}").format(TABLE))
                    app_queries += 1
                except pgerrors.QueryCanceled as exc:
                    app_errors.append(exc)
                time.sleep(0.02)

    with reader_in_transaction(empty_dsn):
        app = threading.Thread(target=application)
        app.start()
        try:
            cycle = run_cycle(s, empty_dsn, empty_dsn, tables=[HOSTILE],
                              operations=["vacuum_full"])  # fmt: skip
        finally:
            stop.set()
            app.join()
    [outcome] = cycle.outcomes
    assert outcome.status == "timeout"
    assert outcome.attempts == 3
    assert "lock_timeout 300 ms in 3 attempts" in outcome.reason
    assert "lock timeout" in (outcome.error or "")
    assert app_errors == [] and app_queries > 0
    [recorded] = runs(empty_dsn)
    assert (recorded.status, recorded.attempts) == ("timeout", 3)
    again = run_cycle(s, empty_dsn, empty_dsn, tables=[HOSTILE],
                      operations=["vacuum_full"])  # fmt: skip
    assert again.outcomes[0].status == "ok"


def test_two_workers_never_maintain_the_same_table_at_once(empty_dsn: str) -> None:
    bloated(empty_dsn)
    s = settings(lock_timeout_ms=30_000)
    first: list[Any] = []
    with reader_in_transaction(empty_dsn) as holder:

        def work() -> None:
            first.append(run_cycle(s, empty_dsn, empty_dsn, tables=[HOSTILE],
                                   operations=["vacuum_full"]))  # fmt: skip

        worker = threading.Thread(target=work)
        worker.start()
        run = running_run(empty_dsn)
        assert run.table_name == HOSTILE and run.operation == "vacuum_full"
        second = run_cycle(s, empty_dsn, empty_dsn, tables=[HOSTILE],
                           operations=["analyze"])  # fmt: skip
        holder.rollback()
        worker.join()
    [skipped] = second.outcomes
    assert skipped.status == "skipped"
    assert skipped.reason.startswith("another run holds the table")
    assert first[0].outcomes[0].status == "ok"
    assert active_runs_of(empty_dsn) == []


def _run_cli(dsn: str, **env: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "pgwarden", "--dsn", dsn, "maintain", "run",
            "--table", HOSTILE, "--operation", "vacuum_full"]  # fmt: skip
    return subprocess.Popen(argv, env=clean_env(**window_env(**env)), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


@pytest.mark.slow
def test_worker_killed_mid_run_is_marked_failed_and_the_job_retried(
    empty_dsn: str,
) -> None:
    bloated(empty_dsn)
    with reader_in_transaction(empty_dsn):
        proc = _run_cli(empty_dsn, PGWARDEN_MAINTENANCE__LOCK_TIMEOUT_MS="60000")
        try:
            run = running_run(empty_dsn)
            wait_for(lambda: waiting_on_lock(empty_dsn, run.backend_pid), "lock wait")
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate()
        # the server notices the vanished client (client_connection_check_interval)
        wait_for(lambda: not backend_alive(empty_dsn, run.backend_pid), "exit")
    retried = run_cycle(settings(), empty_dsn, empty_dsn, tables=[HOSTILE])
    assert [r.run_id for r in retried.recovered] == [run.id]
    assert retried.recovered[0].reason.startswith("worker died")
    assert {o.item.operation: o.status for o in retried.outcomes}["vacuum_full"] == "ok"
    by_id = {r.id: r for r in runs(empty_dsn)}
    assert by_id[run.id].status == "failed"
    assert "worker died" in (by_id[run.id].reason or "")


@pytest.mark.slow
def test_ctrl_c_cancels_the_backend_and_records_the_run(empty_dsn: str) -> None:
    bloated(empty_dsn)
    with reader_in_transaction(empty_dsn):
        proc = _run_cli(empty_dsn, PGWARDEN_MAINTENANCE__LOCK_TIMEOUT_MS="60000")
        run = running_run(empty_dsn)
        wait_for(lambda: waiting_on_lock(empty_dsn, run.backend_pid), "lock wait")
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 130
    by_id = {r.id: r for r in runs(empty_dsn)}
    assert by_id[run.id].status == "cancelled"
    assert not waiting_on_lock(empty_dsn, run.backend_pid)
