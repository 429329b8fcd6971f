"""``/api/admin/*`` and ``/metrics``: thin faces over :mod:`pgwarden.observe`."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import psycopg
from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from pgwarden import pg
from pgwarden.alerts import exported
from pgwarden.alerts.gather import gather
from pgwarden.collect import history
from pgwarden.errors import PgwardenError
from pgwarden.observe import performance_metrics, query_history, timeseries
from pgwarden.observe.metrics import top_queries_counted
from pgwarden.observe.model import PerformanceMetrics
from pgwarden.observe.prometheus import (
    CONTENT_TYPE,
    Family,
    families,
    labelled,
    merged,
    render,
)
from pgwarden.web.fleet import target_of
from pgwarden.web.limits import INT64_MAX, INT64_MIN

if TYPE_CHECKING:
    from pgwarden.web.context import Context

logger = logging.getLogger(__name__)
#: a fleet's /metrics: targets read at once, and how long a target's series are kept
SCRAPE_THREADS = 4
SERIES_TTL_S = 15.0
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
    def prometheus(request: Request) -> Response:
        """The metrics in the Prometheus text format 0.0.4, each series labelled
        with its target: every target of the fleet, or the one of ``target``."""
        fleet = request.app.state.fleet
        given = target_of(request.scope["query_string"]) is not None
        one = fleet is None or not fleet.registry or given
        parts = [_exported(ctx, strict=True)] if one else _every(fleet.contexts())
        return Response(
            render(merged(*parts)),
            media_type=CONTENT_TYPE,
            headers={"Cache-Control": "no-store"},
        )

    return routes


def warm(contexts: list[Context]) -> None:
    """Read every target's series once (a server's first scrape then answers
    within a scrape timeout)."""
    _every(contexts)


def _every(contexts: list[Context]) -> list[list[Family]]:
    """Every target's series, read by a few threads, each kept ``SERIES_TTL_S``
    (a scrape of hundreds of targets answers within a scrape timeout)."""

    def one(c: Context) -> list[Family]:
        found: list[Family] = c.reused(
            "metrics.series", lambda: _exported(c, strict=False), SERIES_TTL_S
        )
        return found

    with ThreadPoolExecutor(SCRAPE_THREADS, thread_name_prefix="scrape") as pool:
        return list(pool.map(one, contexts))


def _exported(ctx: Context, *, strict: bool) -> list[Family]:
    """The series of one target; in a fleet's scrape, a target that fails is
    left out (and logged) rather than failing every other's."""
    try:
        found = [*families(_metrics(ctx)), *_rule_families(ctx)]
    except (PgwardenError, psycopg.OperationalError) as exc:
        if strict:
            raise
        logger.warning("target %s left out of /metrics: %s", ctx.target_name, exc)
        return []
    return labelled(found, ctx.target_name)


def _rule_families(ctx: Context) -> list[Family]:
    """The alert rules' inputs: live ones too when the target can be reached
    (without it, or when it cannot be reached, only the collected ones)."""
    now = datetime.now(UTC)
    settings = ctx.settings.alerts
    with ctx.repository() as conn:
        target_id = history.target_id(conn, ctx.target_name)

        def read(target: psycopg.Connection[Any] | None) -> list[Family]:
            facts = gather(conn, target_id, ctx.target_name, now, settings, target)
            return exported.families(facts, settings)

        if not ctx.target_dsn:
            return read(None)
        try:
            live = pg.connect(ctx.target_dsn)
        except PgwardenError as exc:
            logger.warning("live alert inputs unavailable: %s", exc)
            return read(None)
        with live:
            return read(live)
