"""``/api/admin/alert-stats``: the Alerts page's statistics.

The alerts themselves, their history and the silences are served by
:mod:`pgwarden.web.alerts_api` (``/api/admin/alerts``); this adds what
``pgwarden alerts stats --format json`` prints: per severity (and ``all``) the
count, the mean and p50/p90 times to acknowledge and to resolve, and the share
acknowledged within ``slo.time_to_ack_minutes``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query, Response

from pgwarden.alerts import store
from pgwarden.alerts.stats import summarise
from pgwarden.web.alerts_api import MAX_SINCE_HOURS

if TYPE_CHECKING:
    from pgwarden.web.context import Context

#: the CLI's default window (``--since 30d``)
DEFAULT_SINCE_HOURS = 30 * 24


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(prefix="/api/admin/alert-stats", tags=["alerts"])

    @routes.get("")
    def stats(
        response: Response,
        since_hours: float = Query(
            DEFAULT_SINCE_HOURS, gt=0, le=MAX_SINCE_HOURS, allow_inf_nan=False,
            description="Alerts fired within this many hours.",
        ),
    ) -> dict[str, Any]:  # fmt: skip
        """Count, MTTA, MTTR and p50/p90 by severity of the alerts fired since."""
        response.headers["Cache-Control"] = "no-store"
        until = datetime.now(UTC)
        since = until - timedelta(hours=since_hours)
        ack_minutes = ctx.settings.slo.time_to_ack_minutes
        with ctx.repository() as conn:
            rows = store.fired_since(conn, since)
        found = summarise(rows, timedelta(minutes=ack_minutes))
        return {
            "since": since.isoformat(), "until": until.isoformat(),
            "ack_target_minutes": ack_minutes,
            "by_severity": [s.as_dict() for s in found],
        }  # fmt: skip

    return routes
