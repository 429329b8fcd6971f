"""The application's connection pool, metered: wait time, connections in use.

:class:`MeteredPool` is psycopg_pool's :class:`AsyncConnectionPool` (the pool the
reference application is written against) with two overrides: ``getconn`` times
the wait for a connection and ``putconn`` counts it back, so utilisation is the
exact time integral of connections in use, not a sample.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from pgwarden.load.histogram import Histogram

# Pool wait of the action running in the current task, in seconds.
action_pool_wait: ContextVar[list[float] | None] = ContextVar(
    "action_pool_wait", default=None
)


class MeteredPool(AsyncConnectionPool[AsyncConnection[Any]]):
    """An AsyncConnectionPool that measures how long callers wait and how busy it is."""

    def __init__(self, conninfo: str, size: int, **kwargs: Any) -> None:
        super().__init__(conninfo, min_size=size, max_size=size, open=False, **kwargs)
        self.size = size
        self.acquire_wait = Histogram()
        self.recording = False
        self.in_use = 0
        self.waiting = 0
        self.peak_waiting = 0
        self._busy = 0.0
        self._changed = time.monotonic()

    async def getconn(self, timeout: float | None = None) -> AsyncConnection[Any]:
        started = time.monotonic()
        self.waiting += 1
        self.peak_waiting = (
            max(self.peak_waiting, self.waiting) if self.recording else 0
        )
        try:
            conn = await super().getconn(timeout)
        finally:
            self.waiting -= 1
            waited = time.monotonic() - started
            if self.recording:
                self.acquire_wait.record(waited * 1e6)
            spent = action_pool_wait.get()
            if spent is not None:
                spent[0] += waited
        self._account(+1)
        return conn

    async def putconn(self, conn: AsyncConnection[Any]) -> None:
        self._account(-1)
        await super().putconn(conn)

    def busy_seconds(self) -> float:
        """Connection-seconds spent in use since the pool was created."""
        return self._busy + self.in_use * (time.monotonic() - self._changed)

    def _account(self, delta: int) -> None:
        now = time.monotonic()
        self._busy += self.in_use * (now - self._changed)
        self._changed = now
        self.in_use += delta
