"""``/api/admin/indexes``: the data of the dashboard's Indexes page.

The health findings are ``pgwarden indexes health``'s (:func:`index_health`), read
live with bloat estimated only: pgstattuple never runs on a GET. The advisor
(hypopg, seconds) and the weekly index-health report are served as stored; the
admin runs either now with a POST, stored as ``pgwarden report`` stores them and
recorded in the audit log.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from pgwarden import pg
from pgwarden.advise.health import build, index_health
from pgwarden.advise.health import report as health_report
from pgwarden.advise.queries import report as optimization_report
from pgwarden.repository import targets
from pgwarden.web import audit
from pgwarden.web.auth import role_of
from pgwarden.web.limits import Name

if TYPE_CHECKING:
    from pgwarden.web.context import Context

#: a health result is read again after this long (the Space and Indexes pages
#: share it); until the new one is read, the last one is served
HEALTH_TTL_S = 60.0
HEALTH = "indexes.health"
logger = logging.getLogger(__name__)
NO_TARGET_DSN = "the index health is read live"
ESTIMATED_ONLY = (
    "bloat is estimated here; pgstattuple measures it when the index-health "
    "report is built"
)


class Actor(BaseModel):
    by: Name | None = Field(None, description="Who runs it (in the audit log).")


@dataclass
class _State:
    """What one app keeps between requests: the run lock, the reports' target."""

    running: threading.Lock = field(default_factory=threading.Lock)
    report_target: int | None = None


_STATES: weakref.WeakKeyDictionary[Context, _State] = weakref.WeakKeyDictionary()
_STATES_LOCK = threading.Lock()


def _state(ctx: Context) -> _State:
    with _STATES_LOCK:
        found = _STATES.get(ctx)
        if found is None:
            found = _STATES[ctx] = _State()
        return found


def health_of(ctx: Context) -> Any:
    """``index_health`` of the target, estimates only, read at most every
    ``HEALTH_TTL_S`` seconds (:meth:`Context.reused`)."""
    ctx.live_dsn(NO_TARGET_DSN)
    return ctx.reused(HEALTH, lambda: _read_health(ctx), HEALTH_TTL_S)


def _read_health(ctx: Context) -> Any:
    ih = ctx.settings.index_health.model_copy(update={"confirm_budget_seconds": 0})
    settings = ctx.settings.model_copy(update={"index_health": ih})
    with ctx.target(NO_TARGET_DSN) as target, ctx.repository() as repo:
        return index_health(target, repo, ctx.target_name, settings, datetime.now(UTC))


def _report_target(ctx: Context, conn: psycopg.Connection[Any]) -> int | None:
    """The target id reports are stored under: by identity, as ``pgwarden report``
    stores them (kept once found), else by the dashboard's target name."""
    state = _state(ctx)
    if state.report_target is None and ctx.target_dsn:
        found = targets.resolve_with(ctx.target_dsn, conn, create=False)
        state.report_target = None if found is None else found.id
    return state.report_target or ctx.target_id(conn)


def latest_report(ctx: Context, kind: str) -> dict[str, Any] | None:
    """The newest stored report of ``kind``: id, created_at, summary, data."""
    with ctx.repository() as conn:
        found = _report_target(ctx, conn)
        if found is None:
            return None
        rows = pg.named_rows(
            conn, "web_space", "latest_report", {"target_id": found, "kind": kind},
            feature="stored reports (run pgwarden init)",
        )  # fmt: skip
    return rows[0] if rows else None


def _health_answer(result: Any) -> dict[str, Any]:
    data = build(result)
    return {
        "target": data["target"], "generated_at": result.generated_at.isoformat(),
        "findings": data["findings"], "summary": data["summary"],
        "efficiency": data["efficiency"], "notes": [*data["notes"], ESTIMATED_ONLY],
    }  # fmt: skip


def _advice_answer(row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:
        return {"report_id": None, "generated_at": None, "advice": None}
    data = row["data"]
    return {
        "report_id": row["id"], "generated_at": row["created_at"].isoformat(),
        "summary": row["summary"], "advice": data.get("indexes"),
    }  # fmt: skip


def _report_answer(row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:
        return {"report_id": None, "generated_at": None, "summary": None}
    data = row["data"]
    return {
        "report_id": row["id"], "generated_at": row["created_at"].isoformat(),
        "summary": data.get("summary"), "trend": data.get("trend"),
        "notes": data.get("notes", []),
    }  # fmt: skip


def _run(
    ctx: Context, request: Request, actor: Actor, action: str, generate: Any
) -> int | None:
    """Run a report's ``generate`` (stored), one at a time, audited either way."""
    state = _state(ctx)
    dsn = ctx.live_dsn(NO_TARGET_DSN)
    if not state.running.acquire(blocking=False):
        raise HTTPException(409, "a report is being built already: try again shortly")
    started = time.monotonic()
    outcome, report_id = "failed", None
    detail: dict[str, Any] = {}
    try:
        _, report_id = generate(ctx.settings, dsn, ctx.repo_dsn, save=True)
        outcome = "done"
    except Exception as exc:
        detail = {"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
        raise
    finally:
        state.running.release()
        detail |= {"report_id": report_id,
                   "seconds": round(time.monotonic() - started, 3)}  # fmt: skip
        with ctx.repository() as conn:
            audit.record(
                conn, ctx.target_id(conn), role=role_of(request), action=action,
                outcome=outcome, actor=actor.by, subject=ctx.target_name,
                detail=detail,
            )  # fmt: skip
    return int(report_id) if report_id is not None else None


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(prefix="/api/admin/indexes", tags=["indexes"])

    @routes.get("/health")
    def health() -> dict[str, Any]:
        """The findings of ``pgwarden indexes health`` (bloat estimated only)."""
        return _health_answer(health_of(ctx))

    @routes.get("/advice")
    def advice() -> dict[str, Any]:
        """The latest stored advisor run (``pgwarden indexes advise``'s JSON)."""
        return _advice_answer(latest_report(ctx, optimization_report.KIND))

    @routes.post("/advice/run")
    def run_advice(request: Request, actor: Actor) -> dict[str, Any]:
        """Run the advisor now (``pgwarden report optimization --store``)."""
        _run(ctx, request, actor, "indexes.advise", optimization_report.generate)
        return _advice_answer(latest_report(ctx, optimization_report.KIND))

    @routes.get("/report")
    def report() -> dict[str, Any]:
        """The summary and trend of the latest stored index-health report."""
        return _report_answer(latest_report(ctx, health_report.KIND))

    @routes.get("/report.html", response_class=HTMLResponse)
    def report_html() -> HTMLResponse:
        """The latest stored index-health report, rendered as HTML."""
        row = latest_report(ctx, health_report.KIND)
        if row is None:
            raise HTTPException(404, "no stored index-health report yet")
        return HTMLResponse(health_report.render(dict(row["data"]), "html"))

    @routes.post("/report/run")
    def run_report(request: Request, actor: Actor) -> dict[str, Any]:
        """Build and store the index-health report now (pgstattuple confirms bloat)."""
        _run(ctx, request, actor, "indexes.health-report", health_report.generate)
        ctx.forget(HEALTH)
        return _report_answer(latest_report(ctx, health_report.KIND))

    return routes
