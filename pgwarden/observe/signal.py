"""Cancel a backend's statement or terminate the backend, refusing what must not be.

Only a client backend of the application may be signalled: never a server
process, never one of pgwarden's own connections, never the connection that
sends the signal. When the caller says which session it saw (its
``backend_start``, and for a cancel its ``query_start``), a pid that now belongs
to another session, or a session that has started another statement, is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg import errors as pgerrors

from pgwarden import pg
from pgwarden.observe.activity import GROUP, HIDDEN_QUERY, is_own

Action = Literal["cancel", "terminate"]
Outcome = Literal["ok", "refused", "failed", "missing"]
#: what is kept of the session signalled (never its statement text)
FACTS = ("usename", "application_name", "backend_type", "state", "backend_start",
         "query_start")  # fmt: skip


@dataclass(frozen=True)
class Signalled:
    """What came of a cancel or terminate."""

    action: Action
    pid: int
    outcome: Outcome
    reason: str
    facts: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__}


def signal(
    conn: psycopg.Connection[Any],
    pid: int,
    action: Action,
    *,
    backend_start: datetime | None = None,
    query_start: datetime | None = None,
) -> Signalled:
    """Send ``pg_cancel_backend`` or ``pg_terminate_backend`` to ``pid``, if allowed."""
    rows = pg.named_rows(conn, GROUP, "session", {"pid": pid})
    if not rows:
        return Signalled(action, pid, "missing", f"no backend has pid {pid}", {})
    row = rows[0]
    facts = {key: _plain(row[key]) for key in FACTS}
    why = refusal(row, action, backend_start, query_start)
    if why:
        return Signalled(action, pid, "refused", why, facts)
    outcome, reason = _send(conn, pid, action, row["usename"])
    return Signalled(action, pid, outcome, reason, facts)


def refusal(
    row: dict[str, Any],
    action: Action,
    backend_start: datetime | None,
    query_start: datetime | None,
) -> str | None:
    """Why this backend must not be signalled, or None (pure)."""
    if row["this_connection"]:
        return "this is the connection pgwarden signals from"
    if row["query"] == HIDDEN_QUERY:
        return (
            "this backend is hidden from pgwarden's role (insufficient privilege), "
            "so it may not be a client backend: GRANT pg_read_all_stats to the role"
        )
    if row["backend_type"] != "client backend":
        return f"a {row['backend_type'] or 'server process'} is not a client backend"
    if is_own(row["application_name"], row["query"]):
        return "this is one of pgwarden's own connections"
    if backend_start is not None and row["backend_start"] != backend_start:
        return "the pid now belongs to another session; look again"
    if action == "cancel" and query_start is not None:
        if row["query_start"] != query_start:
            return "the session has started another statement since; look again"
    return None


def _send(
    conn: psycopg.Connection[Any], pid: int, action: Action, user: str | None
) -> tuple[Outcome, str]:
    try:
        rows = pg.named_rows(conn, GROUP, action, {"pid": pid})
    except pgerrors.InsufficientPrivilege as exc:
        role = conn.info.parameter_status("session_authorization") or "the role"
        return "failed", (
            f"permission denied to {action} a backend of {user or 'another role'}: "
            f"{_first_line(exc)}; GRANT pg_signal_backend TO {role}; "
            "(a superuser's backend needs a superuser)"
        )
    if rows and rows[0]["signalled"]:
        return "ok", f"{action} sent to pid {pid}"
    return "failed", f"the server did not signal pid {pid} (it may have ended)"


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
