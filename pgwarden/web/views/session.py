"""``/api/admin/session``: who the token is, and what the dashboard may show it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request

from pgwarden.web.auth import ADMIN, role_of
from pgwarden.web.pages import PAGES

if TYPE_CHECKING:
    from pgwarden.web.context import Context


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(prefix="/api/admin", tags=["session"])
    dashboard = ctx.settings.dashboard

    @routes.get("/session")
    def session(request: Request) -> dict[str, Any]:
        """The role of the token (admin or viewer), the target and the pages."""
        role = role_of(request)
        return {
            "role": role,
            "admin": role == ADMIN,
            "target": ctx.target_name,
            "hide_query_text": role != ADMIN and dashboard.hide_query_text,
            "refresh_seconds": dashboard.refresh_seconds,
            "pages": [{"path": path, "title": title} for path, title in PAGES],
        }

    return routes
