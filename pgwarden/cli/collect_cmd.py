"""``pgwarden collect``: take snapshots every interval, or once.

The repository schema is installed or migrated first (as ``pgwarden init`` does), so
``collect`` works on a fresh repository. One line per cycle goes to stderr; a failed
cycle is reported and the next one reconnects. Between cycles pg_stat_activity is
sampled every ``slow_queries.sample_interval_seconds``; a failed sample is reported
and collection goes on. After a cycle the alert rules are evaluated every
``alerts.evaluate_interval_seconds`` (at most once per cycle; ``--once`` only takes the
snapshot); a failed evaluation is reported and collection goes on. Ctrl-C stops.
"""

from __future__ import annotations

from typing import Annotated

import typer

from pgwarden import pg
from pgwarden.cli.options import Duration, LogDir, seconds, server_log_dir
from pgwarden.cli.output import err
from pgwarden.cli.runtime import runtime
from pgwarden.config import Settings


def prepare_repository(dsn: str, settings: Settings | None = None) -> None:
    """Install or migrate the repository schema and the job queue's schema.

    Says so when either changed.
    """
    from pgwarden import repository
    from pgwarden.jobs.schema import install

    with pg.connect(dsn, autocommit=False, statement_timeout_ms=None) as conn:
        result = repository.migrate(conn)
    where = pg.describe(dsn)
    if result.applied:
        err.print(f"repository {where} now at schema version {result.to_version}")
    jobs = install(dsn, settings.jobs.schema_name if settings else None)
    if jobs.changed:
        err.print(f"job queue in {where}: {jobs.summary()}")


def collect(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Take one snapshot and exit.")
    ] = False,
    interval: Annotated[
        int | None,
        typer.Option(
            "--interval",
            min=5,
            callback=seconds("--interval"),
            help="Seconds between snapshots (collect.interval).",
        ),
    ] = None,
    log_dir: LogDir = None,
    duration: Duration = None,
) -> None:
    """Take snapshots of the target into the repository (Ctrl-C stops).

    Each cycle also reads the server log's new slow statements (with --log-dir) and,
    about once an hour, applies the slow query log's retention. pg_stat_activity is
    sampled for running slow statements every slow_queries.sample_interval_seconds.
    Alert rules are evaluated after a cycle every alerts.evaluate_interval_seconds
    and notify the configured channels (the console without any).
    """
    rt = runtime(ctx)
    settings = rt.settings
    prepare_repository(rt.repository_dsn(), settings)
    chosen = server_log_dir(log_dir, settings)
    from pgwarden.collect.loop import CollectionLoop

    loop = CollectionLoop(
        rt.target_dsn(), rt.repository_dsn(), rt.target_name(), settings,
        report=_say, log_dir=chosen, alerts=not once,
    )  # fmt: skip
    with loop:
        try:
            if once:
                loop.cycle(once=True)
            else:
                seconds = interval or settings.collect.interval_seconds
                loop.run(seconds, max_seconds=duration)
        except KeyboardInterrupt:
            err.print("collector stopped")


def _say(line: str) -> None:
    err.print(line, markup=False)
