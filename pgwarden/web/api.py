"""``/api/admin/*`` and ``/metrics``: thin faces over :mod:`pgwarden.observe`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response

from pgwarden.observe import query_history, timeseries, top_queries
from pgwarden.observe.prometheus import CONTENT_TYPE, exposition

if TYPE_CHECKING:
    from pgwarden.web.app import Context

Range = Literal["1h", "6h", "24h", "7d"]
RANGES: dict[str, timedelta] = {
    "1h": timedelta(hours=1), "6h": timedelta(hours=6),
    "24h": timedelta(hours=24), "7d": timedelta(days=7),
}  # fmt: skip
NO_TARGET = "no history for this target yet: run pgwarden collect"


def _cache(response: Response, seconds: int) -> None:
    response.headers["Cache-Control"] = f"private, max-age={seconds}"


def _window(range_: str) -> tuple[datetime, datetime]:
    until = datetime.now(UTC)
    return until - RANGES[range_], until


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(prefix="/api/admin", tags=["admin"])
    refresh = ctx.settings.dashboard.refresh_seconds

    @routes.get("/performance-metrics")
    def performance(response: Response) -> dict[str, Any]:
        """The metrics of the last collected interval (same numbers as the CLI)."""
        _cache(response, refresh)
        return ctx.metrics().as_dict()

    @routes.get("/timeseries")
    def charts(response: Response, range: Range = "1h") -> dict[str, Any]:
        """Every chart of the dashboard over the chosen range."""
        _cache(response, refresh)
        with ctx.repository() as conn:
            target_id = _known(ctx.target_id(conn))
            return timeseries(conn, target_id, *_window(range))

    @routes.get("/queries/{queryid}")
    def one_query(
        response: Response, queryid: int, range: Range = "24h"
    ) -> dict[str, Any]:
        """One statement's text, per-interval samples and slow executions."""
        _cache(response, refresh)
        with ctx.repository() as conn:
            target_id = _known(ctx.target_id(conn))
            found = query_history(conn, target_id, queryid, *_window(range))
        if found is None:
            raise HTTPException(404, f"no statement {queryid} for this target")
        return found

    @routes.get("/top-queries")
    def top(
        response: Response,
        by: Literal["total", "mean", "calls"] = "total",
        limit: int = Query(10, ge=1, le=100),
    ) -> list[dict[str, Any]]:
        """Top statements of the last hour of history."""
        _cache(response, refresh)
        with ctx.repository() as conn:
            found = top_queries(conn, _known(ctx.target_id(conn)), by, limit)
        return [{**q.__dict__, "queryid": str(q.queryid)} for q in found]

    return routes


def _known(target_id: int | None) -> int:
    if target_id is None:
        raise HTTPException(404, NO_TARGET)
    return target_id


def metrics_router(ctx: Context) -> APIRouter:
    routes = APIRouter(tags=["prometheus"])

    @routes.get("/metrics", response_class=Response)
    def prometheus() -> Response:
        """The metrics in the Prometheus text format 0.0.4."""
        return Response(
            exposition(ctx.metrics()),
            media_type=CONTENT_TYPE,
            headers={"Cache-Control": "no-store"},
        )

    return routes
