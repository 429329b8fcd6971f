"""Report slow queries from inside an application (psycopg 3).

    recorder = SlowQueryRecorder(post_json_lines("https://pgwarden/api/ingest/slow-queries"))
    conn = psycopg.connect(dsn, cursor_factory=recorder.cursor_factory())
    ...
    recorder.flush()   # e.g. at the end of each request, or from a timer

Every ``execute`` is timed; one above the threshold is buffered as a JSON-lines record
with its caller (``module:function:line`` of the application frame that ran it). The
parameters are never recorded, only the statement text. For asyncpg see
:mod:`pgwarden.slowlog.client_asyncpg`, which buffers into the same recorder.

:class:`PoolReporter` reports a psycopg_pool pool (size, in use, waiting), the
application cache's counters and the recorder's calls and errors by SQLSTATE since
the previous report (:class:`CallCounter`) to ``POST /api/ingest/app-metrics``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, Self

import psycopg
from psycopg import sql
from psycopg.abc import Params, Query
from psycopg.rows import Row

Sink = Callable[[list[dict[str, Any]]], None]
_PLACEHOLDER_RE = re.compile(r"%%|%(?:\([^)]+\))?[sbt]")
_SKIP_MODULES = ("psycopg", __name__)


def post_json_lines(url: str, token: str | None = None, timeout: float = 5.0) -> Sink:
    """A sink that POSTs records as JSON lines (``application/x-ndjson``)."""

    def send(records: list[dict[str, Any]]) -> None:
        body = "".join(json.dumps(r, default=str) + "\n" for r in records).encode()
        request = urllib.request.Request(url, data=body, method="POST")
        request.add_header("Content-Type", "application/x-ndjson")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()

    return send


def caller_frame(skip: tuple[str, ...] = _SKIP_MODULES) -> str:
    """``module:function:line`` of the nearest frame outside the ``skip`` modules."""
    frame = sys._getframe(1)
    while frame is not None:
        module = str(frame.f_globals.get("__name__", "?"))
        if not module.startswith(skip):
            return f"{module}:{frame.f_code.co_name}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return "?"


def slow_record(
    query: str,
    duration_ms: float,
    caller: str,
    *,
    database: str | None = None,
    user: str | None = None,
    application_name: str | None = None,
) -> dict[str, Any]:
    """One record as ``POST /api/ingest/slow-queries`` takes it (ts: now)."""
    return {
        "ts": datetime.now(UTC).isoformat(),
        "query": query,
        "duration_ms": round(duration_ms, 3),
        "caller": caller,
        "database": database,
        "user": user,
        "application_name": application_name or None,
    }


def statement_text(query: Query, cursor: psycopg.Cursor[Any]) -> str:
    """The statement as the server sees it: ``%s`` placeholders become ``$n``."""
    if isinstance(query, sql.Composable):
        query = query.as_string(cursor)
    text = query.decode() if isinstance(query, bytes) else str(query)
    counter = iter(range(1, 1 << 30))

    def number(match: re.Match[str]) -> str:
        return "%" if match.group(0) == "%%" else f"${next(counter)}"

    return _PLACEHOLDER_RE.sub(number, text)


_SQLSTATE_RE = re.compile(r"^[0-9A-Z]{5}\Z")


def error_key(exc: BaseException) -> str | None:
    """How a failed call is reported: its SQLSTATE (``statement_timeout`` for a
    57014 that statement_timeout caused), ``connection_failure`` for a driver error
    without one, None for an error that is not the database's."""
    code = getattr(exc, "sqlstate", None)
    if isinstance(code, str) and _SQLSTATE_RE.match(code):
        diag = getattr(exc, "diag", None)
        message = getattr(diag, "message_primary", None) or getattr(exc, "message", "")
        if code == "57014" and "statement timeout" in str(message or ""):
            return "statement_timeout"
        return code
    if isinstance(exc, psycopg.OperationalError) or type(exc).__name__ in (
        "ConnectionDoesNotExistError", "InterfaceError",
    ):  # fmt: skip
        return "connection_failure"
    return None


class CallCounter:
    """Calls and errors by SQLSTATE since the last :meth:`take` (thread safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls = 0
        self._errors: Counter[str] = Counter()

    def count(self, error: BaseException | None = None) -> None:
        """One call, failed with ``error`` when given."""
        key = None if error is None else error_key(error)
        with self._lock:
            self._calls += 1
            if key is not None:
                self._errors[key] += 1

    def take(self) -> tuple[int, dict[str, int]]:
        """The calls and errors since the last take, and start again from zero."""
        with self._lock:
            taken = (self._calls, dict(self._errors))
            self._calls, self._errors = 0, Counter()
        return taken

    def give_back(self, calls: int, errors: dict[str, int]) -> None:
        """Counts a failed report did not deliver: they go in the next one."""
        with self._lock:
            self._calls += calls
            self._errors.update(errors)


class SlowQueryRecorder:
    """Buffers slow statements and hands them to a sink on :meth:`flush`; counts
    every call and its errors by SQLSTATE in :attr:`calls`."""

    def __init__(
        self,
        sink: Sink | None = None,
        *,
        threshold_ms: float = 100.0,
        max_buffer: int = 1000,
    ) -> None:
        self.sink = sink
        self.threshold_ms = threshold_ms
        self.max_buffer = max_buffer
        self._buffer: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.calls = CallCounter()

    def observe(
        self, cursor: psycopg.Cursor[Any], query: Query, duration_ms: float
    ) -> None:
        """Buffer the statement when it was slow (the oldest records make room)."""
        if duration_ms < self.threshold_ms:
            return
        info = cursor.connection.info
        self.add(
            slow_record(
                statement_text(query, cursor), duration_ms, caller_frame(),
                database=info.dbname, user=info.user,
                application_name=info.parameter_status("application_name"),
            )
        )  # fmt: skip

    def add(self, record: dict[str, Any]) -> None:
        """Buffer one record (see :func:`slow_record`); the oldest make room."""
        with self._lock:
            self._buffer.append(record)
            del self._buffer[: max(0, len(self._buffer) - self.max_buffer)]

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._buffer)

    def flush(self) -> int:
        """Send the buffered records to the sink; the number sent.

        When the sink fails the records go back to the buffer and the error is raised.
        """
        with self._lock:
            records, self._buffer = self._buffer, []
        if not records or self.sink is None:
            with self._lock:
                self._buffer[:0] = records
            return 0
        try:
            self.sink(records)
        except Exception:
            with self._lock:
                self._buffer[:0] = records
            raise
        return len(records)

    def cursor_factory(self) -> type[TimingCursor[Any]]:
        """A cursor class bound to this recorder, for ``cursor_factory=``."""
        return type("BoundTimingCursor", (TimingCursor,), {"recorder": self})

    def instrument(self, conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
        """Time every statement of ``conn`` (including ``conn.execute``)."""
        conn.cursor_factory = self.cursor_factory()
        return conn


class TimingCursor(psycopg.Cursor[Row]):
    """A psycopg cursor that reports slow ``execute`` calls to its recorder."""

    recorder: ClassVar[SlowQueryRecorder | None] = None

    def execute(
        self,
        query: Any,  # Query: str, bytes, sql.Composable (or a template string)
        params: Params | None = None,
        *,
        prepare: bool | None = None,
        binary: bool | None = None,
    ) -> Self:
        start = time.perf_counter()
        failed: BaseException | None = None
        try:
            return super().execute(query, params, prepare=prepare, binary=binary)
        except BaseException as exc:
            failed = exc
            raise
        finally:
            if self.recorder is not None:
                elapsed = (time.perf_counter() - start) * 1000
                self.recorder.calls.count(failed)
                self.recorder.observe(self, query, elapsed)


# -- connection pool and cache reports ------------------------------------------------
#
#     reporter = PoolReporter(pool, post_json("https://pgwarden/api/ingest/app-metrics",
#                                             token), cache=lambda: (hits, misses),
#                             calls=recorder.calls)
#     reporter.start()   # a report every 15 s from a daemon thread; reporter.stop()

ReportSink = Callable[[dict[str, Any]], None]
_log = logging.getLogger(__name__)


class StatsPool(Protocol):
    """What a reporter needs of a pool: psycopg_pool's ``get_stats()``."""

    def get_stats(self) -> dict[str, int]: ...


def post_json(url: str, token: str | None = None, timeout: float = 5.0) -> ReportSink:
    """A sink that POSTs one JSON document (``application/json``)."""

    def send(document: dict[str, Any]) -> None:
        request = urllib.request.Request(
            url, data=json.dumps(document).encode(), method="POST"
        )
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()

    return send


def pool_report(
    pool: StatsPool | None,
    *,
    source: str = "app",
    cache: Callable[[], tuple[int, int]] | None = None,
    calls: tuple[int, dict[str, int]] | None = None,
) -> dict[str, Any]:
    """One report as ``POST /api/ingest/app-metrics`` takes it.

    ``pool_size`` is the pool's maximum size, ``in_use`` the connections lent out
    (open minus idle), ``waiting`` the requests queued for one; ``cache`` returns the
    application cache's (hits, misses); ``calls`` are the calls and errors by
    SQLSTATE since the previous report (:meth:`CallCounter.take`).
    """
    report: dict[str, Any] = {"source": source}
    if pool is not None:
        stats = pool.get_stats()
        opened, idle = stats.get("pool_size", 0), stats.get("pool_available", 0)
        report["pool_size"] = stats.get("pool_max", opened)
        report["in_use"] = max(opened - idle, 0)
        report["waiting"] = stats.get("requests_waiting", 0)
    if cache is not None:
        report["cache_hits"], report["cache_misses"] = cache()
    if calls is not None:
        report["calls"], report["errors"] = calls
    return report


class PoolReporter:
    """Sends :func:`pool_report` to a sink now (:meth:`report`) or periodically;
    with ``calls`` (e.g. a recorder's :attr:`SlowQueryRecorder.calls`) the calls and
    errors since the previous report go with it, and back to the counter when the
    sink fails."""

    def __init__(
        self,
        pool: StatsPool | None,
        sink: ReportSink,
        *,
        source: str = "app",
        cache: Callable[[], tuple[int, int]] | None = None,
        interval_s: float = 15.0,
        calls: CallCounter | None = None,
    ) -> None:
        self.pool = pool
        self.sink = sink
        self.source = source
        self.cache = cache
        self.interval_s = interval_s
        self.calls = calls
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def report(self) -> dict[str, Any]:
        """Send one report now and return it; a failing sink raises (and the calls
        and errors it carried wait for the next report)."""
        taken = self.calls.take() if self.calls is not None else None
        try:
            document = pool_report(
                self.pool, source=self.source, cache=self.cache, calls=taken
            )
            self.sink(document)
        except BaseException:
            if self.calls is not None and taken is not None:
                self.calls.give_back(*taken)
            raise
        return document

    def start(self) -> Self:
        """Report every ``interval_s`` from a daemon thread (failures are logged)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="pgwarden-pool-reporter", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.interval_s + 10)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.report()
            except Exception as exc:  # never let reporting break the application
                _log.warning("pool report failed: %s", type(exc).__name__)
            self._stop.wait(self.interval_s)
