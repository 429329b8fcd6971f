"""``/api/admin/alerts``: list, show, acknowledge, resolve, silence.

Mount with the admin token guard, like every admin router::

    app.include_router(alerts_api.router(ctx), dependencies=[guard])
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import BaseModel, Field

from pgwarden.alerts import store
from pgwarden.alerts.mute import Silence
from pgwarden.web.limits import INT64_MAX, MAX_LABELS, Comment, LabelValue, Name

if TYPE_CHECKING:
    from pgwarden.web.context import Context

logger = logging.getLogger(__name__)

StateFilter = Literal["open", "pending", "firing", "acknowledged", "resolved", "all"]
#: how far back alerts are listed: ten years
MAX_SINCE_HOURS = 24 * 366 * 10
AlertId = Path(ge=1, le=INT64_MAX, description="The alert's id.")


class Actor(BaseModel):
    by: Name = Field(description="Who acknowledges or resolves.")


class SilenceRequest(BaseModel):
    comment: Comment = Field(description="Why the alerts are silenced.")
    created_by: Name
    minutes: float = Field(
        gt=0, le=60 * 24 * 30, allow_inf_nan=False, description="How long."
    )
    rule: Name | None = None
    labels: dict[Name, LabelValue] = Field(default_factory=dict, max_length=MAX_LABELS)


def _no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(prefix="/api/admin/alerts", tags=["alerts"])

    @routes.get("")
    def list_alerts(
        response: Response,
        state: StateFilter = "open",
        since_hours: float = Query(168, gt=0, le=MAX_SINCE_HOURS, allow_inf_nan=False),
        limit: int = Query(100, ge=1, le=1000),
    ) -> list[dict[str, Any]]:
        """Alerts seen within ``since_hours``, newest first."""
        _no_store(response)
        since = datetime.now(UTC) - timedelta(hours=since_hours)
        with ctx.repository() as conn:
            found = store.list_alerts(
                conn, None if state == "all" else state, since, limit
            )
        return [a.as_dict() for a in found]

    @routes.get("/silences")
    def silences(response: Response) -> list[dict[str, Any]]:
        """Silences not yet expired."""
        _no_store(response)
        with ctx.repository() as conn:
            found = store.silences(conn, datetime.now(UTC))
        return [_silence(s) for s in found]

    @routes.post("/silences", status_code=201)
    def add_silence(body: SilenceRequest) -> dict[str, Any]:
        """Silence matching alerts for ``minutes``, with a comment."""
        now = datetime.now(UTC)
        wanted = Silence(
            now, now + timedelta(minutes=body.minutes), body.comment,
            body.created_by, body.rule, body.labels,
        )  # fmt: skip
        with ctx.repository() as conn:
            return _silence(store.add_silence(conn, wanted))

    @routes.get("/{alert_id}")
    def show(response: Response, alert_id: int = AlertId) -> dict[str, Any]:
        """One alert and its deliveries."""
        _no_store(response)
        with ctx.repository() as conn:
            alert = store.get(conn, alert_id)
            if alert is None:
                raise HTTPException(404, f"no alert {alert_id}")
            sent = store.notifications(conn, alert_id)
        return {**alert.as_dict(), "deliveries": [_plain(d) for d in sent]}

    @routes.post("/{alert_id}/ack")
    def ack(body: Actor, alert_id: int = AlertId) -> dict[str, Any]:
        """Acknowledge: stops repeats and escalation."""
        return _change(ctx, alert_id, body.by, store.ack)

    @routes.post("/{alert_id}/resolve")
    def resolve(body: Actor, alert_id: int = AlertId) -> dict[str, Any]:
        """Resolve by hand."""
        return _change(ctx, alert_id, body.by, store.resolve)

    return routes


def _change(ctx: Context, alert_id: int, by: str, act: Any) -> dict[str, Any]:
    with ctx.repository() as conn:
        if store.get(conn, alert_id) is None:
            raise HTTPException(404, f"no alert {alert_id}")
        if not act(conn, alert_id, by, datetime.now(UTC)):
            raise HTTPException(409, f"alert {alert_id} cannot change in its state")
        alert = store.get(conn, alert_id)
    assert alert is not None
    return alert.as_dict()


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def _silence(s: Silence) -> dict[str, Any]:
    return {
        "id": s.id, "rule": s.rule, "labels": dict(s.labels),
        "starts_at": s.starts_at.isoformat(), "ends_at": s.ends_at.isoformat(),
        "comment": s.comment, "created_by": s.created_by,
    }  # fmt: skip
