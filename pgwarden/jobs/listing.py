"""Recent jobs of the queue, for ``pgwarden jobs list``.

A job ``doing`` whose worker has not written its heartbeat for
``jobs.stalled_seconds`` is shown as ``stalled``: the next worker to start, or the
next ``queue_upkeep`` job, retries it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pgwarden import pg
from pgwarden.config import JobsSettings
from pgwarden.jobs.schema import connect

RECENT_JOBS = """
SELECT j.id, j.task_name, j.args ->> 'target' AS target,
       CASE WHEN j.status = 'doing' AND (w.id IS NULL OR w.last_heartbeat
                 < now() - make_interval(secs => %(stalled)s))
            THEN 'stalled' ELSE j.status::text END AS status,
       j.attempts,
       (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id)
           AS updated,
       j.worker_id
FROM procrastinate_jobs j
LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
WHERE j.queue_name = %(queue)s OR starts_with(j.queue_name, %(prefix)s)
ORDER BY j.id DESC
LIMIT %(limit)s
"""


@dataclass(frozen=True)
class JobRow:
    id: int
    task: str
    target: str | None
    status: str
    attempts: int
    updated: datetime | None
    worker: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def row(self) -> tuple[Any, ...]:
        updated = None if self.updated is None else f"{self.updated:%Y-%m-%d %H:%M:%S}"
        fields = (self.id, self.task, self.target, self.status, self.attempts)
        return (*fields, updated, self.worker)


def recent_jobs(dsn: str, settings: JobsSettings, limit: int = 20) -> list[JobRow]:
    """The newest ``limit`` jobs of ``settings.queue`` and its targets' queues."""
    params = {
        "queue": settings.queue,
        "prefix": settings.queue + ":",
        "limit": limit,
        "stalled": settings.stalled_seconds,
    }
    with (
        connect(dsn, settings.schema_name) as conn,
        pg.guarded("job queue (run pgwarden init)"),
    ):
        rows = pg.fetch_all(conn, RECENT_JOBS, params)  # type: ignore[arg-type]
    return [_job(row) for row in rows]


def _job(r: dict[str, Any]) -> JobRow:
    return JobRow(
        int(r["id"]), str(r["task_name"]), r["target"], str(r["status"]),
        int(r["attempts"]), r["updated"], r["worker_id"],
    )  # fmt: skip
