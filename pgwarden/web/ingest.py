"""``/api/ingest/*``: slow queries, pool and cache counters, calls and errors
reported by applications.

Pool and cache reports are kept in the repository (latest per ``source``), where the
``connection_utilisation`` rule reads them; see :mod:`pgwarden.alerts.app_reports`.
Calls and errors by class are counts since the application's previous report, added
to the minute they arrive in (:mod:`pgwarden.slowlog.failures`).
A body is at most ``dashboard.max_body_bytes`` (:mod:`pgwarden.web.limits`); each
slow query record is judged alone (:mod:`pgwarden.slowlog.application`).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Self

import psycopg
from fastapi import APIRouter, HTTPException, Request
from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator
from starlette.concurrency import run_in_threadpool

from pgwarden.alerts import app_reports
from pgwarden.observe.analysis import ratio
from pgwarden.slowlog import ensure_target, failures, ingest_application_reports
from pgwarden.slowlog.application import TooManyRecords, read_lines
from pgwarden.slowlog.severity import Thresholds
from pgwarden.web.limits import Int32Count, Int64Count, Name

if TYPE_CHECKING:
    from pgwarden.web.context import Context

SOURCE = Field(
    app_reports.DEFAULT_SOURCE,
    description="The application or pool reporting (label pool= of its alerts).",
)


class CacheCounters(BaseModel):
    hits: Int64Count
    misses: Int64Count
    source: Name = SOURCE


def _error_class(key: str) -> str:
    failures.reported_class(key)  # ValueError: 422
    return key


#: an error class (``serialization_failure``, ``other_42``…) or a SQLSTATE
ErrorClass = Annotated[str, Field(min_length=1, max_length=64),
                       AfterValidator(_error_class)]  # fmt: skip


class AppMetrics(BaseModel):
    """A connection pool's state, the application cache's counters, and the calls
    and errors by class since the previous report: any of them, at least one."""

    pool_size: Int32Count | None = Field(
        None, description="Connections the pool may hold (max); with in_use."
    )
    in_use: Int32Count | None = Field(
        None, description="Connections lent out right now; with pool_size."
    )
    waiting: Int32Count = Field(0, description="Requests waiting for a connection.")
    cache_hits: Int64Count | None = None
    cache_misses: Int64Count | None = None
    calls: Int64Count | None = Field(
        None, description="Statements run since the previous report, failed included."
    )
    errors: dict[ErrorClass, Int32Count] = Field(
        default_factory=dict,
        max_length=failures.MAX_REPORT_CLASSES,
        description="Errors since the previous report by class (a pgwarden class "
        "name such as serialization_failure, or a SQLSTATE such as 40001).",
    )
    source: Name = SOURCE

    @field_validator("errors")
    @classmethod
    def _classes(cls, errors: dict[str, int]) -> dict[str, int]:
        """The counts by pgwarden class (a SQLSTATE and its class name add up)."""
        found: Counter[str] = Counter()
        for key, n in errors.items():
            found[failures.reported_class(key)] += n
        return dict(found)

    @model_validator(mode="after")
    def _at_least_one(self) -> Self:
        if (self.pool_size is None) != (self.in_use is None):
            raise ValueError("pool_size and in_use go together")
        if (
            self.pool_size is None
            and self.calls is None
            and not self.errors
            and (self.cache_hits is None or self.cache_misses is None)
        ):
            raise ValueError("report a pool, cache counters, calls or errors")
        return self


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(prefix="/api/ingest", tags=["ingest"])

    @routes.post("/slow-queries")
    async def slow_queries(request: Request) -> dict[str, Any]:
        """Slow queries as JSON lines: ``{"ts","query","duration_ms","caller",...}``.

        Answers how many were accepted and rejected, and for each rejected record
        its position (``record``, from 1), its ``line`` in the body and the reason.
        """
        body = await request.body()
        return await run_in_threadpool(_store, ctx, body)

    @routes.post("/app-cache")
    def app_cache(counters: CacheCounters) -> dict[str, Any]:
        """The application cache's hits and misses; shown as its hit ratio."""
        now = datetime.now(UTC)
        with ctx.repository() as conn:
            target_id = ensure_target(conn, ctx.target_name)
            _cache(ctx, conn, target_id, counters.source, counters.hits,
                   counters.misses, now)  # fmt: skip
        return {"application_cache_hit_ratio": ctx.app_cache_ratio}

    @routes.post("/app-metrics")
    def app_metrics(report: AppMetrics) -> dict[str, Any]:
        """Pool size, connections in use and waiting, cache counters, and calls and
        errors by class since the previous report (any of them)."""
        now = datetime.now(UTC)
        with ctx.repository() as conn, conn.transaction():
            target_id = ensure_target(conn, ctx.target_name)
            _report(ctx, conn, target_id, report, now)
        pool = None
        if report.pool_size is not None and report.in_use is not None:
            pool = app_reports.pool_utilisation(report.in_use, report.pool_size)
        errors = sum(report.errors.values())
        return {"source": report.source, "pool_utilisation": pool,
                "application_cache_hit_ratio": ctx.app_cache_ratio,
                "calls": report.calls, "errors": errors}  # fmt: skip

    return routes


def _report(
    ctx: Context,
    conn: psycopg.Connection[Any],
    target_id: int,
    report: AppMetrics,
    now: datetime,
) -> None:
    if report.pool_size is not None and report.in_use is not None:
        app_reports.record_pool(
            conn, target_id, report.source, report.pool_size, report.in_use,
            report.waiting, now,
        )  # fmt: skip
    if report.cache_hits is not None and report.cache_misses is not None:
        _cache(ctx, conn, target_id, report.source, report.cache_hits,
               report.cache_misses, now)  # fmt: skip
    if report.calls is not None or report.errors:
        failures.record_report(
            conn, target_id, report.source, now, report.calls, report.errors
        )


def _cache(
    ctx: Context,
    conn: psycopg.Connection[Any],
    target_id: int,
    source: str,
    hits: int,
    misses: int,
    now: datetime,
) -> None:
    app_reports.record_cache(conn, target_id, source, hits, misses, now)
    ctx.app_cache_ratio = ratio(hits, misses)


def _store(ctx: Context, body: bytes) -> dict[str, Any]:
    try:
        lines = read_lines(body)
    except TooManyRecords as exc:
        raise HTTPException(413, str(exc)) from exc
    settings = ctx.settings.slow_queries
    with ctx.repository() as conn:
        target_id = ensure_target(conn, ctx.target_name)
        result = ingest_application_reports(
            conn, target_id, [record for _, record in lines],
            thresholds=Thresholds.from_settings(settings),
            retention_days=settings.retention_days,
        )  # fmt: skip
    reasons = [
        {"record": r.index + 1, "line": lines[r.index][0], "reason": r.reason}
        for r in result.reasons
    ]
    return {"accepted": result.accepted, "rejected": result.rejected,
            "reasons": reasons}  # fmt: skip
