"""Running one planned item on the target, recorded in ``maintenance_runs``.

Each item gets its own autocommit connection (VACUUM and REINDEX CONCURRENTLY cannot
run in a transaction block) carrying ``lock_timeout`` and ``statement_timeout``. An
operation that hits ``lock_timeout`` is retried after a doubling back-off, so the
application waits behind a queued maintenance lock at most ``lock_timeout`` per
attempt. Ctrl-C (or the ``cancel`` event) cancels the backend and records the run
as cancelled.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql

from pgwarden import dsn, pg
from pgwarden.config import Settings
from pgwarden.maintain import locks, store
from pgwarden.maintain.model import Item, Status, Trigger
from pgwarden.maintain.progress import Report, Watcher
from pgwarden.maintain.window import Clock, Window, utc_now

logger = logging.getLogger(__name__)
Conn = psycopg.Connection[Any]
CLIENT_CHECK_MS = 1000


@dataclass
class Outcome:
    """What became of one item."""

    item: Item
    status: Status
    reason: str
    run_id: int | None = None
    error: str | None = None
    attempts: int = 0
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    duration_ms: float | None = None
    #: the role lacks the privilege to maintain the table (exit 3)
    denied: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "schema": self.item.schema,
            "table": self.item.table, "index": self.item.index,
            "operation": self.item.operation, "status": self.status,
            "reason": self.reason, "error": self.error, "attempts": self.attempts,
            "duration_ms": self.duration_ms,
            "size_before": self.before.get("size_bytes"),
            "size_after": self.after.get("size_bytes"),
        }  # fmt: skip


def statement(item: Item) -> sql.Composed:
    table = sql.Identifier(item.schema, item.table)
    if item.operation == "reindex":
        assert item.index is not None
        return sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(
            sql.Identifier(item.schema, item.index))  # fmt: skip
    text = {
        "analyze": "ANALYZE {}",
        "vacuum": "VACUUM {}",
        "vacuum_freeze": "VACUUM (FREEZE) {}",
        "vacuum_full": "VACUUM (FULL) {}",
    }[item.operation]
    return sql.SQL(text).format(table)


class Executor:
    """Runs items one at a time for one target, recording every run."""

    def __init__(
        self, settings: Settings, target_dsn: str, repo: Conn, target_id: int,
        trigger: Trigger, *, force_window: bool = False, report: Report | None = None,
        cancel: threading.Event | None = None, clock: Clock = utc_now,
    ) -> None:  # fmt: skip
        self.s, self.m = settings, settings.maintenance
        self.dsn, self.repo, self.target_id = target_dsn, repo, target_id
        self.trigger, self.force_window = trigger, force_window
        self.report, self.cancel, self.clock = report, cancel, clock
        self.window = Window.from_settings(settings)

    # -- recording ---------------------------------------------------------------

    def _row(
        self, item: Item, status: Status, reason: str, **extra: Any
    ) -> dict[str, Any]:
        now = self.clock()
        return {
            "target_id": self.target_id, "schema_name": item.schema,
            "table_name": item.table, "table_oid": item.table_oid,
            "index_name": item.index, "operation": item.operation,
            "trigger": self.trigger, "status": status, "reason": reason,
            "error": None, "started_at": now, "finished_at": now,
            "duration_ms": 0.0, "attempts": 0, "live_rows_before": None,
            "dead_rows_before": None, "size_before": None, "backend_pid": None,
            "worker": locks.WORKER, **extra,
        }  # fmt: skip

    def _record(self, item: Item, status: Status, reason: str, **kw: Any) -> Outcome:
        run_id = store.insert(self.repo, self._row(item, status, reason))
        return Outcome(item, status, reason, run_id, **kw)

    # -- running -----------------------------------------------------------------

    def run(self, item: Item) -> Outcome:
        if item.heavy and not (self.force_window or self.window.contains(self.clock())):
            return self._record(item, "skipped", "refused: outside the maintenance "
                                f"window {self.window.describe()}; --force-window "
                                "runs it anyway")  # fmt: skip
        with pg.connect(self.dsn, statement_timeout_ms=None) as conn:
            if not locks.try_lock(conn, item.table_oid):
                holder = locks.holder_of(conn, item.table_oid)
                return self._record(item, "skipped", "another run holds the table"
                                    f" (backend {holder})")  # fmt: skip
            try:
                return self._locked(conn, item)
            finally:
                if not conn.closed and not conn.broken:
                    locks.unlock(conn, item.table_oid)

    def _locked(self, conn: Conn, item: Item) -> Outcome:
        self._configure(conn)
        denied = self._denied(conn, item)
        if denied is not None:
            return self._record(item, "failed", denied, denied=True)
        before = self._measure(conn, item)
        started = self.clock()
        run_id = store.insert(self.repo, self._row(
            item, "running", item.reason, started_at=started, finished_at=None,
            duration_ms=None, live_rows_before=before.get("live_rows"),
            dead_rows_before=before.get("dead_rows"),
            size_before=before.get("size_bytes"), backend_pid=conn.info.backend_pid,
        ))  # fmt: skip
        outcome = Outcome(item, "running", item.reason, run_id, before=before)
        t0 = time.monotonic()
        try:
            with Watcher(self.dsn, self.repo, run_id, conn.info.backend_pid,
                         item.target, item.operation, self.report,
                         self.cancel) as watcher:  # fmt: skip
                self._attempts(conn, item, outcome, watcher)
        except KeyboardInterrupt:
            outcome.status, outcome.reason = "cancelled", "cancelled (interrupted)"
            self._finish(conn, outcome, t0)
            raise
        self._finish(conn, outcome, t0)
        return outcome

    def _configure(self, conn: Conn) -> None:
        for name, value in (
            ("lock_timeout", self.m.lock_timeout_ms),
            ("statement_timeout", self.m.statement_timeout_ms),
            ("client_connection_check_interval", CLIENT_CHECK_MS),
        ):  # fmt: skip
            conn.execute("SELECT set_config(%s, %s, false)", [name, str(value)])

    def _attempts(
        self, conn: Conn, item: Item, outcome: Outcome, watcher: Watcher
    ) -> None:
        tries = self.m.lock_retries + 1
        for attempt in range(1, tries + 1):
            outcome.attempts = attempt
            try:
                self._execute(conn, item)
            except pgerrors.LockNotAvailable as exc:
                self._cleanup(conn, item)
                outcome.error = _message(exc)
                if attempt == tries:
                    outcome.status = "timeout"
                    outcome.reason = (
                        f"lock not granted within lock_timeout "
                        f"{self.m.lock_timeout_ms} ms in {tries} attempts; retried "
                        "at the next run")  # fmt: skip
                    return
                delay = self.m.retry_backoff_seconds * 2 ** (attempt - 1)
                if self.cancel is not None and self.cancel.wait(delay):
                    outcome.status, outcome.reason = "cancelled", "cancelled"
                    return
                if self.cancel is None:
                    time.sleep(delay)
                continue
            except pgerrors.QueryCanceled as exc:
                self._cleanup(conn, item)
                outcome.error = _message(exc)
                if watcher.cancelled:
                    outcome.status, outcome.reason = "cancelled", "cancelled"
                else:
                    outcome.status = "timeout"
                    limit = self.m.statement_timeout_ms
                    outcome.reason = f"statement_timeout {limit} ms reached"
                return
            except pgerrors.InsufficientPrivilege as exc:
                outcome.status, outcome.reason = "failed", "permission denied"
                outcome.error, outcome.denied = _message(exc), True
                return
            except (psycopg.Error, RepackFailed) as exc:
                self._cleanup(conn, item)
                outcome.status, outcome.reason = "failed", "error"
                outcome.error = _message(exc)
                return
            outcome.status = "ok"
            return

    def _execute(self, conn: Conn, item: Item) -> None:
        if item.operation == "repack":
            repack(self.dsn, item, self.m.lock_timeout_ms)
            return
        conn.execute(statement(item))

    def _finish(self, conn: Conn, outcome: Outcome, t0: float) -> None:
        outcome.duration_ms = round((time.monotonic() - t0) * 1000, 1)
        if not conn.broken:
            try:
                outcome.after = self._measure(conn, outcome.item)
            except psycopg.Error:
                logger.debug("cannot measure after the run", exc_info=True)
        store.finish(self.repo, {
            "id": outcome.run_id, "status": outcome.status, "reason": outcome.reason,
            "error": outcome.error, "finished_at": self.clock(),
            "duration_ms": outcome.duration_ms, "attempts": outcome.attempts,
            "live_rows_after": outcome.after.get("live_rows"),
            "dead_rows_after": outcome.after.get("dead_rows"),
            "size_after": outcome.after.get("size_bytes"),
        })  # fmt: skip

    # -- checks and measures -------------------------------------------------------

    def _denied(self, conn: Conn, item: Item) -> str | None:
        name = pg.query("maintain", "may_maintain", pg.server_version_num(conn))
        row = pg.fetch_one(conn, name, [item.table_oid])
        if row is None:
            return "the table no longer exists"
        if (row["schema_name"], row["table_name"]) != (item.schema, item.table):
            now = sql.Identifier(row["schema_name"], row["table_name"]).as_string(conn)
            return (f"not run: the planned table (oid {item.table_oid}) is now "
                    f"{now}; {item.schema}.{item.table} is another table, or the "
                    "connection reached another database")  # fmt: skip
        if row["allowed"]:
            return None
        return (f"permission denied: role {row['role']} is not the owner of "
                f"{item.schema}.{item.table} (owner {row['owner']}); run maintenance "
                "as the owner, or GRANT MAINTAIN (PostgreSQL 17+)")  # fmt: skip

    def _measure(self, conn: Conn, item: Item) -> dict[str, Any]:
        """Rows and size; unknown when a lock keeps them from being read."""
        try:
            return self._read_measure(conn, item)
        except (pgerrors.LockNotAvailable, pgerrors.QueryCanceled):
            return {}

    def _read_measure(self, conn: Conn, item: Item) -> dict[str, Any]:
        table = pg.fetch_one(conn, pg.query("maintain", "relation"), [item.table_oid])
        if table is None:
            return {}
        found = {k: table[k] for k in ("live_rows", "dead_rows", "size_bytes")}
        if item.index is not None:
            name = sql.Identifier(item.schema, item.index).as_string(conn)
            row = pg.fetch_one(conn, pg.query("maintain", "index_size"), [name])
            found["size_bytes"] = None if row is None else row["size_bytes"]
        return found

    def _cleanup(self, conn: Conn, item: Item) -> None:
        """Drop the invalid copy a failed REINDEX CONCURRENTLY leaves behind."""
        if item.operation != "reindex" or conn.broken or item.index is None:
            return
        rows = pg.fetch_all(conn, pg.query("maintain", "invalid_copies"),
                            [item.schema, item.index])  # fmt: skip
        for row in rows:
            conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                sql.Identifier(item.schema, row["name"])))  # fmt: skip


class RepackFailed(Exception):
    """pg_repack failed."""


def repack(target_dsn: str, item: Item, lock_timeout_ms: int) -> None:
    """Rebuild the table online with the pg_repack client.

    pg_repack (1.4.8) reads no connection string: the connection goes in its
    ``--host``, ``--port``, ``--username`` and ``--dbname`` options and libpq's
    ``PG*`` variables, the password in a private passfile; never on its command
    line, which every local user can read.
    """
    binary = shutil.which("pg_repack")
    if binary is None:
        raise RepackFailed(
            "the pg_repack client is not on PATH (the extension is installed): "
            "install the client, or DROP EXTENSION pg_repack to use VACUUM FULL"
        )
    argv = repack_argv(binary, item, lock_timeout_ms)
    try:
        with dsn.client(target_dsn) as client:
            done = subprocess.run(
                [*argv, *client.args], env=client.env, capture_output=True,
                text=True, check=False, stdin=subprocess.DEVNULL,
            )  # fmt: skip
    except dsn.ClientError as exc:
        raise RepackFailed(f"cannot hand the connection to pg_repack: {exc}") from exc
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip()[-500:]
        raise RepackFailed(dsn.scrub(output, target_dsn))


def repack_argv(binary: str, item: Item, lock_timeout_ms: int) -> list[str]:
    """pg_repack's command line for ``item``, without the connection options."""
    name = sql.Identifier(item.schema, item.table).as_string(None)
    wait = str(max(1, lock_timeout_ms // 1000))
    return [binary, "--no-password", "--no-order", "--wait-timeout", wait,
            f"--table={name}"]  # fmt: skip


def _message(exc: BaseException) -> str:
    if isinstance(exc, psycopg.Error) and exc.diag.message_primary:
        return exc.diag.message_primary
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
