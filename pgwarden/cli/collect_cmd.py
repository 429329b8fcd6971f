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

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pgwarden import pg
from pgwarden.cli.output import err
from pgwarden.cli.runtime import runtime
from pgwarden.collect import Collector, CycleFailed
from pgwarden.config import Settings
from pgwarden.errors import ConfigurationError

if TYPE_CHECKING:
    from pgwarden.alerts.periodic import PeriodicEvaluation
    from pgwarden.slowlog.capture import SlowCapture


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
    duration: Annotated[
        float | None,
        typer.Option(
            "--duration", min=0, help="Stop after this many seconds (default: never)."
        ),
    ] = None,
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
    target_dsn = rt.target_dsn()
    prepare_repository(rt.repository_dsn())
    seconds = interval or settings.collect.interval_seconds
    collector = Collector(
        target_dsn, rt.repository_dsn(), rt.target_name(),
        settings=settings.collect,
        statement_timeout_ms=settings.statement_timeout_ms,
    )  # fmt: skip
    slow = _slow_capture(settings, rt.target_name(), log_dir)
    with collector:
        try:
            if once:
                _cycle(collector, slow, once=True)
            else:
                alerts = _alerts(settings, rt.target_name())
                _loop(collector, slow, seconds, settings, duration, alerts)
        except KeyboardInterrupt:
            err.print("collector stopped")


def _slow_capture(
    settings: Settings, target_name: str, log_dir: Path | None
) -> SlowCapture:
    from pgwarden.slowlog.capture import SlowCapture

    chosen = log_dir or settings.slow_queries.server_log_dir
    if chosen is not None and not chosen.is_dir():
        raise ConfigurationError(f"--log-dir: {chosen} is not a directory")
    return SlowCapture(settings.slow_queries, target_name, chosen, report=_say)


def _alerts(settings: Settings, target_name: str) -> PeriodicEvaluation:
    from pgwarden.alerts.periodic import PeriodicEvaluation

    return PeriodicEvaluation(settings, target_name, report=_say)


def _say(line: str) -> None:
    err.print(line, markup=False)


def _cycle(
    collector: Collector,
    slow: SlowCapture,
    alerts: PeriodicEvaluation | None = None,
    *,
    once: bool = False,
) -> None:
    """One collection cycle with the server log (and, with --once, one sample).

    Then the alert rules, when ``alerts`` is given and an evaluation is due.
    """
    try:
        _say(collector.cycle().summary())
    except CycleFailed as exc:
        if once:
            raise
        _say(str(exc))
        return
    if once:
        slow.sample(collector.target, collector.repository)
    summary = slow.after_cycle(collector.repository).summary()
    if summary:
        _say(summary)
    if alerts is not None:
        alerts.after_cycle(collector.repository, collector.target)


def _loop(
    collector: Collector,
    slow: SlowCapture,
    seconds: int,
    settings: Settings,
    duration: float | None,
    alerts: PeriodicEvaluation | None = None,
) -> None:
    """Collection cycles every ``seconds``, activity samples at their own interval."""
    from pgwarden.slowlog.schedule import Periodic, Scheduler

    sample_every = settings.slow_queries.sample_interval_seconds
    Scheduler([
        Periodic("collect", seconds, lambda: _cycle(collector, slow, alerts)),
        Periodic("sample", sample_every,
                 lambda: slow.sample(collector.target, collector.repository)),
    ]).run(max_seconds=duration)  # fmt: skip
    sampled = slow.take_sampled()
    if sampled:
        _say(f"slow queries: {sampled} from activity since the last cycle")
