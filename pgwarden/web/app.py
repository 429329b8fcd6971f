"""The FastAPI app: admin API, slow query ingest, /metrics and the dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from pgwarden import pg
from pgwarden.collect import history
from pgwarden.config import Settings
from pgwarden.errors import PgwardenError
from pgwarden.observe import performance_metrics
from pgwarden.observe.model import PerformanceMetrics
from pgwarden.web import api, ingest
from pgwarden.web.auth import TokenGuard


class Context:
    """What every request needs: settings, databases, target and live state."""

    def __init__(
        self,
        settings: Settings,
        repo_dsn: str,
        target_name: str,
        target_dsn: str | None,
    ) -> None:
        self.settings = settings
        self.repo_dsn = repo_dsn
        self.target_name = target_name
        self.target_dsn = target_dsn
        self.app_cache_ratio: float | None = None

    @contextmanager
    def repository(self) -> Iterator[psycopg.Connection[Any]]:
        with pg.connect(self.repo_dsn) as conn:
            yield conn

    def target_id(self, conn: psycopg.Connection[Any]) -> int | None:
        with pg.guarded("pgwarden repository (run pgwarden init)"):
            return history.target_id(conn, self.target_name)

    def metrics(self) -> PerformanceMetrics:
        """The metrics; without history, a live read of the target when it is known."""
        now = datetime.now(UTC)
        with self.repository() as conn:
            target_id = self.target_id(conn)
            found = self._metrics(conn, target_id, now, None)
            if found.source != "none" or not self.target_dsn:
                return found
            with pg.connect(self.target_dsn) as target_conn:
                return self._metrics(conn, target_id, now, target_conn)

    def _metrics(
        self,
        conn: psycopg.Connection[Any],
        target_id: int | None,
        now: datetime,
        target_conn: psycopg.Connection[Any] | None,
    ) -> PerformanceMetrics:
        return performance_metrics(
            conn, target_id, now, self.settings, target_name=self.target_name,
            target_conn=target_conn, app_cache_ratio=self.app_cache_ratio,
        )  # fmt: skip


def static_dir() -> Path:
    return Path(str(resources.files("pgwarden.web").joinpath("static")))


def create_app(
    settings: Settings,
    repo_dsn: str,
    target_name: str,
    token: str,
    *,
    target_dsn: str | None = None,
    anonymous_metrics: bool = False,
) -> FastAPI:
    """The dashboard and API of one target; ``token`` guards every admin resource.

    ``/metrics`` needs the token too unless ``anonymous_metrics`` is set.
    ``target_dsn`` enables a live read while no interval has been collected.
    """
    app = FastAPI(title="pgwarden", version=_version(), docs_url="/docs")
    ctx = Context(settings, repo_dsn, target_name, target_dsn)
    guard = Depends(TokenGuard(token))
    app.state.context = ctx
    app.include_router(api.router(ctx), dependencies=[guard])
    app.include_router(ingest.router(ctx), dependencies=[guard])
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
