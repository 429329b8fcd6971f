"""The ``load_shard`` task: a shard of a distributed load run, on this worker.

Not periodic: ``pgwarden load run --distributed N`` queues one job per shard on
``jobs.queue`` (:class:`JobShardQueue`), the queue every worker takes, ahead of
the other jobs (a higher priority). The job carries the run's id, the shard's
number and the target's name, nothing else; the shard's row in the repository
holds its spec (:func:`pgwarden.load.distributed.run_shard`). The worker connects
with the DSN it has for the target — the one it serves, else the registry's
(password from the worker's environment), else the row's DSN without password
(the password from this host's libpq: ``PGPASSWORD``, ``~/.pgpass``) — and load-tests
only what its own settings allow (embedded, or ``load.allowed_targets``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import procrastinate
from procrastinate.job_context import JobContext

from pgwarden import fleet, pg
from pgwarden.config import Settings
from pgwarden.errors import ConfigurationError
from pgwarden.jobs.schema import install, session_options

if TYPE_CHECKING:
    from pgwarden.jobs.context import WorkerContext

SHARD_TASK = "load_shard"
#: shards go before the other waiting jobs
PRIORITY = 100
APPLICATION_NAME = "pgwarden-load-coordinator"


def shard_task(ctx: WorkerContext) -> Callable[..., str]:
    """The task function the worker's app registers as ``load_shard``."""

    def load_shard(job: JobContext, **kwargs: Any) -> str:
        from pgwarden.load.distributed import run_shard

        started = time.monotonic()
        label = f"job {SHARD_TASK}[{job.job.id}] run {str(kwargs.get('run_id'))[:8]}"
        try:
            outcome = run_shard(
                ctx.repository_dsn,
                str(kwargs["run_id"]),
                int(kwargs["shard"]),
                _resolver(ctx),
                tuple(ctx.settings.load.allowed_targets),
            )
        except Exception as exc:
            ctx.report(f"{label} failed: {_first_line(exc)}")
            raise
        ctx.say(f"{label}: {outcome} ({time.monotonic() - started:.1f} s)")
        return outcome

    return load_shard


def _resolver(ctx: WorkerContext) -> Callable[[str, str], str]:
    def resolve(target: str, bare: str) -> str:
        if ctx.serves(target):
            return ctx.target_dsn(target)
        with pg.connect(ctx.repository_dsn) as repo:
            try:
                found = fleet.find(repo, target)
            except ConfigurationError:
                return bare  # not registered: the row's DSN, this host's password
        return fleet.connect_dsn(found)

    return resolve


class JobShardQueue:
    """The coordinator's side: queue the shards' jobs, cancel those left waiting."""

    def __init__(self, settings: Settings, repository_dsn: str) -> None:
        self.settings, self.repository_dsn = settings, repository_dsn

    def _app(self) -> procrastinate.App:
        jobs = self.settings.jobs
        connector = procrastinate.PsycopgConnector(
            conninfo=self.repository_dsn,
            kwargs={
                "options": session_options(self.repository_dsn, jobs.schema_name),
                "application_name": APPLICATION_NAME,
            },
            min_size=1,
            max_size=2,
        )
        return procrastinate.App(connector=connector)

    async def defer(self, run_id: str, shards: int, target: str) -> list[int]:
        install(self.repository_dsn, self.settings.jobs.schema_name)
        app = self._app()
        ids = []
        async with app.open_async():
            for shard in range(shards):
                deferrer = app.configure_task(
                    SHARD_TASK, queue=self.settings.jobs.queue, priority=PRIORITY,
                    task_kwargs={"run_id": run_id, "shard": shard, "target": target},
                )  # fmt: skip
                ids.append(int(await deferrer.defer_async()))
        return ids

    async def cancel(self, job_ids: Sequence[int]) -> None:
        app = self._app()
        async with app.open_async():
            for job_id in job_ids:
                await app.job_manager.cancel_job_by_id_async(job_id)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
