"""The FastAPI app: admin API, slow query ingest, /metrics and the dashboard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from pgwarden.config import Settings
from pgwarden.errors import PgwardenError
from pgwarden.web import alerts_api, api, ingest
from pgwarden.web.auth import TokenGuard
from pgwarden.web.context import Context


def static_dir() -> Path:
    return Path(str(resources.files("pgwarden.web").joinpath("static")))


def create_app(
    settings: Settings,
    repo_dsn: str,
    target_name: str,
    token: str,
    *,
    target_dsn: str | None = None,
    anonymous_metrics: bool | None = None,
) -> FastAPI:
    """The dashboard and API of one target; ``token`` guards every admin resource.

    ``/metrics`` needs the token too unless ``anonymous_metrics`` is set (default:
    the ``dashboard.anonymous_metrics`` setting).
    ``target_dsn`` enables a live read while no interval has been collected.
    """
    ctx = Context(settings, repo_dsn, target_name, target_dsn)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        ctx.close()

    app = FastAPI(
        title="pgwarden", version=_version(), docs_url="/docs", lifespan=lifespan
    )
    guard = Depends(TokenGuard(token))
    app.state.context = ctx
    app.include_router(api.router(ctx), dependencies=[guard])
    app.include_router(ingest.router(ctx), dependencies=[guard])
    app.include_router(alerts_api.router(ctx), dependencies=[guard])
    if anonymous_metrics is None:
        anonymous_metrics = settings.dashboard.anonymous_metrics
    app.include_router(api.metrics_router(ctx), dependencies=_deps(
        guard, anonymous_metrics))  # fmt: skip
    app.add_exception_handler(PgwardenError, _unavailable)
    app.mount("/static", StaticFiles(directory=static_dir()), name="static")
    app.add_api_route("/", _index, include_in_schema=False)
    return app


def _deps(guard: Any, anonymous: bool) -> list[Any]:
    return [] if anonymous else [guard]


def _version() -> str:
    from pgwarden import __version__

    return __version__


def _index() -> FileResponse:
    return FileResponse(
        static_dir() / "index.html", headers={"Cache-Control": "no-cache"}
    )


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": str(exc)}, status_code=503, headers={"Cache-Control": "no-store"}
    )
