"""What the server is doing now: sessions, blocking, long transactions, what holds
back vacuum, replication.

:func:`read_activity` reads the target (``sql/activity.sql``) and :func:`analyse`
shapes the rows; ``pgwarden activity`` and the dashboard's Live page print the same
:class:`Activity`. Durations are measured on the server's clock.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.sqltext import is_marked

GROUP = "activity"
#: what pg_stat_activity shows in place of another role's statement
HIDDEN_QUERY = "<insufficient privilege>"
#: the states every count names, present or not
STATES = ("active", "idle", "idle in transaction", "idle in transaction (aborted)")
#: states of sessions not listed among the working ones (``starting``: still
#: authenticating, PostgreSQL 18)
NOT_LISTED = (None, "idle", "starting")
#: sessions listed at most (the oldest first); the counts cover all
MAX_SESSIONS = 200
#: sessions listed among what holds back vacuum
MAX_XMIN_SESSIONS = 10


def is_own(application_name: str | None, query: str | None) -> bool:
    """A connection of pgwarden: its application name, or its marked statement."""
    name = application_name or ""
    return (
        name == pg.APPLICATION_NAME
        or name.startswith(pg.APPLICATION_NAME + "-")
        or is_marked(query or "")
    )


@dataclass(frozen=True)
class Lock:
    """The lock a backend waits for."""

    type: str
    mode: str
    relation: str | None
    transaction: str | None
    wait_s: float | None

    def describe(self) -> str:
        on = self.relation or self.transaction
        what = f"{self.type} {on}" if on else self.type
        return f"{self.mode} on {what}"

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "waiting_for": self.describe()}


@dataclass(frozen=True)
class Session:
    """One backend of pg_stat_activity."""

    pid: int
    backend_type: str | None
    database: str | None
    user: str | None
    application_name: str | None
    client: str | None
    state: str | None
    wait_event_type: str | None
    wait_event: str | None
    backend_start: datetime | None
    xact_start: datetime | None
    xact_s: float | None
    query_start: datetime | None
    query_s: float | None
    xmin_age: int | None
    query: str | None
    own: bool
    hidden: bool
    blocking_pids: tuple[int, ...]
    lock: Lock | None

    @property
    def client_backend(self) -> bool:
        return self.backend_type == "client backend"

    def as_dict(self) -> dict[str, Any]:
        found = {**self.__dict__, "blocking_pids": list(self.blocking_pids)}
        found["lock"] = self.lock.as_dict() if self.lock else None
        for key in ("backend_start", "xact_start", "query_start"):
            found[key] = _iso(found[key])
        return found


@dataclass(frozen=True)
class Blocked:
    """A node of the blocking tree: a session and the sessions it blocks."""

    session: Session
    blocked: tuple[Blocked, ...]

    def as_dict(self) -> dict[str, Any]:
        s = self.session
        return {
            "pid": s.pid, "user": s.user, "application_name": s.application_name,
            "state": s.state, "backend_type": s.backend_type,
            "backend_start": _iso(s.backend_start), "xact_s": s.xact_s,
            "query_start": _iso(s.query_start), "query_s": s.query_s, "own": s.own,
            "lock": s.lock.as_dict() if s.lock else None, "query": s.query,
            "blocked": [b.as_dict() for b in self.blocked],
        }  # fmt: skip


@dataclass(frozen=True)
class Activity:
    """The server now, as ``pgwarden activity --format json`` prints it."""

    generated_at: datetime
    role: str
    standby: bool
    long_transaction_s: float
    counts: dict[str, Any]
    sessions: tuple[Session, ...]
    more_sessions: int
    blocking: tuple[Blocked, ...]
    long_transactions: tuple[Session, ...]
    xmin_holders: tuple[dict[str, Any], ...]
    replication: dict[str, Any]
    privileges: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at.isoformat(),
            "role": self.role,
            "standby": self.standby,
            "long_transaction_seconds": self.long_transaction_s,
            "counts": self.counts,
            "sessions": [s.as_dict() for s in self.sessions],
            "more_sessions": self.more_sessions,
            "blocking": [b.as_dict() for b in self.blocking],
            "long_transactions": [s.as_dict() for s in self.long_transactions],
            "xmin_holders": [_iso_values(h) for h in self.xmin_holders],
            "replication": _iso_values(self.replication),
            "privileges": self.privileges,
        }


def read_activity(conn: psycopg.Connection[Any], long_transaction_s: float) -> Activity:
    """Read the target now (a handful of catalog reads, no history)."""

    def rows(name: str) -> list[dict[str, Any]]:
        return pg.named_rows(conn, GROUP, name, feature=f"activity ({name})")

    server = rows("server")[0]
    replication = {
        "replicas": rows("replicas"),
        "standby": rows("standby")[0] if server["standby"] else None,
        "slots": rows("slots"),
    }
    return analyse(
        server, rows("sessions"), rows("prepared"), replication, long_transaction_s
    )


def analyse(
    server: dict[str, Any],
    session_rows: list[dict[str, Any]],
    prepared: list[dict[str, Any]],
    replication: dict[str, Any],
    long_transaction_s: float,
) -> Activity:
    """Shape what :func:`read_activity` read (pure)."""
    now: datetime = server["now"]
    sessions = [session_of(row, now) for row in session_rows]
    listed = sorted(
        (s for s in sessions if s.state not in NOT_LISTED), key=_oldest_first
    )
    long = [
        s for s in sessions if s.xact_s is not None and s.xact_s >= long_transaction_s
    ]
    return Activity(
        generated_at=now,
        role=str(server["role_name"]),
        standby=bool(server["standby"]),
        long_transaction_s=long_transaction_s,
        counts=counts(sessions),
        sessions=tuple(listed[:MAX_SESSIONS]),
        more_sessions=max(len(listed) - MAX_SESSIONS, 0),
        blocking=blocking_tree(sessions),
        long_transactions=tuple(sorted(long, key=lambda s: -(s.xact_s or 0))),
        xmin_holders=xmin_holders(sessions, prepared, replication),
        replication={
            "role": "standby" if server["standby"] else "primary",
            **replication,
        },
        privileges=privileges(server, sum(s.hidden for s in sessions)),
    )


def session_of(row: dict[str, Any], now: datetime) -> Session:
    hidden = row["query"] == HIDDEN_QUERY
    return Session(
        pid=int(row["pid"]), backend_type=row["backend_type"], database=row["datname"],
        user=row["usename"], application_name=row["application_name"],
        client=_client(row), state=row["state"],
        wait_event_type=row["wait_event_type"], wait_event=row["wait_event"],
        backend_start=row["backend_start"], xact_start=row["xact_start"],
        xact_s=_since(now, row["xact_start"]), query_start=row["query_start"],
        query_s=_since(now, row["query_start"]), xmin_age=row["xmin_age"],
        query=None if hidden else row["query"],
        own=is_own(row["application_name"], row["query"]), hidden=hidden,
        blocking_pids=tuple(row["blocking_pids"] or ()), lock=_lock(row, now),
    )  # fmt: skip


def _lock(row: dict[str, Any], now: datetime) -> Lock | None:
    if row["lock_type"] is None:
        return None
    return Lock(
        type=row["lock_type"], mode=row["lock_mode"], relation=row["lock_relation"],
        transaction=row["lock_transaction"], wait_s=_since(now, row["lock_wait_start"]),
    )  # fmt: skip


def _client(row: dict[str, Any]) -> str | None:
    """``host:port``, ``local`` for a Unix socket, None for a server process."""
    if row["client_addr"] is None:
        return "local" if row["client_port"] == -1 else None
    host = row["client_hostname"] or row["client_addr"]
    return f"{host}:{row['client_port']}"


def counts(sessions: list[Session]) -> dict[str, Any]:
    """Client backends by state, by wait (working ones), by application and state;
    the backends this role may not see (their type is hidden too) apart."""
    seen = [s for s in sessions if s.client_backend]
    by_state = dict.fromkeys(STATES, 0) | Counter(s.state or "unknown" for s in seen)
    waits = Counter(
        (s.wait_event_type, s.wait_event)
        for s in seen
        if s.state not in (None, "idle") and s.wait_event_type
    )
    apps = Counter((s.application_name or "", s.state or "unknown") for s in seen)
    return {
        "total": len(seen),
        "hidden": sum(s.hidden for s in sessions),
        "by_state": by_state,
        "waiting_on_locks": sum(s.wait_event_type == "Lock" for s in seen),
        "by_wait": [{"wait_event_type": t, "wait_event": e, "sessions": n}
                    for (t, e), n in waits.most_common()],
        "by_application": [{"application_name": a, "state": st, "sessions": n}
                           for (a, st), n in sorted(apps.items())],
        "longest_transaction_s": max((s.xact_s or 0 for s in seen), default=0),
    }  # fmt: skip


def blocking_tree(sessions: list[Session]) -> tuple[Blocked, ...]:
    """Who blocks whom: the root blockers (blocking, not blocked) first, those
    that block the most sessions before the others; a cycle gets its lowest pid."""
    by_pid = {s.pid: s for s in sessions}
    blocks: dict[int, list[int]] = {}
    for s in sessions:
        for blocker in s.blocking_pids:
            blocks.setdefault(blocker, []).append(s.pid)
    waiting = {s.pid for s in sessions if s.blocking_pids}
    roots = [pid for pid in blocks if pid not in waiting]
    shown: set[int] = set()

    def node(pid: int, path: frozenset[int]) -> Blocked:
        shown.add(pid)
        below = [w for w in sorted(blocks.get(pid, ())) if w not in path]
        return Blocked(
            by_pid.get(pid) or _unseen(pid),
            tuple(node(w, path | {w}) for w in below),
        )

    trees = [node(pid, frozenset({pid})) for pid in sorted(roots)]
    for pid in sorted(blocks):  # cycles: no root reaches them
        if pid not in shown:
            trees.append(node(pid, frozenset({pid})))
    return tuple(sorted(trees, key=lambda t: -_size(t)))


def _size(tree: Blocked) -> int:
    return sum(1 + _size(b) for b in tree.blocked)


def _unseen(pid: int) -> Session:
    """A blocker pg_stat_activity no longer shows (it ended since)."""
    return Session(pid, None, None, None, None, None, None, None, None, None, None,
                   None, None, None, None, None, False, False, (), None)  # fmt: skip


def xmin_holders(
    sessions: list[Session], prepared: list[dict[str, Any]], replication: dict[str, Any]
) -> tuple[dict[str, Any], ...]:
    """What holds back the xmin horizon (what VACUUM may not clean), oldest first."""
    oldest = sorted(sessions, key=lambda s: -(s.xmin_age or 0))[:MAX_XMIN_SESSIONS]
    found = [
        _holder("session", f"{s.user or ''} {s.application_name or ''}".strip(),
                s.pid, s.xmin_age, s.xact_start)
        for s in oldest if s.xmin_age
    ]  # fmt: skip
    found += [_holder("prepared transaction", p["gid"], None, p["xmin_age"],
                      p["prepared"]) for p in prepared]  # fmt: skip
    for slot in replication["slots"]:
        ages = [
            a for a in (slot["xmin_age"], slot["catalog_xmin_age"]) if a is not None
        ]
        if ages:
            found.append(_holder("replication slot", slot["slot_name"],
                                 slot["active_pid"], max(ages), None))  # fmt: skip
    found += [_holder("standby feedback", r["application_name"], r["pid"],
                      r["xmin_age"], None)
              for r in replication["replicas"]
              if r["xmin_age"] is not None]  # fmt: skip
    return tuple(sorted(found, key=lambda h: -h["xmin_age"]))


def _holder(
    kind: str, name: str, pid: int | None, age: int, since: datetime | None
) -> dict[str, Any]:
    return {"kind": kind, "name": name, "pid": pid, "xmin_age": int(age),
            "since": since}  # fmt: skip


def privileges(server: dict[str, Any], hidden: int) -> dict[str, Any]:
    """What the reading role lacks, each with its fix."""
    role = server["role_ident"]
    notes = []
    if hidden:
        notes.append(
            f"{hidden} backends (other roles' sessions, server processes) show "
            f"{HIDDEN_QUERY}: their statement, state and wait are hidden from {role}. "
            f"Fix: GRANT pg_read_all_stats TO {role};"
        )
    if not server["signal_backend"]:
        notes.append(
            f"{role} may cancel or terminate only its own sessions. Fix: "
            f"GRANT pg_signal_backend TO {role};"
        )
    return {
        "role": server["role_name"],
        "read_all_stats": bool(server["read_all_stats"]),
        "signal_backend": bool(server["signal_backend"]),
        "notes": notes,
    }


def _oldest_first(s: Session) -> float:
    started = s.xact_start or s.query_start or s.backend_start
    return started.timestamp() if started else math.inf


def _since(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max((now - then).total_seconds(), 0.0)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _iso_values(value: Any) -> Any:
    """Datetimes as ISO 8601 strings, in dicts and lists too."""
    if isinstance(value, dict):
        return {key: _iso_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_iso_values(item) for item in value]
    return _iso(value)
