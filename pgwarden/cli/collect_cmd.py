"""``pgwarden collect``: take snapshots every interval, or once.

The repository schema is installed or migrated first (as ``pgwarden init`` does), so
``collect`` works on a fresh repository. One line per cycle goes to stderr; a failed
cycle is reported and the next one reconnects. Ctrl-C stops after the current cycle.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from pgwarden import pg
from pgwarden.cli.output import err
from pgwarden.cli.runtime import runtime
from pgwarden.collect import Collector, CycleFailed


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
) -> None:
    """Take snapshots of the target into the repository (Ctrl-C stops)."""
    rt = runtime(ctx)
    settings = rt.settings
    target_dsn = rt.target_dsn()
    prepare_repository(rt.repository_dsn())
    seconds = interval or settings.collect.interval_seconds
    collector = Collector(
        target_dsn, rt.repository_dsn(), pg.describe(target_dsn),
        settings=settings.collect,
        statement_timeout_ms=settings.statement_timeout_ms,
    )  # fmt: skip
    with collector:
        try:
            _loop(collector, once, seconds)
        except KeyboardInterrupt:
            err.print("collector stopped")


def _loop(collector: Collector, once: bool, seconds: int) -> None:
    while True:
        started = time.monotonic()
        try:
            err.print(collector.cycle().summary(), markup=False)
        except CycleFailed as exc:
            if once:
                raise
            err.print(str(exc), markup=False)
        if once:
            return
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
