"""Background jobs on Procrastinate, in the repository database.

One worker runs every periodic task of pgwarden: collection leases (cycles and
activity samples), alert evaluation, retention, maintenance, reports and the queue's
own upkeep (stalled jobs retried). See ``docs/WORKER.md``.

Why collection runs as a *lease*: Procrastinate's schedules are cron expressions,
minute-granular, while collection cycles come every ``collect.interval_seconds``
(60 s, shorter in the demo) and pg_stat_activity is sampled every few seconds. So
the ``collect`` task is deferred every minute (``jobs.collect_cron``) and each job
runs the shared collection loop (:mod:`pgwarden.collect.loop`) until just before the
next one is due: cycles at the interval, samples in between, the loop's state kept
in the worker process for the next lease. A cycle waits when the repository shows
the target was collected less than an interval ago, so leases on different workers
keep the interval. The job's ``lock`` keeps one lease per target running across all
workers and its ``queueing_lock`` keeps one waiting; a lease holds one of the
worker's ``jobs.concurrency`` slots, so the other tasks run beside it.

A worker without ``--dsn`` serves the registered targets (:mod:`pgwarden.fleet`)
with one-cycle jobs instead, planned slot by slot (:mod:`pgwarden.jobs.fleet`).
"""

from pgwarden.jobs.context import WorkerContext
from pgwarden.jobs.fleet import FleetState
from pgwarden.jobs.schema import JobQueueError, install
from pgwarden.jobs.worker import WorkerOptions, WorkerRun

__all__ = [
    "FleetState",
    "JobQueueError",
    "WorkerContext",
    "WorkerOptions",
    "WorkerRun",
    "install",
]
