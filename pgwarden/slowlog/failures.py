"""Failed statements and sessions by class, counted per minute.

Two sources say what went wrong: the server log's ``ERROR``, ``FATAL`` and ``PANIC``
records (counted by the collector as it reads the log, in the transaction that moves
its position in the file, so a record is counted once however often the log is
read) and applications (``POST /api/ingest/app-metrics``: calls and errors by class
since their previous report). A record is classed by its SQLSTATE
(:func:`classify`); without one, by the start of its message where the message is
unambiguous (English server messages), else ``unclassified``.

pgwarden's own sessions (``application_name`` ``pgwarden`` or ``pgwarden-…``) are
not counted: their errors are not the application's.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.slowlog.logparse import LogEntry

GROUP = "errors"
FEATURE = "error counts (run pgwarden init)"
SERVER_LOG = "server_log"
APPLICATION = "application"
#: the severities of a failed statement or session
FAILED = frozenset({"ERROR", "FATAL", "PANIC"})
UNCLASSIFIED = "unclassified"
#: the classes with a name of their own, in the order they are shown
NAMED = (
    "serialization_failure",
    "deadlock_detected",
    "lock_not_available",
    "statement_timeout",
    "query_canceled",
    "unique_violation",
    "connection_failure",
    "authentication_failure",
    "too_many_connections",
    "admin_shutdown",
)
#: what each class means, for the docs, the dashboard and the runbook
MEANING = {
    "serialization_failure": "40001: a serializable or repeatable read transaction "
    "lost to a concurrent one; retry it",
    "deadlock_detected": "40P01: two transactions waited for each other; one was "
    "rolled back",
    "lock_not_available": "55P03: lock_timeout expired or NOWAIT found the row or "
    "table locked",
    "statement_timeout": "57014: statement_timeout cancelled the statement",
    "query_canceled": "57014: cancelled by a user or pg_cancel_backend",
    "unique_violation": "23505: an insert or update hit a unique index",
    "connection_failure": "08xxx: the connection failed or broke",
    "authentication_failure": "28xxx: the login was refused (password, pg_hba.conf)",
    "too_many_connections": "53300: max_connections reached",
    "admin_shutdown": "57P0x: the server shut down, restarted or is starting",
    UNCLASSIFIED: "no SQLSTATE and a message not recognised",
}
_EXACT = {
    "40001": "serialization_failure",
    "40P01": "deadlock_detected",
    "55P03": "lock_not_available",
    "23505": "unique_violation",
    "53300": "too_many_connections",
}
_BY_CLASS = {"08": "connection_failure", "28": "authentication_failure"}
_SQLSTATE_RE = re.compile(r"^[0-9A-Z]{5}\Z")
_OTHER_RE = re.compile(r"^other_[0-9a-z]{2}\Z")
#: message starts that name their class without a SQLSTATE
_MESSAGES = (
    ("could not serialize access", "serialization_failure"),
    ("deadlock detected", "deadlock_detected"),
    ("canceling statement due to lock timeout", "lock_not_available"),
    ("could not obtain lock", "lock_not_available"),
    ("canceling statement due to statement timeout", "statement_timeout"),
    ("canceling statement due to user request", "query_canceled"),
    ("duplicate key value violates unique constraint", "unique_violation"),
    ("password authentication failed", "authentication_failure"),
    ("no pg_hba.conf entry", "authentication_failure"),
    ("sorry, too many clients already", "too_many_connections"),
    ("remaining connection slots are reserved", "too_many_connections"),
    ("terminating connection due to administrator command", "admin_shutdown"),
    ("the database system is shutting down", "admin_shutdown"),
    ("the database system is starting up", "admin_shutdown"),
)
#: the most classes one application report may carry
MAX_REPORT_CLASSES = 64


def classify(sqlstate: str | None, message: str = "") -> str:
    """The class of an error: by its SQLSTATE, else by its message, else
    ``unclassified``. Total: any input gives a class name."""
    if sqlstate is not None and _SQLSTATE_RE.match(sqlstate):
        return _by_sqlstate(sqlstate, message)
    start = message[:80].lstrip()
    for prefix, name in _MESSAGES:
        if start.startswith(prefix):
            return name
    return UNCLASSIFIED


def _by_sqlstate(code: str, message: str) -> str:
    if code in _EXACT:
        return _EXACT[code]
    if code == "57014":
        timeout = "statement timeout" in message[:80]
        return "statement_timeout" if timeout else "query_canceled"
    if code.startswith("57P0"):
        return "admin_shutdown"
    return _BY_CLASS.get(code[:2], f"other_{code[:2].lower()}")


def is_class(name: str) -> bool:
    """A class name :func:`classify` can give."""
    return name in NAMED or name == UNCLASSIFIED or _OTHER_RE.match(name) is not None


def reported_class(key: str) -> str:
    """The class an application names: a class name or a SQLSTATE;
    ``ValueError`` for anything else."""
    if is_class(key):
        return key
    if _SQLSTATE_RE.match(key):
        return classify(key)
    raise ValueError("not an error class or a SQLSTATE")


def minute_of(ts: datetime) -> datetime:
    """The UTC minute ``ts`` falls in."""
    return ts.astimezone(UTC).replace(second=0, microsecond=0)


@dataclass
class LogCounts:
    """Failed records of some log entries by minute and class, and the time the
    entries covered."""

    by_minute: Counter[tuple[datetime, str]] = field(default_factory=Counter)
    earliest: datetime | None = None
    latest: datetime | None = None

    def add(self, entry: LogEntry) -> None:
        ts = entry.ts
        self.earliest = ts if self.earliest is None else min(self.earliest, ts)
        self.latest = ts if self.latest is None else max(self.latest, ts)
        if entry.severity in FAILED and not _own(entry):
            name = classify(entry.sqlstate, entry.message)
            self.by_minute[(minute_of(ts), name)] += 1


def count(entries: Iterable[LogEntry]) -> LogCounts:
    """The failed records of ``entries`` by minute and class."""
    found = LogCounts()
    for entry in entries:
        found.add(entry)
    return found


def _own(entry: LogEntry) -> bool:
    name = entry.application_name or ""
    return name == pg.APPLICATION_NAME or name.startswith(pg.APPLICATION_NAME + "-")


def _run(conn: psycopg.Connection[Any], name: str, params: Mapping[str, Any]) -> None:
    pg.named_rows(conn, GROUP, name, params, FEATURE)


def record_log(conn: psycopg.Connection[Any], target_id: int, found: LogCounts) -> None:
    """Add the server log's counts (in the caller's transaction) and note that the
    log was read, covering the entries' times."""
    _add(conn, target_id, SERVER_LOG, "", found.by_minute)
    _touch(conn, target_id, SERVER_LOG, "", found.earliest, found.latest)


def log_read(conn: psycopg.Connection[Any], target_id: int) -> None:
    """Note that the server log was read now (nothing new in it is news too)."""
    _touch(conn, target_id, SERVER_LOG, "", None, None)


def record_report(
    conn: psycopg.Connection[Any],
    target_id: int,
    origin: str,
    at: datetime,
    calls: int | None,
    errors: Mapping[str, int],
) -> None:
    """An application's calls and errors by class since its previous report,
    counted in the minute of ``at``; the classes are already :func:`reported_class`
    names."""
    minute = minute_of(at)
    _add(conn, target_id, APPLICATION, origin,
         Counter({(minute, k): v for k, v in errors.items() if v}))  # fmt: skip
    if calls is not None:
        params = {"target_id": target_id, "minute": minute, "origin": origin,
                  "calls": calls}  # fmt: skip
        _run(conn, "add_calls", params)
    _touch(conn, target_id, APPLICATION, origin, at, at)


def _add(
    conn: psycopg.Connection[Any],
    target_id: int,
    source: str,
    origin: str,
    found: Mapping[tuple[datetime, str], int],
) -> None:
    if not found:
        return
    keys = sorted(found)
    params = {
        "target_id": target_id, "source": source, "origin": origin,
        "minutes": [m for m, _ in keys], "classes": [c for _, c in keys],
        "counts": [found[k] for k in keys],
    }  # fmt: skip
    _run(conn, "add_errors", params)


def _touch(
    conn: psycopg.Connection[Any],
    target_id: int,
    source: str,
    origin: str,
    earliest: datetime | None,
    latest: datetime | None,
) -> None:
    params = {"target_id": target_id, "source": source, "origin": origin,
              "earliest": earliest, "latest": latest}  # fmt: skip
    _run(conn, "touch_source", params)


def apply_retention(
    conn: psycopg.Connection[Any], now: datetime, retention_days: int
) -> None:
    """Drop the minutes older than ``retention_days``."""
    _run(conn, "retention", {"before": now - timedelta(days=retention_days)})
