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
worker plans each target: the targets are split into :data:`SHARES` shares which
the live workers divide among themselves (:class:`PlannerShares`, session advisory
locks), so a second worker halves the planning as well as the running instead of
repeating it. A worker killed outright leaves nothing behind but its running jobs,
which the others retry once it is found silent (``jobs.stalled_seconds``), and its
share locks, which the server releases with its connection: the others take its
shares and plan the next slots.
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
#: a fleet queue's planning is split into this many shares of its targets
SHARES = 16


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

    def share_queue(self, base: str, share: int) -> str:
        """The queue of one planning share's jobs, taken by the worker planning it."""
        return f"{self.queue(base)}:{share:02d}"

    def follow(self, base: str, queues: list[str], held: frozenset[int]) -> None:
        """Make ``queues`` (the list a worker fetches from) hold the queues of the
        ``held`` shares and no other share's: a worker runs the jobs it planned,
        with its targets' collection state at hand."""
        wanted = {self.share_queue(base, share) for share in held}
        ours = {self.share_queue(base, share) for share in range(SHARES)}
        queues[:] = [q for q in queues if q not in ours or q in wanted]
        queues.extend(sorted(wanted - set(queues)))


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


def share_of(target: str) -> int:
    """The planning share ``target`` belongs to: the same in every worker process."""
    return int(phase(f"plan:{target}") * SHARES)


def _lock_key(text: str) -> int:
    digest = hashlib.blake2s(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _member_key(queue: str) -> int:
    return _lock_key(f"pgwarden planner {queue}")


def planners(conn: psycopg.Connection[Any], queue: str) -> int:
    """How many workers plan the fleet queue ``queue`` now."""
    unsigned = _member_key(queue) & 0xFFFF_FFFF_FFFF_FFFF  # pg_locks shows two oids
    halves = {"high": unsigned >> 32, "low": unsigned & 0xFFFF_FFFF}
    return int(pg.named_rows(conn, "fleet", "planner_members", halves)[0]["members"])


@dataclass(frozen=True)
class Route:
    """Where a job of a registered target goes (``pgwarden jobs defer``)."""

    #: the fleet whose queue takes it; None: the target's own queue
    state: FleetState | None
    queue: str
    #: workers serving that queue now (None: not known, the target's own queue)
    workers: int | None


def route(conn: psycopg.Connection[Any], base: str, target: fleet.Registered) -> Route:
    """The queue of a fleet worker serving ``target`` now: its group's, else the
    whole fleet's; with none running, the target's own queue (a worker whose
    ``--dsn`` points at it takes it), so a job never waits where no one looks."""
    choices = [FleetState(group=target.group)] if target.group is not None else []
    choices.append(FleetState(group=None))
    for state in choices:
        queue = state.queue(base)
        workers = planners(conn, queue)
        if workers:
            return Route(state, queue, workers)
    return Route(None, target_queue(base, target.name), None)


class PlannerShares:
    """The targets this worker plans: those of the shares whose locks it holds.

    Each worker of a fleet queue holds a shared *membership* lock and takes free
    shares (session advisory locks, one per share) up to its fair part,
    ``ceil(SHARES / members)``, letting go of those above it: two workers plan half
    the targets each. The locks live on a connection of their own, so when a worker
    dies the server releases them and the others take its shares at their next pass.
    """

    def __init__(self, repository_dsn: str, queue: str) -> None:
        self._dsn = repository_dsn
        self._queue = queue
        self._member = _member_key(queue)
        self._keys = [_lock_key(f"pgwarden planner {queue} {i}") for i in range(SHARES)]
        self._conn: psycopg.Connection[Any] | None = None
        self._held: set[int] = set()

    def held(self) -> frozenset[int]:
        """The shares this worker plans now, rebalanced against the live workers;
        none while the repository is unreachable."""
        try:
            conn = self._connection()
            fair = -(-SHARES // max(1, planners(conn, self._queue)))
            for share in sorted(self._held)[fair:]:
                key = {"key": self._keys[share]}
                pg.named_rows(conn, "fleet", "planner_release", key)
                self._held.discard(share)
            for share in range(SHARES):
                if len(self._held) >= fair:
                    break
                if share not in self._held and self._take(conn, share):
                    self._held.add(share)
        except (PgwardenError, psycopg.Error) as exc:
            logger.warning("planner shares lost: %s", exc)
            self.close()
        return frozenset(self._held)

    def plans(self, target: str) -> bool:
        return share_of(target) in self._held

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn, self._held = pg.connect(self._dsn), set()
            pg.named_rows(self._conn, "fleet", "planner_join", {"key": self._member})
        return self._conn

    def _take(self, conn: psycopg.Connection[Any], share: int) -> bool:
        rows = pg.named_rows(conn, "fleet", "planner_take", {"key": self._keys[share]})
        return bool(rows[0]["held"])

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn, self._held = None, set()
