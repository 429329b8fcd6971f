"""``/api/admin/fleet``: every target of the dashboard, one row each.

Each figure is the one the target's own Overview shows (``pgwarden --target NAME
metrics --format json``): :func:`pgwarden.observe.performance_metrics` over the
target's history, and its firing alerts from the alert store. The rows are read
at most once per refresh interval for the whole fleet and served meanwhile, so
the page answers at once with hundreds of targets; each answer says when its rows
were read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query, Request, Response

from pgwarden.alerts import store
from pgwarden.observe import performance_metrics
from pgwarden.web.fleet import Fleet, Member

if TYPE_CHECKING:
    import psycopg

    from pgwarden.web.context import Context

ROWS = "fleet.rows"
Group = Query(
    None, min_length=1, max_length=200, description="Only the targets of this group."
)


@dataclass(frozen=True)
class Rows:
    read_at: datetime
    rows: list[dict[str, Any]]


def fleet_of(request: Request, ctx: Context) -> Fleet:
    found = getattr(request.app.state, "fleet", None)
    return found if isinstance(found, Fleet) else Fleet(ctx, registry=False)


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(prefix="/api/admin/fleet", tags=["fleet"])
    refresh = ctx.settings.dashboard.refresh_seconds

    @routes.get("/targets")
    def targets(request: Request, response: Response) -> dict[str, Any]:
        """The targets this dashboard serves (for the switcher), by name."""
        response.headers["Cache-Control"] = "no-store"
        fleet = fleet_of(request, ctx)
        served = sorted(fleet.members(), key=lambda m: m.name)
        return {
            "default": fleet.default,
            "current": ctx.target_name,
            "targets": [{"name": m.name, "group": m.group} for m in served],
        }

    @routes.get("")
    def fleet_rows(
        request: Request, response: Response, group: str | None = Group
    ) -> dict[str, Any]:
        """One row per target: throughput, latency, cache hit, slow queries,
        firing alerts, last collection and status."""
        response.headers["Cache-Control"] = f"private, max-age={refresh}"
        fleet = fleet_of(request, ctx)
        found = rows_of(fleet)
        rows = [r for r in found.rows if group is None or r["group"] == group]
        groups = sorted({r["group"] for r in found.rows if r["group"] is not None})
        return {
            "generated_at": found.read_at.isoformat(),
            "default": fleet.default,
            "groups": groups,
            "targets": rows,
        }

    return routes


def rows_of(fleet: Fleet) -> Rows:
    """Every target's row, read at most once per refresh (served meanwhile)."""
    refresh = fleet.ctx.settings.dashboard.refresh_seconds
    found: Rows = fleet.ctx.reused(ROWS, lambda: read(fleet), refresh)
    return found


def read(fleet: Fleet) -> Rows:
    """Every target's row, read now."""
    now = datetime.now(UTC)
    served = fleet.members()
    with fleet.ctx.repository() as conn:
        rows = [_row(conn, fleet.ctx, m, now) for m in served]
    return Rows(now, rows)


def _row(
    conn: psycopg.Connection[Any], ctx: Context, m: Member, now: datetime
) -> dict[str, Any]:
    metrics = performance_metrics(conn, m.id, now, ctx.settings, target_name=m.name)
    firing = (
        0
        if m.id is None
        else sum(a.state == "firing" for a in store.open_alerts(conn, m.id, m.name))
    )
    reg = m.registration
    status, reason = _status(m)
    return {
        "name": m.name,
        "group": m.group,
        "address": m.address,
        "registered": reg is not None,
        "queries_per_second": metrics.queries_per_second,
        "mean_latency_ms": metrics.mean_latency_ms,
        "cache_hit_ratio": metrics.cache_hit_ratio.database,
        "slow_queries_per_minute": metrics.slow_queries_per_minute.total,
        "firing_alerts": firing,
        "interval_end": _iso(metrics.interval_end),
        "last_collected_at": _iso(m.last_collected_at),
        "status": status,
        "status_reason": reason,
        "status_at": _iso(None if reg is None else reg.status_at),
    }


def _status(m: Member) -> tuple[str | None, str | None]:
    """paused, failing (with the reason), ok, new (no cycle yet), or None for a
    target no worker serves (history only)."""
    reg = m.registration
    if reg is None:
        return None, None
    if reg.paused:
        return "paused", None
    if reg.status == "failing":
        return "failing", reg.status_reason or "unknown reason"
    return reg.status or "new", None


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
