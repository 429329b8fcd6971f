"""Serving the fleet: every registered target, one cycle per job, on a schedule.

``pgwarden worker`` without ``--dsn`` serves the registered, unpaused targets (of
``--group``). A collection lease per target would hold a worker slot per target, so
the fleet runs one-cycle jobs instead: each worker process plans, for each target
and task, the next *slot* and queues its job ahead of time with ``schedule_at``.
Collection slots come every interval at a phase drawn from the target's name
(jitter: 200 targets do not all start at second 0), the other tasks at their cron
ticks plus such a phase. Every worker computes the same slots, so the job's
``queueing_lock`` keeps one job per target and task waiting however many workers
plan it, and its ``lock`` one running; whichever worker is free runs it. Only one
worker per fleet queue plans at a time (:class:`PlannerLock`, a session advisory
lock), so a second worker halves the work instead of repeating the planning. A
worker killed outright leaves nothing behind but its running jobs, which the others
retry once it is found silent (``jobs.stalled_seconds``), and its planner lock,
which the server releases with its connection: another worker plans the next slots.
The registry is read again every :data:`REFRESH_S` seconds: added, paused, resumed
and removed targets follow.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import croniter  # type: ignore[import-untyped]
import psycopg

from pgwarden import fleet, pg
from pgwarden.errors import PgwardenError
from pgwarden.jobs.queues import target_queue

logger = logging.getLogger(__name__)

#: seconds between reads of the registry
REFRESH_S = 30.0
#: seconds between passes of the planner
TICK_S = 1.0
#: a job is queued this many seconds before its slot (at most half the interval)
LEAD_S = 5.0
#: the phase of a cron task stays within this many seconds after its tick
MAX_CRON_JITTER_S = 300.0


@dataclass
class FleetState:
    """What a fleet worker knows of its targets besides their DSNs."""

    group: str | None = None
    ids: dict[str, int] = field(default_factory=dict)
    intervals: dict[str, float] = field(default_factory=dict)
    refreshed: float = 0.0

    def queue(self, base: str) -> str:
        """The queue of this worker's fleet jobs: one per group, one for all."""
        if self.group is None:
            return f"{base}:fleet"
        return target_queue(base, f"group:{self.group}")


def phase(key: str) -> float:
    """A fraction in [0, 1) fixed by ``key``: the same in every worker process."""
    digest = hashlib.blake2s(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def collect_slot(target: str, interval: float, after: float) -> float:
    """The first collection slot of ``target`` strictly after ``after`` (epoch s)."""
    offset = phase(f"collect:{target}") * interval
    k = (after - offset) // interval + 1
    return offset + k * interval


def cron_slot(cron: str, key: str, after: float) -> float:
    """The first tick of ``cron`` plus ``key``'s phase strictly after ``after``."""
    ticks = croniter.croniter(cron, after)
    first = float(ticks.get_next(float))
    period = float(ticks.get_next(float)) - first
    jitter = phase(key) * min(period, MAX_CRON_JITTER_S) * 0.9
    return float(croniter.croniter(cron, after - jitter).get_next(float)) + jitter


def read(
    repository_dsn: str, state: FleetState, default_interval: float
) -> dict[str, str]:
    """The unpaused registered targets (of the group): name → DSN to connect with.

    A target whose password variable is missing is left out, its status failing.
    """
    with pg.connect(repository_dsn) as repo:
        found = fleet.registered(repo, state.group)
        served: dict[str, str] = {}
        for target in found:
            if target.paused:
                continue
            try:
                served[target.name] = fleet.connect_dsn(target)
            except PgwardenError as exc:
                fleet.record_status(repo, target.id, False, str(exc))
                continue
            state.ids[target.name] = target.id
            interval = target.interval_s or default_interval
            state.intervals[target.name] = float(interval)
    state.refreshed = time.monotonic()
    return served


def record(
    repository_dsn: str, state: FleetState, target: str, ok: bool, reason: str | None
) -> None:
    """The outcome of a cycle of ``target``, kept in the registry."""
    if target not in state.ids:
        return
    try:
        with pg.connect(repository_dsn) as repo:
            fleet.record_status(repo, state.ids[target], ok, reason)
    except (PgwardenError, psycopg.Error) as exc:
        logger.warning("status of %s not recorded: %s", target, exc)


def at(moment: float) -> datetime:
    """An epoch second as the ``schedule_at`` of a job."""
    return datetime.fromtimestamp(moment, UTC)


def next_slot(
    task: str, cron: str | None, target: str, interval: float, after: float
) -> float:
    """The next slot of ``task`` for ``target`` strictly after ``after``."""
    if cron is None:
        return collect_slot(target, interval, after)
    return cron_slot(cron, f"{task}:{target}", after)


class PlannerLock:
    """Whether this worker plans its fleet queue's jobs: the holder of a session
    advisory lock on a connection of its own, kept while the worker runs."""

    def __init__(self, repository_dsn: str, queue: str) -> None:
        self._dsn = repository_dsn
        digest = hashlib.blake2s(f"pgwarden planner {queue}".encode(), digest_size=8)
        self._key = int.from_bytes(digest.digest(), "big", signed=True)
        self._conn: psycopg.Connection[Any] | None = None
        self._held = False

    def held(self) -> bool:
        """True while this worker holds the lock (taken when free, kept while its
        connection lives); False when another worker does or the repository is
        unreachable."""
        try:
            if self._conn is None or self._conn.closed:
                self._conn, self._held = pg.connect(self._dsn), False
            if self._held:
                pg.named_rows(self._conn, "fleet", "planner_alive")
            else:
                rows = pg.named_rows(self._conn, "fleet", "planner_lock",
                                     {"key": self._key})  # fmt: skip
                self._held = bool(rows[0]["held"])
        except (PgwardenError, psycopg.Error) as exc:
            logger.warning("planner lock lost: %s", exc)
            self.close()
        return self._held

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn, self._held = None, False
