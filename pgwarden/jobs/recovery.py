"""Jobs of dead workers: found by their missing heartbeat, retried.

Each worker writes a heartbeat every ``jobs.heartbeat_seconds``. A worker killed
outright (kill -9, a lost machine) stops writing it; after ``jobs.stalled_seconds``
its jobs still marked ``doing`` are *stalled*. Every worker retries them when it
starts and on the ``queue_upkeep`` task: the job goes back to ``todo`` with one
more attempt and runs again. While it was stalled its ``lock`` kept the same task of
the same target from running elsewhere; if a newer job of that task and target is
already waiting, that duplicate is cancelled so the retried job takes its place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from procrastinate import exceptions
from procrastinate.manager import JobManager

if TYPE_CHECKING:
    from procrastinate.job_context import JobContext

    from pgwarden.jobs.context import WorkerContext


async def recover_stalled(manager: JobManager, ctx: WorkerContext) -> int:
    """Retry the stalled jobs of the queue; how many were retried.

    Every queue of the schema: the retried job goes back to its own queue, where a
    worker serving its target takes it.
    """
    jobs = ctx.settings.jobs
    await manager.prune_stalled_workers(jobs.stalled_seconds)
    stalled = await manager.get_stalled_jobs(
        seconds_since_heartbeat=jobs.stalled_seconds
    )
    retried = 0
    for job in stalled:
        assert job.id is not None
        try:
            await manager.retry_job(job)
        except exceptions.ConnectorException:
            if not await _cancel_duplicate(manager, job.queueing_lock):
                raise
            await manager.retry_job(job)
        retried += 1
        target = job.task_kwargs.get("target", "")
        ctx.report(
            f"job {job.task_name}[{job.id}] {target}: stalled (its worker stopped "
            f"answering); retried, attempt {job.attempts + 2}"
        )
    return retried


async def _cancel_duplicate(manager: JobManager, queueing_lock: str | None) -> bool:
    if queueing_lock is None:
        return False
    waiting = await manager.list_jobs_async(queueing_lock=queueing_lock, status="todo")
    cancelled = False
    for job in waiting:
        if job.id is not None:
            cancelled |= await manager.cancel_job_by_id_async(job.id)
    return cancelled


async def upkeep_queue(ctx: WorkerContext, job: JobContext) -> str:
    """Retry stalled jobs; delete finished jobs older than the retention."""
    manager = job.app.job_manager
    retried = await recover_stalled(manager, ctx)
    jobs = ctx.settings.jobs
    await manager.delete_old_jobs(
        nb_hours=jobs.finished_retention_days * 24,
        include_failed=True, include_cancelled=True, include_aborted=True,
    )  # fmt: skip
    return f"{retried} stalled job{'' if retried == 1 else 's'} retried"
