"""The Procrastinate app: tasks, their schedules and their locks.

Every periodic task is deferred by every running worker's deferrer; the queue keeps
one job per task and tick (Procrastinate's periodic uniqueness). A target's jobs go
to its own queue (:func:`target_queue`), taken only by the workers serving that
target; repository-wide jobs go to ``jobs.queue`` itself. Each job has a
``queueing_lock`` (at most one waiting) and a ``lock`` (at most one running) named
after the task and the target, so two workers never run the same task for the same
target at once. Retention works on the whole repository: its lock is one for all.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import croniter  # type: ignore[import-untyped]
import procrastinate
from procrastinate.job_context import JobContext

from pgwarden.errors import ConfigurationError
from pgwarden.jobs import tasks
from pgwarden.jobs.context import WorkerContext, elapsed
from pgwarden.jobs.queues import target_queue as target_queue
from pgwarden.jobs.recovery import upkeep_queue
from pgwarden.jobs.schema import session_options
from pgwarden.jobs.shards import SHARD_TASK, shard_task

APPLICATION_NAME = "pgwarden-worker"

Body = Callable[[WorkerContext, JobContext, dict[str, Any]], str]


@dataclass(frozen=True)
class Spec:
    """A task: its name, the setting holding its schedule, its lock's scope."""

    name: str
    cron_setting: str
    per_target: bool = True
    #: queued by ``worker --once`` only when serving the fleet
    fleet_only: bool = False


SPECS = (
    Spec("collect", "collect_cron"),
    Spec("alerts", "alerts_cron"),
    Spec("retention", "retention_cron", per_target=False),
    Spec("maintenance", "maintenance_cron"),
    Spec("reports", "reports_cron"),
    Spec("reviews", "reviews_cron"),
    Spec("queue_upkeep", "queue_upkeep_cron", per_target=False),
    Spec("discover", "discover_cron", per_target=False, fleet_only=True),
)
TASK_NAMES = tuple(spec.name for spec in SPECS)

BODIES: dict[str, Body] = {
    "collect": lambda ctx, job, kw: tasks.collect(
        ctx, kw["target"], kw.get("lease"), job.should_abort
    ),
    "alerts": lambda ctx, job, kw: tasks.alerts(ctx, kw["target"]),
    "retention": lambda ctx, job, kw: tasks.retention(ctx),
    "maintenance": lambda ctx, job, kw: tasks.maintenance(ctx, kw["target"]),
    "reports": lambda ctx, job, kw: tasks.reports(ctx, kw["target"]),
    "reviews": lambda ctx, job, kw: tasks.reviews(ctx, kw["target"]),
    "discover": lambda ctx, job, kw: tasks.discover(ctx),
}


def queue_for(ctx: WorkerContext, spec: Spec, target: str) -> str:
    return ctx.target_queue(target) if spec.per_target else ctx.settings.jobs.queue


def lock_name(spec: Spec, target: str) -> str:
    """``collect:host:5432/db``; one name for the repository-wide tasks."""
    return f"{spec.name}:{target}" if spec.per_target else spec.name


def cron_of(ctx: WorkerContext, spec: Spec) -> str:
    cron = str(getattr(ctx.settings.jobs, spec.cron_setting))
    if not croniter.croniter.is_valid(cron):
        raise ConfigurationError(
            f"jobs.{spec.cron_setting}: {cron!r} is not a cron expression"
        )
    return cron


def build_app(ctx: WorkerContext, *, periodic: bool = True) -> procrastinate.App:
    """The app of one worker process (``periodic=False``: no schedules)."""
    jobs = ctx.settings.jobs
    connector = procrastinate.PsycopgConnector(
        conninfo=ctx.repository_dsn,
        kwargs={
            "options": session_options(ctx.repository_dsn, jobs.schema_name),
            "application_name": APPLICATION_NAME,
        },
        min_size=1,
        max_size=jobs.concurrency + 3,
    )
    app = procrastinate.App(connector=connector)
    for spec in SPECS:
        task = app.task(name=spec.name, queue=jobs.queue, pass_context=True)(
            _wrap(ctx, spec)
        )
        if not periodic:
            continue
        if ctx.fleet is not None and spec.per_target:
            continue  # planned slot by slot (pgwarden.jobs.fleet)
        cron = cron_of(ctx, spec)
        for target in ctx.targets if spec.per_target else ["repository"]:
            lock, queue = lock_name(spec, target), queue_for(ctx, spec, target)
            app.periodic(
                cron=cron, periodic_id=target, queue=queue,
                lock=lock, queueing_lock=lock, task_kwargs={"target": target},
            )(task)  # fmt: skip
    # not periodic: the shards of a distributed load run (pgwarden.jobs.shards)
    app.task(name=SHARD_TASK, queue=jobs.queue, pass_context=True)(shard_task(ctx))
    return app


def _wrap(ctx: WorkerContext, spec: Spec) -> Callable[..., Any]:
    """The task function: runs the body, says one line per job."""
    if spec.name == "queue_upkeep":

        async def run_async(job: JobContext, **kwargs: Any) -> str:
            return await _timed(ctx, spec, job, kwargs, upkeep_queue(ctx, job))

        run_async.__name__ = spec.name
        return run_async

    body = BODIES[spec.name]

    def run(job: JobContext, **kwargs: Any) -> str:
        started = time.monotonic()
        target = kwargs.get("target")
        if spec.per_target and ctx.fleet is not None and not ctx.serves(str(target)):
            outcome = "skipped: not served now (paused, removed or another group)"
            ctx.say(f"{_label(spec, job, kwargs)}: {outcome}")
            return outcome
        try:
            outcome = body(ctx, job, kwargs)
        except Exception as exc:
            ctx.report(f"{_label(spec, job, kwargs)} failed: {_first_line(exc)}")
            raise
        ctx.say(f"{_label(spec, job, kwargs)}: {outcome} ({elapsed(started)})")
        return outcome

    run.__name__ = spec.name
    return run


async def _timed(
    ctx: WorkerContext,
    spec: Spec,
    job: JobContext,
    kwargs: dict[str, Any],
    work: Awaitable[str],
) -> str:
    started = time.monotonic()
    try:
        outcome = await work
    except Exception as exc:
        ctx.report(f"{_label(spec, job, kwargs)} failed: {_first_line(exc)}")
        raise
    ctx.say(f"{_label(spec, job, kwargs)}: {outcome} ({elapsed(started)})")
    return outcome


def _label(spec: Spec, job: JobContext, kwargs: dict[str, Any]) -> str:
    target = kwargs.get("target")
    where = f" {target}" if target and spec.per_target else ""
    return f"job {spec.name}[{job.job.id}]{where}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
