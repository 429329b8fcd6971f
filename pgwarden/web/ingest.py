"""``/api/ingest/*``: slow queries, pool and cache counters reported by applications.

Pool and cache reports are kept in the repository (latest per ``source``), where the
``connection_utilisation`` rule reads them; see :mod:`pgwarden.alerts.app_reports`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from pgwarden.alerts import app_reports
from pgwarden.observe.analysis import ratio
from pgwarden.slowlog import ensure_target, ingest_application_reports
from pgwarden.slowlog.severity import Thresholds

if TYPE_CHECKING:
    from pgwarden.web.context import Context

MAX_BODY_BYTES = 4 * 1024 * 1024


SOURCE = Field(
    app_reports.DEFAULT_SOURCE, min_length=1, max_length=100,
    description="The application or pool reporting (label pool= of its alerts).",
)  # fmt: skip


class CacheCounters(BaseModel):
    hits: int = Field(ge=0)
    misses: int = Field(ge=0)
    source: str = SOURCE


class AppMetrics(BaseModel):
    """A connection pool's state and, optionally, the application cache's counters."""

    pool_size: int = Field(ge=0, description="Connections the pool may hold (max).")
    in_use: int = Field(ge=0, description="Connections lent out right now.")
    waiting: int = Field(0, ge=0, description="Requests waiting for a connection.")
    cache_hits: int | None = Field(None, ge=0)
    cache_misses: int | None = Field(None, ge=0)
    source: str = SOURCE


def parse_lines(body: bytes) -> tuple[list[Any], dict[int, str]]:
    """One JSON value per non-empty line, and why undecodable lines were refused."""
    records: list[Any] = []
    bad: dict[int, str] = {}
    lines = body.decode("utf-8", errors="replace").splitlines()
    for line in (line for line in lines if line.strip()):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            bad[len(records)] = f"not JSON: {exc.msg}"
            records.append(None)
    return records, bad


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(prefix="/api/ingest", tags=["ingest"])

    @routes.post("/slow-queries")
    async def slow_queries(request: Request) -> dict[str, Any]:
        """Slow queries as JSON lines: ``{"ts","query","duration_ms","caller",...}``."""
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(413, f"at most {MAX_BODY_BYTES} bytes per request")
        return await run_in_threadpool(_store, ctx, *parse_lines(body))

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
        """Pool size, connections in use and waiting (and cache counters if given)."""
        now = datetime.now(UTC)
        with ctx.repository() as conn, conn.transaction():
            target_id = ensure_target(conn, ctx.target_name)
            app_reports.record_pool(
                conn, target_id, report.source, report.pool_size, report.in_use,
                report.waiting, now,
            )  # fmt: skip
            if report.cache_hits is not None and report.cache_misses is not None:
                _cache(ctx, conn, target_id, report.source, report.cache_hits,
                       report.cache_misses, now)  # fmt: skip
        pool = app_reports.pool_utilisation(report.in_use, report.pool_size)
        return {"source": report.source, "pool_utilisation": pool,
                "application_cache_hit_ratio": ctx.app_cache_ratio}  # fmt: skip

    return routes


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


def _store(ctx: Context, records: list[Any], bad: dict[int, str]) -> dict[str, Any]:
    thresholds = Thresholds.from_settings(ctx.settings.slow_queries)
    with ctx.repository() as conn:
        target_id = ensure_target(conn, ctx.target_name)
        result = ingest_application_reports(
            conn, target_id, records, thresholds=thresholds
        )
    reasons = [
        {"record": r.index + 1, "reason": bad.get(r.index, r.reason)}
        for r in result.reasons
    ]
    return {"accepted": result.accepted, "rejected": result.rejected,
            "reasons": reasons}  # fmt: skip
