"""``/api/admin/queries``: the data of the dashboard's Queries pages.

The list is :func:`pgwarden.observe.statements.statement_list` (over the last hour,
the numbers of ``pgwarden queries top --format json``); a statement's page reads
its history, its slow executions and logged plans, and the stored optimisation
report (``pgwarden report optimization --store``): nothing is analysed on a GET.
EXPLAIN is a POST (admin only), planned on the target and recorded in the audit log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg
from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from pgwarden import pg
from pgwarden.collect import history
from pgwarden.collect.statements import StatementText
from pgwarden.errors import PgwardenError
from pgwarden.observe import explain as explaining
from pgwarden.observe import gather
from pgwarden.observe.statements import (
    ListKey,
    query_charts,
    query_points,
    statement_list,
)
from pgwarden.reports import store
from pgwarden.web import audit
from pgwarden.web.api import NO_TARGET, RANGES, Range
from pgwarden.web.auth import ADMIN, role_of
from pgwarden.web.limits import INT64_MAX, INT64_MIN, Name
from pgwarden.web.redact import HIDDEN

if TYPE_CHECKING:
    from pgwarden.web.context import Context

logger = logging.getLogger(__name__)

GROUP = "web_queries"
QueryId = Path(ge=INT64_MIN, le=INT64_MAX, description="pg_stat_statements queryid.")
#: a statement's stddev/mean read from the target is kept this long
SPREAD_TTL_S = 300.0
MAX_KEPT = 1000
#: logged plans shown per statement
PLANS = 5
NO_PLAN = "no plan logged; enable auto_explain (see docs/SLOW_QUERIES.md)"
NO_REPORT = "no stored optimisation report: run pgwarden report optimization --store"
NO_TARGET_DSN = "EXPLAIN runs on the target"
SEARCH_HIDDEN = (
    "statement text is hidden for the viewer role: search needs the admin token"
)
#: evidence of a finding that quotes another statement
QUOTING = frozenset({"parent_query"})
Search = Query("", max_length=200, description="Text the statement holds (any case).")
Caller = Query("", max_length=200, description="Text its caller tag holds.")


class ExplainRequest(BaseModel):
    by: Name = Field(description="Who asks for the plan (recorded in the audit log).")


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(prefix="/api/admin/queries", tags=["queries"])
    refresh = ctx.settings.dashboard.refresh_seconds
    spreads = Recent(SPREAD_TTL_S)

    @routes.get("")
    def statements(
        request: Request,
        range: Range = "1h",
        by: ListKey = "total",
        search: str = Search,
        caller: str = Caller,
        limit: int = Query(50, ge=1, le=500),
        include_own: bool = False,
    ) -> JSONResponse:
        """Statements of the range ending at the last collection, filtered, sorted."""
        if search.strip() and _hidden(ctx, request):
            raise HTTPException(403, SEARCH_HIDDEN)
        with ctx.repository() as conn:
            found = statement_list(
                conn, _known(ctx.target_id(conn)), RANGES[range], by=by,
                search=search, caller=caller, limit=limit, include_own=include_own,
            )  # fmt: skip
        return _json(found.as_dict(), refresh)

    @routes.get("/{queryid}/detail")
    def detail(
        request: Request, queryid: int = QueryId, range: Range = "24h"
    ) -> JSONResponse:
        """History charts, slow executions, logged plans and stored advice."""
        until = datetime.now(UTC)
        since = until - RANGES[range]
        cv, basis = spreads.get(queryid, lambda: _spread(ctx, queryid))
        with ctx.repository() as conn:
            target_id = _known(ctx.target_id(conn))
            found = _detail(conn, target_id, queryid, since, until, cv)
        if found is None:
            raise HTTPException(404, f"no statement {queryid} for this target")
        if _hidden(ctx, request):
            found["advice"] = hide_advice(found["advice"])
        return _json({**found, "p95_basis": basis}, refresh)

    @routes.post("/{queryid}/explain")
    def explain(
        request: Request, body: ExplainRequest, queryid: int = QueryId
    ) -> dict[str, Any]:
        """EXPLAIN (never ANALYZE) the stored text of the statement; audited."""
        role = role_of(request)
        with ctx.repository() as conn:
            target_id = _known(ctx.target_id(conn))
            texts = history.statement_texts(conn, target_id, queryid)
            observed = _observed(conn, target_id, queryid)

            def note(outcome: str, detail: dict[str, Any]) -> None:
                audit.record(conn, target_id, role=role, action="explain",
                             outcome=outcome, actor=body.by, subject=str(queryid),
                             detail=detail)  # fmt: skip

            if role != ADMIN:
                note("refused", {"reason": "viewer"})
                raise HTTPException(403, "EXPLAIN needs the admin token")
            if not texts:
                note("refused", {"reason": "unknown statement"})
                raise HTTPException(404, f"no statement {queryid} for this target")
            return _explain(ctx, queryid, _text(texts), observed, note)

    return routes


class Recent:
    """Values read from the target, kept ``ttl_s`` seconds (at most ``MAX_KEPT``)."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._kept: dict[int, tuple[float, Any]] = {}

    def get(self, key: int, read: Callable[[], Any]) -> Any:
        now = time.monotonic()
        found = self._kept.get(key)
        if found is not None and now - found[0] < self.ttl_s:
            return found[1]
        if len(self._kept) >= MAX_KEPT:
            self._kept.clear()
        value = read()
        self._kept[key] = (now, value)
        return value


def _hidden(ctx: Context, request: Request) -> bool:
    """Whether statement text is hidden from this request's role."""
    return ctx.settings.dashboard.hide_query_text and role_of(request) != ADMIN


def hide_advice(advice: dict[str, Any]) -> dict[str, Any]:
    """Advice without the statement text its fixes and evidence quote."""
    findings = [
        {**f, "fix": HIDDEN,
         "evidence": {k: HIDDEN if k in QUOTING else v
                      for k, v in f.get("evidence", {}).items()}}
        for f in advice["findings"]
    ]  # fmt: skip
    return {**advice, "findings": findings}


def _json(data: dict[str, Any], seconds: int) -> JSONResponse:
    return JSONResponse(data, headers={"Cache-Control": f"private, max-age={seconds}"})


def _known(target_id: int | None) -> int:
    if target_id is None:
        raise HTTPException(404, NO_TARGET)
    return target_id


def _detail(
    conn: psycopg.Connection[Any],
    target_id: int,
    queryid: int,
    since: datetime,
    until: datetime,
    cv: float,
) -> dict[str, Any] | None:
    """As :func:`pgwarden.observe.query_history` reads it, with plans and advice."""
    texts = history.statement_texts(conn, target_id, queryid)
    if not texts:
        return None
    points = query_points(conn, target_id, queryid, since, until)
    window = {"target_id": target_id, "queryid": queryid, "since": since,
              "until": until}  # fmt: skip
    slow = gather.rows(conn, "slow_of_query", **window)
    plans = pg.named_rows(conn, GROUP, "logged_plans", {**window, "limit": PLANS})
    return {
        "queryid": str(queryid),
        "query": _text(texts),
        "since": since.isoformat(),
        "until": until.isoformat(),
        "charts": query_charts(points, cv),
        "slow_executions": [{**r, "ts": r["ts"].isoformat()} for r in slow],
        "plans": [{**r, "ts": r["ts"].isoformat()} for r in plans],
        "plans_note": None if plans else NO_PLAN,
        "advice": _advice(conn, target_id, queryid),
    }


def _text(texts: list[StatementText]) -> str:
    """The top-level text first: a nested one may be pgwarden's own EXPLAIN of it."""
    return str(sorted(texts, key=lambda t: not t.toplevel)[0].query)


def _advice(
    conn: psycopg.Connection[Any], target_id: int, queryid: int
) -> dict[str, Any]:
    """The findings and index recommendations of the last stored report about it."""
    report = store.previous(conn, target_id, "optimization", datetime.now(UTC))
    if report is None:
        return {"generated_at": None, "findings": [], "indexes": [], "note": NO_REPORT}
    key = str(queryid)
    findings = [f for f in report.get("findings", []) if f.get("queryid") == key]
    indexes = [
        r for r in (report.get("indexes") or {}).get("recommendations", [])
        if any(q.get("queryid") == key for q in r.get("affected_queries", []))
    ]  # fmt: skip
    return {"generated_at": report.get("generated_at"), "findings": findings,
            "indexes": indexes, "note": None}  # fmt: skip


def _spread(ctx: Context, queryid: int) -> tuple[float, dict[str, Any]]:
    """stddev/mean of the statement from the target, else the assumed one."""
    assumed = ctx.settings.reviews.latency_cv
    if ctx.target_dsn:
        try:
            with pg.connect(ctx.target_dsn, statement_timeout_ms=1000) as target:
                rows = pg.named_rows(target, GROUP, "spread", {"queryid": queryid})
            if rows and rows[0]["cv"] is not None:
                cv = float(rows[0]["cv"])
                return cv, {"cv": cv, "source": "pg_stat_statements"}
        except (PgwardenError, psycopg.Error) as exc:
            logger.info("statement spread not read: %s", exc)
    return assumed, {"cv": assumed, "source": "assumed (reviews.latency_cv)"}


def _observed(
    conn: psycopg.Connection[Any], target_id: int, queryid: int
) -> dict[str, str]:
    rows = pg.named_rows(
        conn, GROUP, "observed_values", {"target_id": target_id, "queryid": queryid}
    )
    return {str(r["attname"]): str(r["value"]) for r in rows}


def _explain(
    ctx: Context, queryid: int, text: str, observed: dict[str, str], note: Any
) -> dict[str, Any]:
    if not ctx.target_dsn:
        note("failed", {"reason": "no target address"})
    dsn = ctx.live_dsn(NO_TARGET_DSN)
    timeout = ctx.settings.statement_timeout_ms
    try:
        target = pg.connect(dsn, statement_timeout_ms=timeout)
    except PgwardenError as exc:
        note("failed", {"reason": str(exc)})
        raise
    try:
        with target:
            found = explaining.explain(target, text, observed)
    except explaining.NotExplainable as exc:
        note("refused", {"reason": str(exc)})
        raise HTTPException(422, f"not explained: {exc}") from exc
    except explaining.NeedsValues as exc:
        note("refused", {"reason": str(exc)})
        raise HTTPException(409, str(exc)) from exc
    except (PgwardenError, psycopg.Error) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        note("failed", {"reason": reason})
        raise HTTPException(422, f"could not plan the statement: {reason}") from exc
    note("ok", {"method": found.method})
    return {"queryid": str(queryid), "method": found.method, "plan": found.plan,
            "statement_timeout_ms": timeout}  # fmt: skip
