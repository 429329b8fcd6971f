"""What every request of the app shares: settings, the repository pool, the target."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from fastapi import HTTPException
from psycopg_pool import ConnectionPool, PoolTimeout

from pgwarden import pg
from pgwarden.collect import history
from pgwarden.config import Settings
from pgwarden.errors import ConnectionFailed
from pgwarden.observe import performance_metrics
from pgwarden.observe.hours import HourCache
from pgwarden.observe.model import PerformanceMetrics
from pgwarden.web.reuse import Reused

#: repository connections kept open per app, and the wait for a free one
POOL_SIZE = 8
POOL_WAIT_S = 10.0
STATEMENT_TIMEOUT_MS = 5000


class Context:
    """What every request needs: settings, databases, target and live state."""

    def __init__(
        self,
        settings: Settings,
        repo_dsn: str,
        target_name: str,
        target_dsn: str | None,
    ) -> None:
        self.settings = settings
        self.repo_dsn = repo_dsn
        self.target_name = target_name
        self.target_dsn = target_dsn
        self.app_cache_ratio: float | None = None
        #: statement totals of finished hours, for the charts
        self.hours = HourCache()
        self._pool: ConnectionPool[Any] | None = None
        self._lock = threading.Lock()
        #: not known to be reachable: the next request tries a connection first
        self._suspect = True
        #: the pool timed out: its reconnection attempts may now be minutes apart
        self._renew = False
        self._reused: dict[str, Reused] = {}

    def live_dsn(self, what: str) -> str:
        """The target's DSN for ``what`` (a live read of the target); without it,
        as when the dashboard serves a target it only knows from history, a
        one-line 503."""
        if not self.target_dsn:
            raise HTTPException(
                503, f"the dashboard was started without the target's DSN: {what}"
            )
        return self.target_dsn

    @contextmanager
    def target(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        """A new connection to the target (``statement_timeout_ms``), or 503 as
        :meth:`live_dsn`."""
        timeout = self.settings.statement_timeout_ms
        with pg.connect(self.live_dsn(what), statement_timeout_ms=timeout) as conn:
            yield conn

    @contextmanager
    def repository(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection to the repository (a new one costs ~10 ms of auth).

        Raises :class:`ConnectionFailed` (503) at once, with libpq's reason, while
        the repository cannot be reached, rather than after the pool's wait.
        """
        if self._suspect:
            self._probe()
        pool = self._repository_pool()
        try:
            with pool.connection(timeout=POOL_WAIT_S) as conn:
                yield conn
        except PoolTimeout as exc:
            self._suspect = self._renew = True
            raise ConnectionFailed(
                f"cannot connect to {pg.describe(self.repo_dsn)} within {POOL_WAIT_S} s"
            ) from exc
        except psycopg.OperationalError:
            self._suspect = True
            raise

    def _probe(self) -> None:
        """One direct connection: it says why when the repository is unreachable.

        When it succeeds after the pool timed out, the pool is replaced: a new one
        connects now rather than at its backoff's next attempt.
        """
        with pg.connect(self.repo_dsn, statement_timeout_ms=None):
            pass
        if self._renew:
            self._renew = False
            self.close()
        self._suspect = False

    def _repository_pool(self) -> ConnectionPool[Any]:
        with self._lock:
            if self._pool is None:
                options = {"options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"}
                # a connection lost (server restart, failover) is replaced on
                # checkout instead of failing the request that drew it
                self._pool = ConnectionPool(
                    self.repo_dsn, connection_class=pg.MarkedConnection,
                    min_size=1, max_size=POOL_SIZE, open=False,
                    kwargs={"autocommit": True, "application_name": pg.APPLICATION_NAME,
                            "connect_timeout": pg.CONNECT_TIMEOUT_S, **options},
                    check=ConnectionPool.check_connection,
                )  # fmt: skip
                self._pool.open(wait=False)
            return self._pool

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def reused(self, name: str, read: Callable[[], Any], ttl: float) -> Any:
        """``read()``, read again at most every ``ttl`` seconds and served stale
        meanwhile (:class:`Reused`); ``name`` tells the values apart."""
        with self._lock:
            found = self._reused.get(name)
            if found is None:
                found = self._reused[name] = Reused(read, ttl)
        return found.get()

    def forget(self, name: str) -> None:
        """Read ``name`` afresh at its next use (after an action changed it)."""
        with self._lock:
            found = self._reused.get(name)
        if found is not None:
            found.forget()

    def target_id(self, conn: psycopg.Connection[Any]) -> int | None:
        with pg.guarded("pgwarden repository (run pgwarden init)"):
            return history.target_id(conn, self.target_name)

    def metrics(self, *, include_own: bool = False) -> PerformanceMetrics:
        """The metrics; without history, a live read of the target when it is known."""
        now = datetime.now(UTC)
        with self.repository() as conn:
            target_id = self.target_id(conn)
            found = self._metrics(conn, target_id, now, None, include_own)
            if found.source != "none" or not self.target_dsn:
                return found
            with pg.connect(self.target_dsn) as target_conn:
                return self._metrics(conn, target_id, now, target_conn, include_own)

    def _metrics(
        self,
        conn: psycopg.Connection[Any],
        target_id: int | None,
        now: datetime,
        target_conn: psycopg.Connection[Any] | None,
        include_own: bool,
    ) -> PerformanceMetrics:
        return performance_metrics(
            conn, target_id, now, self.settings, target_name=self.target_name,
            target_conn=target_conn, app_cache_ratio=self.app_cache_ratio,
            include_own=include_own,
        )  # fmt: skip
