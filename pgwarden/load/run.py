"""A load run: workers (in this process or several), server watch, merged results.

With ``workers == 1`` the virtual users run on this process's event loop. With more,
each worker is a spawned process — one application instance with its share of the
users, the rate and the pool — and the histograms they send back are added
together, so percentiles are those of the whole run, not averages of percentiles.
With a read replica (``spec.replica_dsn``) the replica is watched like the primary,
and it must be in recovery: a standby, not a second primary.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import pickle
import queue
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.demo.schema import (
    REFERENCE_MARKER,
    reference_marked,
    reference_tables_present,
)
from pgwarden.errors import PgwardenError, TargetError, WriteRefused
from pgwarden.load.engine import LoadSpec, Tick, run_loop, run_worker
from pgwarden.load.histogram import Histogram
from pgwarden.load.recorder import SECOND_DIGITS, WorkerResult
from pgwarden.load.safety import check_target, is_loopback
from pgwarden.load.scenario import REFERENCE
from pgwarden.load.server import ServerObservation, ServerWatch

SAMPLE_INTERVAL_S = 0.25
START_DELAY_S = 0.2
Progress = Callable[[Mapping[int, Tick]], None]


class WorkerFailed(PgwardenError):
    """A load worker failed."""


@dataclass
class SecondTotals:
    count: int = 0
    errors: int = 0
    latency: Histogram = field(default_factory=lambda: Histogram(SECOND_DIGITS))
    pool_busy_s: float = 0.0


@dataclass
class LoadRun:
    """A finished run, all workers merged."""

    spec: LoadSpec
    scenario: str
    started_at: datetime
    overall: Histogram = field(default_factory=Histogram)
    service: Histogram = field(default_factory=Histogram)
    actions: dict[str, Histogram] = field(default_factory=dict)
    errors: dict[str, Counter[str]] = field(default_factory=dict)
    pool_wait: Histogram = field(default_factory=Histogram)
    pool_size: int = 0
    pool_busy_s: float = 0.0
    pool_max_waiting: int = 0
    pool_wait_total_s: float = 0.0
    latency_total_s: float = 0.0
    cache_capacity: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    seconds: list[SecondTotals] = field(default_factory=list)
    dropped: int = 0
    server: ServerObservation = field(default_factory=ServerObservation)
    replica_pool_size: int = 0
    replica_pool_busy_s: float = 0.0
    replica_server: ServerObservation | None = None
    #: the generator's own cost: CPU seconds and CPU share of each worker
    generator_cpu_s: float = 0.0
    generator_actions: int = 0  # actions the workers ran in the window
    generator_shares: list[float] = field(default_factory=list)
    generator_runnable: list[float] = field(default_factory=list)
    loop_lag: Histogram = field(default_factory=Histogram)
    lateness: Histogram = field(default_factory=Histogram)
    drivers: Counter[str] = field(default_factory=Counter)
    driver_notes: list[str] = field(default_factory=list)

    def add(self, part: WorkerResult) -> None:
        self.overall.add(Histogram.decode(part.overall))
        self.service.add(Histogram.decode(part.service))
        for name, data in part.actions.items():
            self.actions.setdefault(name, Histogram()).add(Histogram.decode(data))
        for name, counts in part.errors.items():
            self.errors.setdefault(name, Counter()).update(counts)
        self.pool_wait.add(Histogram.decode(part.pool_wait))
        self.pool_size += part.pool_size
        self.pool_busy_s += part.pool_busy_s
        self.pool_max_waiting += part.pool_max_waiting
        self.pool_wait_total_s += part.pool_wait_total_s
        self.latency_total_s += part.latency_total_s
        capacity, hits, misses = part.cache
        self.cache_capacity += capacity
        self.cache_hits += hits
        self.cache_misses += misses
        self.dropped += part.dropped
        self.replica_pool_size += part.replica_pool[0]
        self.replica_pool_busy_s += part.replica_pool[1]
        self.generator_cpu_s += part.cpu_s
        self.generator_actions += part.executed
        window = part.window_s or self.spec.duration_s
        self.generator_shares.append(part.cpu_s / window if window > 0 else 0.0)
        self.generator_runnable.append(part.runnable_s / window if window > 0 else 0.0)
        if part.loop_lag:
            self.loop_lag.add(Histogram.decode(part.loop_lag))
        if part.lateness:
            self.lateness.add(Histogram.decode(part.lateness))
        self.drivers[part.driver] += 1
        if part.driver_note and part.driver_note not in self.driver_notes:
            self.driver_notes.append(part.driver_note)
        for i, (count, errors, data, busy) in enumerate(part.seconds):
            while len(self.seconds) <= i:
                self.seconds.append(SecondTotals())
            second = self.seconds[i]
            second.count += count
            second.errors += errors
            second.latency.add(Histogram.decode(data, SECOND_DIGITS))
            second.pool_busy_s += busy


def run_load(spec: LoadSpec, progress: Progress | None = None) -> LoadRun:
    """Run ``spec`` to the end and return its merged measurements."""
    return run_loop(spec, run_load_async(spec, progress))


async def run_load_async(spec: LoadSpec, progress: Progress | None = None) -> LoadRun:
    scenario = spec.scenario.resolve()
    run = LoadRun(spec, scenario.name, datetime.now(UTC))
    watches = [ServerWatch(spec.dsn, is_loopback(spec.dsn))]
    if spec.replica_dsn is not None:
        watches.append(ServerWatch(spec.replica_dsn, is_loopback(spec.replica_dsn)))
    try:
        for watch in watches:
            await asyncio.to_thread(watch.open)
        await asyncio.to_thread(preflight, watches[0], spec, scenario.name == REFERENCE)
        if len(watches) > 1:
            await asyncio.to_thread(check_replica, watches[1], spec)
        workers = _Local(spec) if spec.workers == 1 else _Processes(spec)
        async with workers:
            await workers.wait_ready()
            start_wall = time.time() + START_DELAY_S
            workers.go(start_wall)
            sampler = asyncio.create_task(watch_window(watches, spec, start_wall))
            ticks: dict[int, Tick] = {}
            for part in await workers.results(ticks, progress):
                run.add(part)
            observed = await sampler
            run.server = observed[0]
            run.replica_server = observed[1] if len(observed) > 1 else None
    finally:
        for watch in watches:
            await asyncio.to_thread(watch.close)
    return run


def preflight(watch: ServerWatch, spec: LoadSpec, needs_reference: bool) -> None:
    """Refuse a target the run may not write to, or that lacks the reference app."""
    assert watch.conn is not None
    check_writable(watch.conn, spec, needs_reference)


def check_writable(
    conn: psycopg.Connection[Any], spec: LoadSpec, needs_reference: bool
) -> None:
    """Refuse a target the run may not write to: not embedded nor allowed, or (for
    the reference scenario) without reference tables pgwarden loaded."""
    check_target(conn, spec.dsn, spec.allowed_targets)
    if not needs_reference:
        return
    if not reference_tables_present(conn):
        raise TargetError(
            f"{pg.describe(spec.dsn)} has no reference application tables; "
            "load them with: pgwarden demo-db load --scale small"
        )
    if not spec.allow_unmarked and not reference_marked(conn):
        raise WriteRefused(
            f"refusing to run the reference scenario on {pg.describe(spec.dsn)}: "
            'its "Tenant" table carries no '
            f"{REFERENCE_MARKER!r} comment, so pgwarden did not load these tables "
            "and they may be an application's; the scenario writes sessions, "
            "answers and audit rows. Load them with pgwarden demo-db load, or pass "
            "--allow-unmarked"
        )


def check_writable_dsn(spec: LoadSpec) -> None:
    """:func:`check_writable` on a connection of its own, before anything starts."""
    with pg.connect(spec.dsn) as conn:
        check_writable(conn, spec, spec.scenario.resolve().name == REFERENCE)


def check_replica(watch: ServerWatch, spec: LoadSpec) -> None:
    """Refuse a replica DSN that is not a standby (it would take writes)."""
    assert watch.conn is not None and spec.replica_dsn is not None
    row = pg.fetch_one(watch.conn, pg.query("load", "in_recovery")) or {}
    if not row.get("in_recovery"):
        raise ReplicaRefused(
            f"--replica-dsn: {pg.describe(spec.replica_dsn)} is not in recovery, so "
            "it is not a read replica; give the DSN of a streaming standby"
        )


class ReplicaRefused(TargetError):
    """The read replica is not a standby."""


async def watch_window(
    watches: list[ServerWatch], spec: LoadSpec, start_wall: float
) -> list[ServerObservation]:
    """Sample the servers through the measured window of a run that starts at
    ``start_wall`` (wall clock); their observations, in the order given."""
    window_start = start_wall + spec.warmup
    await asyncio.sleep(max(0.0, window_start - time.time()))
    await asyncio.gather(*(asyncio.to_thread(w.begin) for w in watches))
    window_end = window_start + spec.duration_s
    while time.time() + SAMPLE_INTERVAL_S < window_end:
        await asyncio.sleep(SAMPLE_INTERVAL_S)
        await asyncio.gather(*(asyncio.to_thread(w.sample) for w in watches))
    await asyncio.sleep(max(0.0, window_end - time.time()))
    return list(await asyncio.gather(*(asyncio.to_thread(w.end) for w in watches)))


# -- workers in this process -----------------------------------------------------
class _Local:
    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.messages: asyncio.Queue[tuple[str, int, Any]] = asyncio.Queue()
        self.start: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> _Local:
        self.task = asyncio.create_task(self._main())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _main(self) -> None:
        try:
            result = await run_worker(self.spec, 0, self)
        except Exception as exc:
            self.messages.put_nowait(("error", 0, exc))
        else:
            self.messages.put_nowait(("result", 0, result))

    async def ready(self) -> float:
        self.messages.put_nowait(("ready", 0, None))
        return await self.start

    def tick(self, tick: Tick) -> None:
        self.messages.put_nowait(("tick", 0, tick))

    async def wait_ready(self) -> None:
        await _wait_ready(self.next, 1)

    def go(self, start_wall: float) -> None:
        self.start.set_result(start_wall)

    async def next(self) -> tuple[str, int, Any]:
        return await self.messages.get()

    async def results(
        self, ticks: dict[int, Tick], progress: Progress | None
    ) -> list[WorkerResult]:
        return await _collect(self.next, 1, ticks, progress)


# -- worker processes ------------------------------------------------------------
class _Processes:
    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        ctx = multiprocessing.get_context("spawn")
        self.queue: Any = ctx.Queue()
        self.event: Any = ctx.Event()
        self.start: Any = ctx.Value("d", 0.0)
        self.procs = [
            ctx.Process(
                target=_process_main,
                args=(spec.share(i), i, self.queue, self.event, self.start),
                name=f"pgwarden-load-{i}",
                daemon=True,
            )
            for i in range(spec.workers)
        ]

    async def __aenter__(self) -> _Processes:
        for proc in self.procs:
            proc.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.event.set()
        for proc in self.procs:
            await asyncio.to_thread(proc.join, 5)
            if proc.is_alive():
                proc.terminate()

    async def wait_ready(self) -> None:
        await _wait_ready(self.next, len(self.procs))

    def go(self, start_wall: float) -> None:
        self.start.value = start_wall
        self.event.set()

    async def next(self) -> tuple[str, int, Any]:
        while True:
            try:
                message: tuple[str, int, Any] = await asyncio.to_thread(
                    self.queue.get, True, 1.0
                )
                return message
            except queue.Empty:
                dead = [p for p in self.procs if p.exitcode not in (None, 0)]
                if dead:
                    raise WorkerFailed(
                        f"load worker {dead[0].name} exited with {dead[0].exitcode}"
                    ) from None

    async def results(
        self, ticks: dict[int, Tick], progress: Progress | None
    ) -> list[WorkerResult]:
        return await _collect(self.next, len(self.procs), ticks, progress)


class _ProcessCoordinator:
    def __init__(self, index: int, messages: Any, event: Any, start: Any) -> None:
        self.index, self.messages, self.event, self.start = (
            index,
            messages,
            event,
            start,
        )

    async def ready(self) -> float:
        self.messages.put(("ready", self.index, None))
        await asyncio.to_thread(self.event.wait)
        return float(self.start.value)

    def tick(self, tick: Tick) -> None:
        self.messages.put(("tick", self.index, tick))


def _process_main(
    spec: LoadSpec, index: int, messages: Any, event: Any, start: Any
) -> None:
    coord = _ProcessCoordinator(index, messages, event, start)
    try:
        result = run_loop(spec, run_worker(spec, index, coord))
    except Exception as exc:
        try:
            pickle.dumps(exc)
            messages.put(("error", index, exc))
        except Exception:
            messages.put(("error", index, WorkerFailed(f"{type(exc).__name__}: {exc}")))
    else:
        messages.put(("result", index, result))


# -- shared ----------------------------------------------------------------------
Next = Callable[[], Any]


async def _wait_ready(next_message: Next, count: int) -> None:
    ready = 0
    while ready < count:
        kind, _index, payload = await next_message()
        if kind == "error":
            raise payload
        ready += kind == "ready"


async def _collect(
    next_message: Next, count: int, ticks: dict[int, Tick], progress: Progress | None
) -> list[WorkerResult]:
    results: list[WorkerResult] = []
    while len(results) < count:
        kind, index, payload = await next_message()
        if kind == "error":
            raise payload
        if kind == "result":
            results.append(payload)
        elif kind == "tick":
            ticks[index] = payload
            if progress is not None:
                progress(ticks)
    return results
