"""``pgwarden collect``: take snapshots every interval, or once.

The repository schema is installed or migrated first (as ``pgwarden init`` does), so
``collect`` works on a fresh repository. One line per cycle goes to stderr; a failed
cycle is reported and the next one reconnects. Ctrl-C stops after the current cycle.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from pgwarden import pg
from pgwarden.cli.output import err
from pgwarden.cli.runtime import runtime
from pgwarden.collect import Collector, CycleFailed
from pgwarden.config import Settings
from pgwarden.errors import ConfigurationError, PgwardenError


def prepare_repository(dsn: str) -> None:
    """Install or migrate the repository schema, saying so when it changed it."""
    from pgwarden import repository

    with pg.connect(dsn, autocommit=False, statement_timeout_ms=None) as conn:
        result = repository.migrate(conn)
    if result.applied:
        where = pg.describe(dsn)
        err.print(f"repository {where} now at schema version {result.to_version}")


def collect(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Take one snapshot and exit.")
    ] = False,
    interval: Annotated[
        int | None,
        typer.Option(
            "--interval", min=5, help="Seconds between snapshots (collect.interval)."
        ),
    ] = None,
    log_dir: Annotated[
        Path | None,
        typer.Option(
            "--log-dir",
            help="Server log directory to read slow statements from "
            "(slow_queries.server_log_dir).",
        ),
    ] = None,
) -> None:
    """Take snapshots of the target into the repository (Ctrl-C stops).

    Each cycle also captures slow queries: new server log lines (with --log-dir)
    and a sample of pg_stat_activity.
    """
    rt = runtime(ctx)
    settings = rt.settings
    target_dsn = rt.target_dsn()
    prepare_repository(rt.repository_dsn())
    seconds = interval or settings.collect.interval_seconds
    collector = Collector(
        target_dsn, rt.repository_dsn(), rt.target_name(),
        settings=settings.collect,
        statement_timeout_ms=settings.statement_timeout_ms,
    )  # fmt: skip
    slow = _SlowCapture(settings, log_dir or settings.slow_queries.server_log_dir)
    with collector:
        try:
            _loop(collector, slow, once, seconds)
        except KeyboardInterrupt:
            err.print("collector stopped")


class _SlowCapture:
    """Slow query capture after each cycle; a failure is reported, never fatal."""

    def __init__(self, settings: Settings, log_dir: Path | None) -> None:
        if log_dir is not None and not log_dir.is_dir():
            raise ConfigurationError(f"--log-dir: {log_dir} is not a directory")
        self.settings, self.log_dir = settings, log_dir

    def __call__(self, collector: Collector) -> None:
        from pgwarden.slowlog.capture import capture

        if collector.target is None or collector.repository is None:
            return
        try:
            found = capture(
                collector.target, collector.repository, collector.target_name,
                self.settings.slow_queries, self.log_dir,
            )  # fmt: skip
        except PgwardenError as exc:
            err.print(f"slow query capture skipped: {exc}", markup=False)
            return
        if found.from_log or found.from_activity:
            err.print(
                f"slow queries: {found.from_log} from the server log, "
                f"{found.from_activity} from activity",
                markup=False,
            )


def _loop(collector: Collector, slow: _SlowCapture, once: bool, seconds: int) -> None:
    while True:
        started = time.monotonic()
        try:
            err.print(collector.cycle().summary(), markup=False)
            slow(collector)
        except CycleFailed as exc:
            if once:
                raise
            err.print(str(exc), markup=False)
        if once:
            return
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
