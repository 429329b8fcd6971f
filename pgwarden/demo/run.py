"""``pgwarden demo``: embedded server, reference data and a live workload."""

from __future__ import annotations

import asyncio
import secrets
import signal
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from psycopg import sql

from pgwarden import pg, repository
from pgwarden.config import Settings
from pgwarden.demo import data
from pgwarden.demo.services import DashboardThread, WorkerThread, stop_all
from pgwarden.demo.sqlcommenter import APPLICATION
from pgwarden.demo.workload import WorkloadStats, run_light_workload
from pgwarden.embedded import EmbeddedServer, free_port, port_free
from pgwarden.errors import ConfigurationError, PgwardenError
from pgwarden.paths import default_embedded_dir

DEMO_DATABASE = "pgwarden_demo"
#: contrib extensions the embedded server ships and pgwarden uses
DEMO_EXTENSIONS = ("pg_stat_statements", "pgstattuple", "pg_buffercache")

Say = Callable[[str], Any]


@dataclass(frozen=True)
class DemoOptions:
    settings: Settings
    data_dir: Path | None = None
    pg_bin: Path | None = None
    scale: str = "small"
    duration: float | None = None
    rate: float = 5.0
    keep_running: bool = False
    collect_interval: float = 15.0
    port: int | None = None


def run_demo(options: DemoOptions, say: Say, show: Say) -> WorkloadStats:
    """Run the demo until Ctrl-C or ``duration``; stop the server it started."""
    options = replace(options, port=dashboard_port(options, say))
    server = EmbeddedServer(options.data_dir or default_embedded_dir(), options.pg_bin)
    was_running = server.status().running
    status = server.start()
    say(
        f"PostgreSQL {status.major_version} on 127.0.0.1:{status.port} "
        f"(data in {status.data_dir})"
    )
    try:
        dsn = ensure_database(server, DEMO_DATABASE)
        prepare(dsn, options.scale, say)
        show(f"DSN: {dsn}")
        return _run_services(dsn, options, server.pgdata / "log", say, show)
    finally:
        if not was_running and not options.keep_running:
            server.stop()
            say("embedded server stopped; the data directory is kept for the next run")


def _run_services(
    dsn: str, options: DemoOptions, log_dir: Path, say: Say, show: Say
) -> WorkloadStats:
    """Worker, dashboard and workload until Ctrl-C or the duration."""
    settings = options.settings
    token_secret = settings.dashboard.admin_token
    token = (
        token_secret.get_secret_value() if token_secret else secrets.token_urlsafe(32)
    )
    host = settings.dashboard.host
    port = options.port or free_port()
    worker = WorkerThread(dsn, settings, options.collect_interval, log_dir)
    # the dashboard says how often the demo's worker collects
    every = max(1, round(options.collect_interval))
    collect = settings.collect.model_copy(update={"interval_seconds": every})
    shown = settings.model_copy(update={"collect": collect})
    dashboard = DashboardThread(dsn, shown, host, port, token)
    try:
        worker.start()
        dashboard.start()
        if not dashboard.wait_started():
            raise PgwardenError(f"the dashboard could not listen on {host}:{port}")
        show(f"Dashboard: http://{host}:{port}/")
        show(f"Admin token: {token}")
        show("Worker and workload running; press Ctrl-C to stop.")
        stats = asyncio.run(_workload(dsn, options))
        say(f"workload: {stats}; {worker.cycles} collection cycles")
        return stats
    finally:
        stop_all(dashboard, worker)


def dashboard_port(options: DemoOptions, say: Say) -> int:
    """The dashboard's port: ``--port`` as given (a busy one is an error), a free
    one for ``--port 0``, else ``dashboard.port`` or, when it is busy, a free one."""
    host = options.settings.dashboard.host
    if options.port:
        if not port_free(options.port, host):
            raise ConfigurationError(
                f"--port {options.port}: already in use on {host}; "
                "choose another port or stop what listens there"
            )
        return options.port
    configured = options.settings.dashboard.port if options.port is None else 0
    if configured and port_free(configured, host):
        return configured
    chosen = free_port()
    if configured:
        say(f"port {configured} (dashboard.port) is busy; the dashboard uses {chosen}")
    return chosen


def ensure_database(server: EmbeddedServer, dbname: str) -> str:
    """Create ``dbname`` on the server if absent; return its DSN."""
    with pg.connect(server.dsn()) as conn:
        data.unrecorded(conn, local=False)
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [dbname]
        ).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    return server.dsn(dbname)


def prepare(dsn: str, scale: str, say: Say) -> None:
    """Reference data (loaded once), pg_stat_statements and pgwarden's schema.

    The reference data is the application's: loaded on a workload connection, its
    statements are the application's workload, not pgwarden's own.
    """
    with pg.connect(
        dsn, autocommit=False, statement_timeout_ms=None,
        application_name=APPLICATION, workload=True,
    ) as conn:  # fmt: skip
        if data.reference_tables_present(conn):
            say("reference data already loaded")
            conn.rollback()
        else:
            say(f"loading reference data (scale {scale})")
            summary = data.load(conn, scale, on_step=lambda step: say(f"  {step}"))
            say(f"loaded in {summary.seconds:.1f} s")
    with pg.connect(dsn, autocommit=False, statement_timeout_ms=None) as conn:
        for extension in DEMO_EXTENSIONS:
            conn.execute(
                sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(
                    sql.Identifier(extension)
                )
            )
        conn.commit()
        repository.migrate(conn)


async def _workload(dsn: str, options: DemoOptions) -> WorkloadStats:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if options.duration is not None:
        loop.call_later(options.duration, stop.set)
    try:
        return await run_light_workload(dsn, stop=stop, rate_per_second=options.rate)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
