"""The FastAPI app: admin API, slow query ingest, /metrics and the dashboard."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from psycopg_pool import ConnectionPool, PoolTimeout

from pgwarden import pg
from pgwarden.collect import history
from pgwarden.config import Settings
from pgwarden.errors import ConnectionFailed, PgwardenError
from pgwarden.observe import performance_metrics
from pgwarden.observe.hours import HourCache
from pgwarden.observe.model import PerformanceMetrics
from pgwarden.web import alerts_api, api, ingest
from pgwarden.web.auth import TokenGuard

#: repository connections kept open per app, and the wait for a free one
POOL_SIZE = 8
POOL_WAIT_S = 10.0
STATEMENT_TIMEOUT_MS = 5000


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
        #: statement totals of finished hours, for the charts
        self.hours = HourCache()
        self._pool: ConnectionPool[Any] | None = None
        self._lock = threading.Lock()

    @contextmanager
    def repository(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection to the repository (a new one costs ~10 ms of auth)."""
        pool = self._repository_pool()
        try:
            with pool.connection(timeout=POOL_WAIT_S) as conn:
                yield conn
        except PoolTimeout as exc:
            raise ConnectionFailed(
                f"cannot connect to {pg.describe(self.repo_dsn)} within {POOL_WAIT_S} s"
            ) from exc

    def _repository_pool(self) -> ConnectionPool[Any]:
        with self._lock:
            if self._pool is None:
                options = {"options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"}
                self._pool = ConnectionPool(
                    self.repo_dsn, min_size=1, max_size=POOL_SIZE, open=False,
                    kwargs={"autocommit": True, "application_name": pg.APPLICATION_NAME,
                            "connect_timeout": pg.CONNECT_TIMEOUT_S, **options},
                )  # fmt: skip
                self._pool.open(wait=False)
            return self._pool

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def target_id(self, conn: psycopg.Connection[Any]) -> int | None:
        with pg.guarded("pgwarden repository (run pgwarden init)"):
            return history.target_id(conn, self.target_name)

    def metrics(self, *, include_own: bool = False) -> PerformanceMetrics:
        """The metrics; without history, a live read of the target when it is known."""
        now = datetime.now(UTC)
        with self.repository() as conn:
            target_id = self.target_id(conn)
            found = self._metrics(conn, target_id, now, None, include_own)
            if found.source != "none" or not self.target_dsn:
                return found
            with pg.connect(self.target_dsn) as target_conn:
                return self._metrics(conn, target_id, now, target_conn, include_own)

    def _metrics(
        self,
        conn: psycopg.Connection[Any],
        target_id: int | None,
        now: datetime,
        target_conn: psycopg.Connection[Any] | None,
        include_own: bool,
    ) -> PerformanceMetrics:
        return performance_metrics(
            conn, target_id, now, self.settings, target_name=self.target_name,
            target_conn=target_conn, app_cache_ratio=self.app_cache_ratio,
            include_own=include_own,
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
