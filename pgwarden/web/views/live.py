"""``/api/admin/live``: the data of the dashboard's Live page.

``GET`` reads the target now through :func:`pgwarden.observe.activity.read_activity`,
what ``pgwarden activity --format json`` prints. Cancel and terminate are ``POST``
(the viewer token is refused them before the body is read), go through
:func:`pgwarden.observe.signal.signal`, and are recorded in the audit log whatever
comes of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg
from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field

from pgwarden import pg
from pgwarden.errors import PgwardenError
from pgwarden.observe.activity import read_activity
from pgwarden.observe.signal import Action, Signalled, signal
from pgwarden.web import audit
from pgwarden.web.auth import role_of
from pgwarden.web.limits import INT32_MAX, Name

if TYPE_CHECKING:
    from pgwarden.web.context import Context

NO_TARGET = "live activity is read from the target"
#: the audit actions this page shows
ACTIONS = ("cancel", "terminate")
Pid = Path(ge=1, le=INT32_MAX, description="The backend's process id.")
#: the HTTP status of each outcome but ok
STATUS = {"missing": 404, "refused": 409, "failed": 409}


class SignalRequest(BaseModel):
    by: Name = Field(description="Who cancels or terminates.")
    backend_start: AwareDatetime | None = Field(
        None, description="The session's start as shown: refused if the pid's differs."
    )
    query_start: AwareDatetime | None = Field(
        None, description="The statement's start as shown: a cancel is refused if "
        "the session has started another one since.",
    )  # fmt: skip


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(prefix="/api/admin/live", tags=["live"])

    @routes.get("")
    def live(response: Response) -> dict[str, Any]:
        """Sessions, blocking tree, long transactions, xmin holders, replication."""
        response.headers["Cache-Control"] = "no-store"
        limit_s = ctx.settings.alerts.long_transaction_minutes * 60
        with ctx.target(NO_TARGET) as conn:
            return read_activity(conn, limit_s).as_dict()

    @routes.get("/audit")
    def recent_actions(
        response: Response, limit: int = Query(20, ge=1, le=200)
    ) -> list[dict[str, Any]]:
        """The newest cancel and terminate entries of the audit log."""
        response.headers["Cache-Control"] = "no-store"
        with ctx.repository() as conn:
            found = audit.recent(conn, ctx.target_id(conn), limit=500)
        return [entry for entry in found if entry["action"] in ACTIONS][:limit]

    def act(request: Request, pid: int, action: Action, body: SignalRequest) -> Any:
        try:
            done = _signal(ctx.live_dsn(NO_TARGET), ctx, pid, action, body)
        except (HTTPException, PgwardenError, psycopg.Error) as exc:
            reason = exc.detail if isinstance(exc, HTTPException) else str(exc)
            _record(ctx, request, body, Signalled(action, pid, "failed", reason, {}))
            raise
        entry = _record(ctx, request, body, done)
        if done.outcome != "ok":
            raise HTTPException(STATUS[done.outcome], done.reason)
        return {**done.as_dict(), "audit_id": entry["id"]}

    @routes.post("/{pid}/cancel")
    def cancel(request: Request, body: SignalRequest, pid: int = Pid) -> Any:
        """Cancel the backend's statement (pg_cancel_backend); audited."""
        return act(request, pid, "cancel", body)

    @routes.post("/{pid}/terminate")
    def terminate(request: Request, body: SignalRequest, pid: int = Pid) -> Any:
        """End the backend's session (pg_terminate_backend); audited."""
        return act(request, pid, "terminate", body)

    return routes


def _signal(
    dsn: str, ctx: Context, pid: int, action: Action, body: SignalRequest
) -> Signalled:
    with pg.connect(
        dsn, statement_timeout_ms=ctx.settings.statement_timeout_ms
    ) as conn:
        return signal(
            conn, pid, action,
            backend_start=body.backend_start, query_start=body.query_start,
        )  # fmt: skip


def _record(
    ctx: Context, request: Request, body: SignalRequest, done: Signalled
) -> dict[str, Any]:
    outcome = "refused" if done.outcome == "missing" else done.outcome
    with ctx.repository() as conn:
        return audit.record(
            conn, ctx.target_id(conn), role=role_of(request), action=done.action,
            outcome=outcome, actor=body.by, subject=str(done.pid),
            detail={**done.facts, "reason": done.reason},
        )  # fmt: skip
