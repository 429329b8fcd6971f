"""``/api/admin/load``: the data of the dashboard's Load page.

The load runs and elasticity results stored for the target, each exactly as
``pgwarden load run --format json`` or ``pgwarden load elasticity --format json``
printed it, kept in ``pgwarden.report`` (kinds ``load`` and ``elasticity``); the
list figures are read from that document, never recomputed. One report is also
served rendered as the HTML page ``--format html`` writes (``pgwarden.load.html``).
The admin stores a report file through ``POST /reports``, recorded in the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.responses import Response

from pgwarden.load import stored
from pgwarden.web import audit
from pgwarden.web.auth import VIEWER, role_of
from pgwarden.web.limits import INT64_MAX
from pgwarden.web.redact import hide

if TYPE_CHECKING:
    from pgwarden.web.context import Context

NO_TARGET = "no collection yet for this target: run pgwarden collect"


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(prefix="/api/admin/load", tags=["load"])

    @routes.get("/reports")
    def reports(limit: int = Query(50, ge=1, le=200)) -> dict[str, Any]:
        """Stored load runs and elasticity results, newest first, with the figures
        of each run: users or rate, duration, throughput, percentiles, errors and
        the bottleneck."""
        with ctx.repository() as conn:
            target_id = ctx.target_id(conn)
            found = [] if target_id is None else stored.listed(conn, target_id, limit)
        return {"target": ctx.target_name,
                "reports": [_head(r) | stored.figures(r["kind"], r["data"])
                            for r in found]}  # fmt: skip

    @routes.get("/reports/{report_id}")
    def report(report_id: int, request: Request) -> dict[str, Any]:
        """One stored report: its document (without the timeline) and its HTML."""
        row = _stored(ctx, report_id)
        data = _shown(ctx, request, row["data"])
        page = _html(row["kind"], data)
        data.pop("timeline", None)
        return _head(row) | {"report": data, "html": page}

    @routes.get("/reports/{report_id}/html")
    def report_html(report_id: int, request: Request) -> Response:
        """One stored report as the self-contained HTML page, to download."""
        row = _stored(ctx, report_id)
        text = _html(row["kind"], _shown(ctx, request, row["data"]))
        name = f"{row['kind']}-{report_id}.html"
        return Response(
            text,
            media_type="text/html",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Content-Security-Policy": "sandbox",
                "Cache-Control": "no-store",
            },
        )

    @routes.post("/reports", status_code=201)
    def store(
        request: Request, document: Annotated[dict[str, Any], Body()]
    ) -> dict[str, Any]:
        """Store a report file of ``load run`` or ``load elasticity`` (JSON)."""
        kind = _kind_of(document)
        with ctx.repository() as conn:
            target_id = ctx.target_id(conn)
            if target_id is None:
                raise HTTPException(404, NO_TARGET)
            try:
                kept = stored.store(conn, target_id, kind, document)
            except stored.NotAReport as exc:
                raise HTTPException(422, str(exc)) from exc
            audit.record(
                conn,
                target_id,
                role=role_of(request),
                action="load.store",
                outcome="stored",
                subject=f"report {kept}",
                detail={"kind": kind, "summary": stored.summary_line(kind, document)},
            )
        return {"id": kept, "kind": kind}

    return routes


def _stored(ctx: Context, report_id: int) -> dict[str, Any]:
    if not 0 < report_id <= INT64_MAX:
        raise HTTPException(404, f"no load report {report_id}")
    with ctx.repository() as conn:
        target_id = ctx.target_id(conn)
        found = None if target_id is None else stored.one(conn, target_id, report_id)
    if found is None:
        raise HTTPException(404, f"no load report {report_id}")
    return found


def _head(row: dict[str, Any]) -> dict[str, Any]:
    created: datetime = row["created_at"]
    return {
        "id": row["id"],
        "kind": row["kind"],
        "created_at": created.isoformat(),
        "summary": row["summary"],
    }


def _shown(ctx: Context, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """The document as this role may see it (no statement text for a viewer when
    ``dashboard.hide_query_text`` is set, in the HTML too)."""
    hidden = ctx.settings.dashboard.hide_query_text and role_of(request) == VIEWER
    return dict(hide(data) if hidden else data)


def _html(kind: str, data: dict[str, Any]) -> str:
    return stored.render(kind, data)


def _kind_of(document: dict[str, Any]) -> str:
    try:
        return stored.kind_of(document)
    except stored.NotAReport as exc:
        raise HTTPException(422, str(exc)) from exc
