"""Running a worker: install the queue, retry stalled jobs, work until stopped.

``pgwarden worker`` and the demo run :class:`WorkerRun`. It installs or upgrades the
queue's schema, retries the jobs of dead workers, then runs a Procrastinate worker
whose deferrer schedules the periodic tasks. A stop (Ctrl-C, SIGTERM, ``--duration``,
:meth:`WorkerRun.stop` from another thread) lets every running job finish: a
collection lease ends at its next sleep. With ``once`` nothing is scheduled; one job
of each task is queued (a collection job takes one cycle) and the worker stops when
the queue has no job left to run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import procrastinate
import psycopg
from procrastinate import exceptions
from procrastinate.worker import Worker

from pgwarden.errors import ConfigurationError, PgwardenError
from pgwarden.jobs.app import SPECS, Spec, build_app, cron_of, lock_name, queue_for
from pgwarden.jobs.context import WorkerContext
from pgwarden.jobs.fleet import (
    LEAD_S,
    REFRESH_S,
    TICK_S,
    PlannerShares,
    at,
    next_slot,
    read,
    share_of,
)
from pgwarden.jobs.recovery import recover_stalled
from pgwarden.jobs.schema import JobQueueError, install

#: seconds between checks of the queue in ``once`` mode
DRAIN_POLL_S = 0.5
#: seconds between checks of a stop asked from another thread
STOP_POLL_S = 0.5
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
Cancellable = asyncio.TimerHandle | asyncio.Task[None]


@dataclass(frozen=True)
class WorkerOptions:
    concurrency: int | None = None
    queues: Sequence[str] | None = None
    once: bool = False
    duration: float | None = None


class _Failures(logging.Handler):
    """Remembers why Procrastinate stopped a worker on its own (a side task failed)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.reasons: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "action", None) == "side_task_failed":
            self.reasons.append(record.getMessage().splitlines()[0])


class WorkerRun:
    """One worker: :meth:`run` it; :meth:`stop` it from any thread."""

    def __init__(self, ctx: WorkerContext, options: WorkerOptions) -> None:
        self.ctx, self.options = ctx, options
        self.worker: Worker | None = None

    def run(self) -> None:
        """Until stopped (or, with ``once``, until the queue is drained)."""
        jobs = self.ctx.settings.jobs
        done = install(self.ctx.repository_dsn, jobs.schema_name)
        if done.changed:
            self.ctx.say(f"job queue: {done.summary()}")
        if self.ctx.fleet is not None:
            refresh(self.ctx)
        failures = _Failures()
        logging.getLogger("procrastinate").addHandler(failures)
        try:
            asyncio.run(self._run())
        except exceptions.ConnectorException as exc:
            raise JobQueueError(f"the job queue failed: {_reason(exc)}") from exc
        finally:
            logging.getLogger("procrastinate").removeHandler(failures)
            self.ctx.close()
        if not self.ctx.stop.is_set():
            why = failures.reasons[-1] if failures.reasons else "unknown reason"
            raise JobQueueError(f"the worker stopped on its own: {why}")

    def stop(self) -> None:
        """Ask the worker to stop; running jobs finish first."""
        self.ctx.stop.set()
        if self.worker is not None:
            self.worker.stop()  # type: ignore[no-untyped-call]

    async def _run(self) -> None:
        ctx, options = self.ctx, self.options
        app = build_app(ctx, periodic=not options.once)
        async with app.open_async():
            await recover_stalled(app.job_manager, ctx)
            if options.once:
                await defer_each(app, ctx)
            self.worker = self._worker(app)
            if ctx.stop.is_set():  # stopped while starting
                return
            with _stop_signals(self.stop):
                watchers = self._watchers(app)
                if ctx.fleet is not None and not options.once:
                    fetched = self.worker.queues
                    assert isinstance(fetched, list)
                    watchers.append(asyncio.create_task(plan(app, ctx, fetched)))
                try:
                    await self.worker.run()  # type: ignore[no-untyped-call]
                finally:
                    for watcher in watchers:
                        watcher.cancel()

    def _worker(self, app: procrastinate.App) -> Worker:
        jobs, once = self.ctx.settings.jobs, self.options.once
        return Worker(
            app,
            queues=list(self.options.queues or self.ctx.queues()),
            name=f"{socket.gethostname()}-{os.getpid()}",
            concurrency=self.options.concurrency or (1 if once else jobs.concurrency),
            install_signal_handlers=False,
            update_heartbeat_interval=jobs.heartbeat_seconds,
            stalled_worker_timeout=jobs.stalled_seconds,
            fetch_job_polling_interval=1.0,
            abort_job_polling_interval=2.0,
        )

    def _watchers(self, app: procrastinate.App) -> list[Cancellable]:
        loop = asyncio.get_running_loop()
        found: list[Cancellable] = []
        if self.options.duration is not None:
            found.append(loop.call_later(self.options.duration, self.stop))
        if self.options.once:
            found.append(asyncio.create_task(self._drain(app)))
        found.append(asyncio.create_task(self._follow_stop()))
        return found

    async def _follow_stop(self) -> None:
        """Pass a stop asked from another thread on to the worker, whenever it came."""
        while not self.ctx.stop.is_set():
            await asyncio.sleep(STOP_POLL_S)
        self.stop()

    async def _drain(self, app: procrastinate.App) -> None:
        """Stop once no job of the worker's queues is waiting or running."""
        queues = list(self.options.queues or self.ctx.queues())
        while True:
            await asyncio.sleep(DRAIN_POLL_S)
            if not await _pending(app, queues):
                self.stop()
                return


async def _pending(app: procrastinate.App, queues: list[str]) -> bool:
    for queue in queues:
        for status in ("todo", "doing"):
            if list(await app.job_manager.list_jobs_async(queue=queue, status=status)):
                return True
    return False


async def defer_each(app: procrastinate.App, ctx: WorkerContext) -> int:
    """Queue one job of every task (collection: one cycle); how many were queued.

    Their priorities follow :data:`SPECS`: collection first, then the tasks that
    read what it stored.
    """
    queued = 0
    seen: set[str] = set()
    for rank, spec in enumerate(SPECS):
        if spec.fleet_only and ctx.fleet is None:
            continue
        for target in ctx.targets:
            lock = lock_name(spec, target)
            extra = {"lease": 0} if spec.name == "collect" else {}
            if lock in seen:
                continue
            seen.add(lock)
            job_id = await defer_job(
                app, ctx, spec, target, extra, priority=len(SPECS) - rank
            )
            queued += job_id is not None
    return queued


async def defer_job(
    app: procrastinate.App,
    ctx: WorkerContext,
    spec: Spec,
    target: str,
    extra: dict[str, Any] | None = None,
    *,
    priority: int = 0,
    schedule_at: datetime | None = None,
    queue: str | None = None,
) -> int | None:
    """Queue one job of ``spec`` for ``target`` (on its queue, or ``queue``); None
    when one is already waiting."""
    lock = lock_name(spec, target)
    deferrer = app.configure_task(
        spec.name, lock=lock, queueing_lock=lock, priority=priority,
        queue=queue or queue_for(ctx, spec, target), schedule_at=schedule_at,
        task_kwargs={"target": target, **(extra or {})},
    )  # fmt: skip
    try:
        return await deferrer.defer_async()
    except exceptions.AlreadyEnqueued:
        return None


def queue_now(ctx: WorkerContext, task: str, **extra: Any) -> list[int | None]:
    """Queue a job of ``task`` for each target of ``ctx`` (``pgwarden jobs defer``)."""
    by_name = {spec.name: spec for spec in SPECS}
    if task not in by_name:
        raise ConfigurationError(f"{task!r} is not a task; one of {', '.join(by_name)}")
    install(ctx.repository_dsn, ctx.settings.jobs.schema_name)

    async def defer_all() -> list[int | None]:
        app = build_app(ctx, periodic=False)
        async with app.open_async():
            return [
                await defer_job(app, ctx, by_name[task], target, extra)
                for target in ctx.targets
            ]

    return asyncio.run(defer_all())


def refresh(ctx: WorkerContext) -> int:
    """Read the registry into a fleet worker's context; how many targets it serves."""
    assert ctx.fleet is not None
    ctx.targets = read(ctx.repository_dsn, ctx.fleet, ctx.interval)
    return len(ctx.targets)


async def plan(app: procrastinate.App, ctx: WorkerContext, fetched: list[str]) -> None:
    """Queue each served target's jobs ahead of their slots, until the worker stops.

    See :mod:`pgwarden.jobs.fleet`. The jobs of the targets this worker plans go to
    the queues of its shares, which it adds to ``fetched`` (the queues its
    Procrastinate worker fetches from, read at each fetch) while it holds them.
    Stalled jobs are retried every half ``jobs.stalled_seconds`` meanwhile, so a
    killed worker's targets move on fast.
    """
    state = ctx.fleet
    assert state is not None
    specs = [spec for spec in SPECS if spec.per_target]
    crons = {s.name: (None if s.name == "collect" else cron_of(ctx, s)) for s in specs}
    planned: dict[tuple[str, str], float] = {}
    recovered = time.monotonic()
    base = ctx.settings.jobs.queue
    shares = PlannerShares(ctx.repository_dsn, state.queue(base))
    try:
        while not ctx.stop.is_set():
            if time.monotonic() - state.refreshed >= REFRESH_S:
                await _refresh(ctx)
            held = await asyncio.to_thread(shares.held)
            state.follow(base, fetched, held)
            if held:
                await _plan_once(app, ctx, specs, crons, planned, shares.plans)
            for key in [key for key in planned if not shares.plans(key[1])]:
                del planned[key]  # another worker plans it; afresh if it comes back
            if time.monotonic() - recovered >= ctx.settings.jobs.stalled_seconds / 2:
                recovered = time.monotonic()
                await recover_stalled(app.job_manager, ctx)
            await asyncio.sleep(TICK_S)
    finally:
        await asyncio.to_thread(shares.close)


async def _refresh(ctx: WorkerContext) -> None:
    try:
        await asyncio.to_thread(refresh, ctx)
    except (PgwardenError, psycopg.Error) as exc:
        ctx.report(f"registry not read: {exc}")


async def _plan_once(
    app: procrastinate.App,
    ctx: WorkerContext,
    specs: list[Spec],
    crons: dict[str, str | None],
    planned: dict[tuple[str, str], float],
    plans: Callable[[str], bool],
) -> None:
    """Queue the jobs, of the targets this worker ``plans``, whose slots come within
    the lead time."""
    state = ctx.fleet
    assert state is not None
    now = time.time()
    for target in [target for target in ctx.targets if plans(target)]:
        interval = ctx.interval_of(target)
        lead = min(LEAD_S, interval / 2)
        for spec in specs:
            key, cron = (spec.name, target), crons[spec.name]
            slot = planned.get(key)
            if slot is None or slot < now - interval:
                slot = next_slot(spec.name, cron, target, interval, now)
            if slot - now > lead:
                planned[key] = slot
                continue
            extra: dict[str, Any] = {"lease": 0} if spec.name == "collect" else {}
            queue = state.share_queue(ctx.settings.jobs.queue, share_of(target))
            await defer_job(app, ctx, spec, target, extra, schedule_at=at(slot),
                            queue=queue)  # fmt: skip
            planned[key] = next_slot(spec.name, cron, target, interval, slot)


@contextmanager
def _stop_signals(stop: Callable[[], None]) -> Iterator[None]:
    """SIGINT and SIGTERM call ``stop`` meanwhile (in the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop)
    try:
        yield
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)


def _reason(exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__
