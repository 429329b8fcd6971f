"""``/api/admin/*`` and ``/metrics``: thin faces over :mod:`pgwarden.observe`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response
from fastapi.responses import JSONResponse

from pgwarden.observe import performance_metrics, query_history, timeseries
from pgwarden.observe.metrics import top_queries_counted
from pgwarden.observe.model import PerformanceMetrics
from pgwarden.observe.prometheus import CONTENT_TYPE, exposition
from pgwarden.web import alerts_api
from pgwarden.web.limits import INT64_MAX, INT64_MIN

if TYPE_CHECKING:
    from pgwarden.web.context import Context

Range = Literal["1h", "6h", "24h", "7d"]
RANGES: dict[str, timedelta] = {
    "1h": timedelta(hours=1), "6h": timedelta(hours=6),
    "24h": timedelta(hours=24), "7d": timedelta(days=7),
}  # fmt: skip
NO_TARGET = "no history for this target yet: run pgwarden collect"
#: how many of pgwarden's own statements a top-query list left out
EXCLUDED_HEADER = "X-Pgwarden-Own-Statements-Excluded"
IncludeOwn = Query(
    False, description="Count pgwarden's own statements as workload too."
)
QueryId = Path(ge=INT64_MIN, le=INT64_MAX, description="pg_stat_statements queryid.")


def _cache(response: Response, seconds: int) -> None:
    response.headers["Cache-Control"] = f"private, max-age={seconds}"


def _json(data: dict[str, Any], seconds: int) -> JSONResponse:
    """``data`` (plain JSON types already) as it is: FastAPI's encoder would walk
    every value again (the 24 h charts hold some 20,000 numbers)."""
    return JSONResponse(data, headers={"Cache-Control": f"private, max-age={seconds}"})


def _window(range_: str) -> tuple[datetime, datetime]:
    until = datetime.now(UTC)
    return until - RANGES[range_], until


def _metrics(ctx: Context, include_own: bool = False) -> PerformanceMetrics:
    """``ctx.metrics`` with the app's cache of finished hours (the same numbers)."""
    with ctx.repository() as conn:
        found = performance_metrics(
            conn, ctx.target_id(conn), datetime.now(UTC), ctx.settings,
            target_name=ctx.target_name, target_dsn=ctx.target_dsn,
            app_cache_ratio=ctx.app_cache_ratio, include_own=include_own,
            cache=ctx.hours,
        )  # fmt: skip
    if found.source != "none" or not ctx.target_dsn:
        return found
    return ctx.metrics(include_own=include_own)  # a live read of the target


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(prefix="/api/admin", tags=["admin"])
    refresh = ctx.settings.dashboard.refresh_seconds

    @routes.get("/performance-metrics", response_class=JSONResponse)
    def performance(include_own: bool = IncludeOwn) -> JSONResponse:
        """The metrics of the last collected interval (same numbers as the CLI)."""
        return _json(_metrics(ctx, include_own).as_dict(), refresh)

    @routes.get("/timeseries", response_class=JSONResponse)
    def charts(range: Range = "1h", include_own: bool = IncludeOwn) -> JSONResponse:
        """Every chart of the dashboard over the chosen range."""
        with ctx.repository() as conn:
            target_id = _known(ctx.target_id(conn))
            since, until = _window(range)
            found = timeseries(
                conn, target_id, since, until, include_own=include_own,
                cache=ctx.hours,
            )  # fmt: skip
        return _json(found, refresh)

    @routes.get("/queries/{queryid}")
    def one_query(
        response: Response, queryid: int = QueryId, range: Range = "24h"
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
        include_own: bool = IncludeOwn,
    ) -> list[dict[str, Any]]:
        """Top statements of the last hour of history.

        The header ``X-Pgwarden-Own-Statements-Excluded`` says how many of
        pgwarden's own statements were left out.
        """
        _cache(response, refresh)
        with ctx.repository() as conn:
            target_id = _known(ctx.target_id(conn))
            found, left_out = top_queries_counted(
                conn, target_id, by, limit, include_own
            )
        response.headers[EXCLUDED_HEADER] = str(left_out)
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
            exposition(_metrics(ctx)) + alerts_api.rule_inputs_text(ctx),
            media_type=CONTENT_TYPE,
            headers={"Cache-Control": "no-store"},
        )

    return routes
