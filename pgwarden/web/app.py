"""The FastAPI app: admin API, slow query ingest, /metrics and the dashboard."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from pgwarden.config import Settings
from pgwarden.errors import PgwardenError
from pgwarden.web import alerts_api, api, ingest, ingest_measures
from pgwarden.web.auth import TokenGate, TokenGuard
from pgwarden.web.context import Context
from pgwarden.web.fleet import Fleet, TargetDispatch
from pgwarden.web.limits import BodyLimit
from pgwarden.web.pages import is_page
from pgwarden.web.redact import HideQueryText
from pgwarden.web.views import ROUTERS
from pgwarden.web.views import fleet as fleet_view

logger = logging.getLogger(__name__)
#: characters of a field name or message repeated in a 422 answer
ECHO_CHARS = 100
NO_STORE = {"Cache-Control": "no-store"}


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
    viewer_token: str | None = None,
    fleet: bool = False,
) -> FastAPI:
    """The dashboard and API of one target; ``token`` guards every admin resource.

    With ``fleet``, every target of the repository is served too: a request with
    ``target=NAME`` is answered by that target's app (:mod:`pgwarden.web.fleet`),
    and ``/metrics`` exports every target's series; ``target_name`` is the default.

    ``viewer_token`` (default: the ``dashboard.viewer_token`` setting) may read
    every page and resource and do nothing else (:mod:`pgwarden.web.auth`).

    ``/metrics`` needs the token too unless ``anonymous_metrics`` is set (default:
    the ``dashboard.anonymous_metrics`` setting).
    ``target_dsn`` enables a live read while no interval has been collected.
    The token is checked on the headers before a body is read, and no body larger
    than ``dashboard.max_body_bytes`` is read (:mod:`pgwarden.web.auth`,
    :mod:`pgwarden.web.limits`).
    """
    ctx = Context(settings, repo_dsn, target_name, target_dsn)
    served = Fleet(ctx, registry=fleet)
    if viewer_token is None and settings.dashboard.viewer_token is not None:
        viewer_token = settings.dashboard.viewer_token.get_secret_value()
    if anonymous_metrics is None:
        anonymous_metrics = settings.dashboard.anonymous_metrics
    gate = _Gate(token, viewer_token, anonymous_metrics)
    served.build = lambda member: _assemble(member, served, gate)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if served.registry:
            threading.Thread(target=_warm, args=(served,), daemon=True).start()
        yield
        served.close()
        ctx.close()

    return _assemble(ctx, served, gate, lifespan=lifespan)


def _warm(fleet: Fleet) -> None:
    """A fleet's first Fleet page and first scrape read every target: read them
    as the server starts rather than while a person or Prometheus waits."""
    try:
        fleet_view.rows_of(fleet)
        api.warm(fleet.contexts())
    except Exception:  # a failure here is met again, and reported, on a request
        logger.warning("the fleet's figures were not read ahead", exc_info=True)


@dataclass(frozen=True)
class _Gate:
    token: str
    viewer_token: str | None
    anonymous_metrics: bool


def _assemble(
    ctx: Context, fleet: Fleet, gate: _Gate, *, lifespan: Any = None
) -> FastAPI:
    """The app of ``ctx``'s target; the default target's (with a lifespan) hands
    the requests for another target to :class:`TargetDispatch`."""
    settings = ctx.settings
    app = FastAPI(
        title="pgwarden", version=_version(), docs_url="/docs", lifespan=lifespan
    )
    guard = Depends(TokenGuard(gate.token, gate.viewer_token))
    app.state.context = ctx
    app.state.fleet = fleet
    app.include_router(api.router(ctx), dependencies=[guard])
    for view in ROUTERS:
        app.include_router(view(ctx), dependencies=[guard])
    app.include_router(ingest.router(ctx), dependencies=[guard])
    app.include_router(ingest_measures.router(ctx), dependencies=[guard])
    app.include_router(alerts_api.router(ctx), dependencies=[guard])
    app.include_router(api.metrics_router(ctx), dependencies=_deps(
        guard, gate.anonymous_metrics))  # fmt: skip
    app.add_exception_handler(PgwardenError, _unavailable)
    app.add_exception_handler(psycopg.OperationalError, _database_failed)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.mount("/static", StaticFiles(directory=static_dir()), name="static")
    app.add_api_route("/{page:path}", _index, include_in_schema=False)
    # the last added runs first: the token, then the body's size, then the
    # target, then the app
    if settings.dashboard.hide_query_text:
        app.add_middleware(HideQueryText)
    if lifespan is not None:
        app.add_middleware(TargetDispatch, fleet=fleet)
    app.add_middleware(BodyLimit, max_bytes=settings.dashboard.max_body_bytes)
    public = ["/metrics"] if gate.anonymous_metrics else []
    app.add_middleware(
        TokenGate, token=gate.token, viewer_token=gate.viewer_token,
        also_public=public,
    )  # fmt: skip
    return app


def _deps(guard: Any, anonymous: bool) -> list[Any]:
    return [] if anonymous else [guard]


def _version() -> str:
    from pgwarden import __version__

    return __version__


def _index(page: str) -> FileResponse:
    """The dashboard's one HTML page, at the URL of each of its pages."""
    if not is_page("/" + page):
        raise HTTPException(404, "Not Found")
    return FileResponse(
        static_dir() / "index.html", headers={"Cache-Control": "no-cache"}
    )


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=503, headers=NO_STORE)


async def _database_failed(request: Request, exc: Exception) -> JSONResponse:
    """A database error that is not the request's fault: the connection was lost,
    the server shut down, a statement timed out."""
    logger.warning("database failed during %s: %s", request.url.path, exc)
    detail = "the database failed during the request; try again: " + _first_line(exc)
    return JSONResponse({"detail": detail}, status_code=503, headers=NO_STORE)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    """422 naming each invalid field and why, without echoing what was sent."""
    assert isinstance(exc, RequestValidationError)
    found = [
        {"loc": [_short(part) for part in error.get("loc", ())],
         "msg": _short(error.get("msg", "")), "type": error.get("type", "")}
        for error in exc.errors()[:20]
    ]  # fmt: skip
    return JSONResponse({"detail": found}, status_code=422, headers=NO_STORE)


def _short(part: Any) -> Any:
    if isinstance(part, int):
        return part
    text = str(part)
    return text if len(text) <= ECHO_CHARS else text[: ECHO_CHARS - 1] + "…"


def _first_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return str(_short(lines[0] if lines else type(exc).__name__))
