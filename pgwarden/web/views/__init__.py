"""The API behind each page of the dashboard: one router per page.

Every figure comes from the function the matching CLI command prints with
``--format json``; a view only reads, shapes and bounds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pgwarden.web.views import (
    alerts,
    capacity,
    fleet,
    governance,
    indexes,
    live,
    load,
    maintenance,
    overview,
    queries,
    session,
    space,
)

if TYPE_CHECKING:
    from fastapi import APIRouter

    from pgwarden.web.context import Context

ROUTERS: tuple[Callable[[Context], APIRouter], ...] = (
    session.router, overview.router, queries.router, live.router, space.router,
    indexes.router, maintenance.router, capacity.router, load.router,
    governance.router, alerts.router, fleet.router,
)  # fmt: skip

__all__ = ["ROUTERS"]
