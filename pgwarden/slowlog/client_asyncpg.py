"""Report slow queries from inside an asyncio application (asyncpg).

    recorder = SlowQueryRecorder(post_json_lines(url, token), threshold_ms=100)
    conn = await asyncpg.connect(dsn, connection_class=timed_connection(recorder))
    pool = await asyncpg.create_pool(dsn, connection_class=timed_connection(recorder))
    ...
    await flush(recorder)   # the sink blocks, so it runs in a worker thread

``execute``, ``executemany``, ``fetch``, ``fetchrow`` and ``fetchval`` are timed; a
call above the recorder's threshold is buffered with its caller (``module:function:
line`` of the application frame that awaited it), exactly as the psycopg helper does.
Every call, and its error by SQLSTATE, is counted in the recorder's ``calls`` (sent
by :class:`~pgwarden.slowlog.client.PoolReporter` with ``calls=recorder.calls``).
asyncpg already sends ``$n`` placeholders, so the statement text is kept as written;
the arguments are never recorded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, ClassVar, TypeVar

import asyncpg  # type: ignore[import-untyped]

from pgwarden.slowlog.client import SlowQueryRecorder, caller_frame, slow_record

T = TypeVar("T")
_SKIP_MODULES = ("asyncpg", __name__)


class TimedConnection(asyncpg.Connection):  # type: ignore[misc]
    """An asyncpg connection that reports slow statements to its recorder."""

    recorder: ClassVar[SlowQueryRecorder | None] = None

    async def execute(
        self, query: str, *args: Any, timeout: float | None = None
    ) -> str:
        return await self._timed(query, super().execute(query, *args, timeout=timeout))

    async def executemany(
        self,
        command: str,
        args: Iterable[Sequence[Any]],
        *,
        timeout: float | None = None,
    ) -> None:
        run = super().executemany(command, args, timeout=timeout)
        await self._timed(command, run)

    async def fetch(self, query: str, *args: Any, **options: Any) -> list[Any]:
        return await self._timed(query, super().fetch(query, *args, **options))

    async def fetchrow(self, query: str, *args: Any, **options: Any) -> Any:
        return await self._timed(query, super().fetchrow(query, *args, **options))

    async def fetchval(self, query: str, *args: Any, **options: Any) -> Any:
        return await self._timed(query, super().fetchval(query, *args, **options))

    async def _timed(self, query: str, run: Awaitable[T]) -> T:
        start = time.perf_counter()
        failed: BaseException | None = None
        try:
            return await run
        except BaseException as exc:
            failed = exc
            raise
        finally:
            if self.recorder is not None:
                self.recorder.calls.count(failed)
            self._observe(query, (time.perf_counter() - start) * 1000)

    def _observe(self, query: str, duration_ms: float) -> None:
        recorder = self.recorder
        if recorder is None or duration_ms < recorder.threshold_ms:
            return
        # the connection parameters, also handed out as LoggedQuery.conn_params
        params = getattr(self, "_params", None)
        settings = self.get_settings()
        recorder.add(
            slow_record(
                query, duration_ms, caller_frame(_SKIP_MODULES),
                database=getattr(params, "database", None),
                user=getattr(params, "user", None),
                application_name=getattr(settings, "application_name", None),
            )
        )  # fmt: skip


def timed_connection(recorder: SlowQueryRecorder) -> type[TimedConnection]:
    """A connection class bound to ``recorder``, for ``connection_class=``."""
    return type("BoundTimedConnection", (TimedConnection,), {"recorder": recorder})


async def flush(recorder: SlowQueryRecorder) -> int:
    """:meth:`SlowQueryRecorder.flush` without blocking the event loop."""
    return await asyncio.to_thread(recorder.flush)
