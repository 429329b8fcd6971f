"""Live progress of a running operation, read from a second connection.

The watcher polls ``pg_stat_progress_vacuum`` (VACUUM), ``pg_stat_progress_cluster``
(VACUUM FULL), ``pg_stat_progress_analyze`` and ``pg_stat_progress_create_index``
(REINDEX CONCURRENTLY) for the executing backend, reports what it waits for when it
is blocked, keeps the run's heartbeat fresh in the repository, and cancels the
backend (``pg_cancel_backend``) when asked to.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.maintain import store

logger = logging.getLogger(__name__)
VIEW = {
    "analyze": "progress_analyze",
    "vacuum": "progress_vacuum",
    "vacuum_freeze": "progress_vacuum",
    "vacuum_full": "progress_cluster",
    "repack": "progress_cluster",
    "reindex": "progress_create_index",
}
POLL_S = 0.5
HEARTBEAT_S = 5.0


@dataclass(frozen=True)
class Progress:
    target: str
    operation: str
    phase: str
    done: int | None = None
    total: int | None = None
    unit: str = ""
    waiting_for: str | None = None

    def describe(self) -> str:
        text = f"{self.operation} {self.target}: {self.phase}"
        if self.total:
            share = 100 * (self.done or 0) / self.total
            text += f" {self.done:,}/{self.total:,} {self.unit} ({share:.0f} %)"
        if self.waiting_for:
            text += f" — waiting for a lock held by {self.waiting_for}"
        return text


Report = Callable[[Progress], None]


class Watcher:
    """A thread watching one backend until :meth:`stop`."""

    def __init__(
        self, target_dsn: str, repo: psycopg.Connection[Any], run_id: int,
        backend_pid: int, target: str, operation: str, report: Report | None,
        cancel: threading.Event | None,
    ) -> None:  # fmt: skip
        self.dsn, self.repo, self.run_id = target_dsn, repo, run_id
        self.pid, self.target, self.operation = backend_pid, target, operation
        self.report, self.cancel = report, cancel
        self.cancelled = False
        self._stop = threading.Event()
        name = f"maintain-progress-{backend_pid}"
        self._thread = threading.Thread(target=self._loop, daemon=True, name=name)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        try:
            with pg.connect(self.dsn, statement_timeout_ms=2000) as conn:
                self._watch(conn)
        except Exception:  # progress is a courtesy: never fail the run
            logger.debug("progress watcher stopped", exc_info=True)

    def _watch(self, conn: psycopg.Connection[Any]) -> None:
        beat = time.monotonic()
        while not self._stop.wait(POLL_S):
            if self.cancel is not None and self.cancel.is_set() and not self.cancelled:
                pg.fetch_one(conn, pg.query("maintain", "cancel"), [self.pid])
                self.cancelled = True
            if self.report is not None:
                self.report(self.read(conn))
            if time.monotonic() - beat >= HEARTBEAT_S:
                beat = time.monotonic()
                store.heartbeat(self.repo, self.run_id)

    def read(self, conn: psycopg.Connection[Any]) -> Progress:
        row = pg.fetch_one(conn, pg.query("maintain", VIEW[self.operation]), [self.pid])
        blockers = pg.fetch_all(conn, pg.query("maintain", "blockers"), [self.pid])
        waiting = ", ".join(f"pid {b['pid']} ({b['state']}: {b['query']})"
                            for b in blockers) or None  # fmt: skip
        if row is None:
            return Progress(self.target, self.operation, "starting",
                            waiting_for=waiting)  # fmt: skip
        return Progress(self.target, self.operation, str(row["phase"]),
                        _int(row["done"]), _int(row["total"]), str(row["unit"]),
                        waiting)  # fmt: skip


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
