"""One operation per table at a time, across every worker, and recovery of the dead.

The executing connection takes a session-level advisory lock on the *target*
database keyed by the table's oid before it records a run as running. PostgreSQL
releases the lock when that session ends, so a worker killed mid-run (kill -9)
frees its tables; the executing session also sets ``client_connection_check_interval``
so the server notices a vanished client while a statement is still running. A later
run marks running rows whose backend no longer holds the lock, whose worker process
is gone, or whose heartbeat is too old as failed ("worker died"); the job is due
again in the next plan.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.maintain import store

Conn = psycopg.Connection[Any]
#: high 32 bits of the advisory lock keys ("MNTN"); the low 32 bits are the oid
NAMESPACE = int.from_bytes(b"MNTN", "big")
WORKER = f"{socket.gethostname()}:{os.getpid()}"


def key(table_oid: int) -> int:
    return (NAMESPACE << 32) | (table_oid & 0xFFFFFFFF)


def try_lock(conn: Conn, table_oid: int) -> bool:
    row = pg.fetch_one(conn, pg.query("maintain", "try_lock"), [key(table_oid)])
    return bool(row and row["locked"])


def unlock(conn: Conn, table_oid: int) -> None:
    pg.fetch_one(conn, pg.query("maintain", "unlock"), [key(table_oid)])


def holders(conn: Conn) -> dict[int, set[int]]:
    """Lock key -> backends holding it, in the target database."""
    found: dict[int, set[int]] = {}
    for row in pg.fetch_all(conn, pg.query("maintain", "lock_holders"), [NAMESPACE]):
        found.setdefault(int(row["key"]), set()).add(int(row["pid"]))
    return found


def holder_of(conn: Conn, table_oid: int) -> int | None:
    pids = holders(conn).get(key(table_oid))
    return min(pids) if pids else None


def _process_gone(worker: str | None) -> bool:
    """True when ``host:pid`` names a process of this host that no longer exists."""
    host, _, pid = (worker or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True)
class Recovered:
    run_id: int
    target: str
    reason: str


def why_dead(
    run: store.Run, held: dict[int, set[int]], now: datetime, stalled_after_s: float
) -> str | None:
    """Why a running run is no longer running, or None while it is."""
    if run.table_oid is None or run.backend_pid not in held.get(key(run.table_oid), ()):
        return (f"worker died: backend {run.backend_pid} no longer holds the table "
                f"lock (worker {run.worker})")  # fmt: skip
    if run.worker != WORKER and _process_gone(run.worker):
        return f"worker died: process {run.worker} is gone"
    beat = run.heartbeat_at or run.started_at
    silent = (now - beat).total_seconds()
    if silent > stalled_after_s:
        return f"worker died (stalled): no heartbeat for {silent:.0f} s"
    return None


def recover(
    repo: Conn, target: Conn, target_id: int, now: datetime, stalled_after_s: float
) -> list[Recovered]:
    """Mark the running runs of dead workers failed; return what was marked."""
    held = holders(target)
    marked = []
    for run in store.running(repo, target_id):
        reason = why_dead(run, held, now, stalled_after_s)
        if reason is not None and store.mark_failed(repo, run.id, reason):
            marked.append(Recovered(run.id, run.describe(), reason))
    return marked
