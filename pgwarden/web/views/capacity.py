"""``/api/admin/capacity``: the data of the dashboard's Capacity page.

The baseline is :func:`pgwarden.plan.build_baseline` over
:func:`pgwarden.plan.inputs` (``pgwarden capacity baseline``), the projection
:func:`pgwarden.plan.project_capacity` under the same assumptions as ``capacity
project``, the spreadsheet :mod:`pgwarden.plan.xlsx` (``capacity project --xlsx``).
The baseline reads the target's largest tables, so an app computes it at most once
a minute; every answer says when it was computed (``generated_at``).
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Query, Response

from pgwarden.plan import (
    Assumptions,
    Baseline,
    NoGrowthEvidence,
    NoHistory,
    Projection,
    build_baseline,
    inputs,
    project_capacity,
    target_of,
    xlsx,
)

if TYPE_CHECKING:
    from pgwarden.web.context import Context


#: seconds a computed baseline is served before it is computed again
KEEP_S = 60.0
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NO_DSN = "capacity reads the target"
Months = Query(None, max_length=100, description="Horizons in months, e.g. 6,12.")
UsersX = Query(None, gt=0, le=1_000_000, description="Users multiplier, e.g. 10.")


def baseline_of(ctx: Context) -> Baseline:
    """``pgwarden capacity baseline`` of the target, read at most once per
    ``KEEP_S`` seconds (served stale meanwhile); 503 without the target's DSN, 404
    without collected history."""
    found: Baseline = ctx.reused("capacity.baseline", lambda: _baseline(ctx), KEEP_S)
    return found


def _baseline(ctx: Context) -> Baseline:
    cap, name = ctx.settings.capacity, ctx.target_name
    try:
        with ctx.target(NO_DSN) as target, ctx.repository() as repo:
            found = target_of(repo, name)
            gathered = inputs(repo, target, found, name, datetime.now(UTC), cap)
    except NoHistory as exc:
        raise HTTPException(404, str(exc)) from exc
    return build_baseline(gathered, cap)


def assumptions(ctx: Context, months: str | None, users_x: float | None) -> Assumptions:
    """The assumptions ``capacity project`` takes from its options and settings."""
    try:
        return Assumptions.of(ctx.settings, months, users_x)
    except ValueError as exc:
        raise HTTPException(422, f"months: {exc}") from exc


def baseline_answer(b: Baseline) -> dict[str, Any]:
    """``capacity baseline --format json`` plus the daily sizes behind its trend."""
    daily = [{"day": day.isoformat(), "size_bytes": size} for day, size in b.daily]
    found: dict[str, Any] = b.as_dict()
    return found | {"daily": daily, "keep_seconds": KEEP_S}


def filename(target: str) -> str:
    return "pgwarden-capacity-" + re.sub(r"[^A-Za-z0-9._-]+", "-", target) + ".xlsx"


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(prefix="/api/admin/capacity", tags=["capacity"])

    def projection(months: str | None, users_x: float | None) -> Projection:
        chosen = assumptions(ctx, months, users_x)
        try:
            return project_capacity(baseline_of(ctx), chosen, None)
        except NoGrowthEvidence as exc:
            raise HTTPException(404, str(exc)) from exc

    @routes.get("/baseline")
    def baseline() -> dict[str, Any]:
        """Size and growth, peak rate, connections, memory, storage, per table."""
        return baseline_answer(baseline_of(ctx))

    @routes.get("/projection")
    def project(
        months: str | None = Months, users_x: float | None = UsersX
    ) -> dict[str, Any]:
        """Sizes at the horizons and at more users; pool, memory, threshold dates."""
        found = projection(months, users_x)
        answer: dict[str, Any] = found.as_dict()
        return answer | {"generated_at": found.baseline.generated_at.isoformat()}

    @routes.get("/spreadsheet")
    def spreadsheet(
        months: str | None = Months, users_x: float | None = UsersX
    ) -> Response:
        """The spreadsheet model ``capacity project --xlsx`` writes."""
        book = xlsx.workbook(projection(months, users_x))
        data = io.BytesIO()
        book.save(data)
        disposition = f'attachment; filename="{filename(ctx.target_name)}"'
        return Response(
            data.getvalue(),
            media_type=XLSX,
            headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
        )

    return routes
