"""``/api/ingest/*``: slow queries and cache counters reported by applications."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from pgwarden.observe.analysis import ratio
from pgwarden.slowlog import ensure_target, ingest_application_reports
from pgwarden.slowlog.severity import Thresholds

if TYPE_CHECKING:
    from pgwarden.web.app import Context

MAX_BODY_BYTES = 4 * 1024 * 1024


class CacheCounters(BaseModel):
    hits: int = Field(ge=0)
    misses: int = Field(ge=0)


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
        ctx.app_cache_ratio = ratio(counters.hits, counters.misses)
        return {"application_cache_hit_ratio": ctx.app_cache_ratio}

    return routes


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
