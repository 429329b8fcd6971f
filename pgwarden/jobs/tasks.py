"""The bodies of the worker's tasks; each returns its outcome in a few words.

They call the same functions as the CLI: the collection loop, the alert evaluation,
the retention of the history and of the slow query log, the scheduled maintenance
cycle, the index health and optimisation reports when their schedules make
them due, and the post-launch reviews when due.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import croniter  # type: ignore[import-untyped]
import psycopg

from pgwarden import pg
from pgwarden.errors import ConnectionFailed, PgwardenError
from pgwarden.jobs.context import WorkerContext
from pgwarden.jobs.fleet import record

#: a collection lease ends this long before the next collect job is due
LEASE_MARGIN_S = 3.0


def lease_seconds(cron: str, now: float | None = None) -> float:
    """Seconds a collect job runs: until the next tick of ``cron``, less a margin."""
    moment = time.time() if now is None else now
    upcoming = float(croniter.croniter(cron, moment).get_next(float))
    return max(0.0, upcoming - moment - LEASE_MARGIN_S)


def collect(
    ctx: WorkerContext,
    target: str,
    lease: float | None,
    should_abort: Callable[[], bool],
) -> str:
    """Collection cycles and activity samples of ``target`` for one lease.

    ``pgwarden worker --once`` (and ``lease=0``) takes one cycle instead.
    """
    if ctx.fleet is not None:
        return fleet_cycle(ctx, target)
    loop = ctx.loop(target)
    cycles, samples = loop.cycles, loop.samples
    if ctx.once or lease == 0:
        loop.cycle()
    else:
        interval = ctx.interval
        seconds = (
            lease_seconds(ctx.settings.jobs.collect_cron) if lease is None else lease
        )
        loop.run(
            interval, max_seconds=seconds,
            stopped=lambda: ctx.stopped() or should_abort(),
            sleep=ctx.stop.wait, first_cycle_in=loop.seconds_until_due(interval),
        )  # fmt: skip
    took = _count(loop.cycles - cycles, "cycle")
    return f"{took}, {_count(loop.samples - samples, 'sample')}"


def fleet_cycle(ctx: WorkerContext, target: str) -> str:
    """One cycle of a registered target, its outcome kept as the target's status.

    The loop's connections are closed after the cycle: a worker serving hundreds of
    targets holds connections only to those it is collecting.
    """
    from pgwarden.collect.session import CycleFailed

    assert ctx.fleet is not None
    loop = ctx.loop(target)
    reason: str | None = None
    try:
        loop.cycle(once=True)
    except CycleFailed as exc:
        reason = str(exc)
    except (PgwardenError, psycopg.Error) as exc:
        reason = _one_line(exc)
    finally:
        loop.close()
    record(ctx.repository_dsn, ctx.fleet, target, reason is None, reason)
    if reason is not None:
        ctx.report(f"{target}: cycle failed: {_one_line(reason)}")
        return "failed"
    return "1 cycle"


def discover(ctx: WorkerContext) -> str:
    """Discovery again of the servers registered targets were discovered from."""
    from pgwarden.fleet import rediscover

    with pg.connect(ctx.repository_dsn, statement_timeout_ms=None) as repo:
        done = rediscover(repo)
    for found in done:
        for name in found.added:
            ctx.say(f"discovered {name}")
    added = sum(len(found.added) for found in done)
    return f"{_count(len(done), 'server')}, {_count(added, 'target')} added"


def alerts(ctx: WorkerContext, target: str) -> str:
    """One evaluation of the alert rules; notifications go to the channels."""
    from pgwarden.alerts.periodic import PeriodicEvaluation

    evaluation = PeriodicEvaluation(ctx.settings, target, report=ctx.report)
    with pg.connect(ctx.repository_dsn, statement_timeout_ms=None) as repo:
        live = _target_connection(ctx, target)
        try:
            done = evaluation.after_cycle(repo, live)
        finally:
            if live is not None:
                live.close()
    if done is None:
        return "evaluation failed"
    return _count(len(done.notices), "notification")


def _target_connection(ctx: WorkerContext, target: str) -> Any:
    try:
        timeout = ctx.settings.statement_timeout_ms
        return pg.connect(ctx.target_dsn(target), statement_timeout_ms=timeout)
    except ConnectionFailed as exc:
        ctx.report(f"alerts of {target}: live checks skipped: {exc}")
        return None


def retention(ctx: WorkerContext) -> str:
    """Drop history partitions and slow query log partitions past retention."""
    from pgwarden.collect.partitions import apply_retention
    from pgwarden.slowlog.capture import upkeep

    now = datetime.now(UTC)
    with pg.connect(ctx.repository_dsn, statement_timeout_ms=None) as conn:
        history = apply_retention(conn, now, ctx.settings)
        slow = upkeep(conn, now, ctx.settings.slow_queries.retention_days)
    dropped = [*history, *slow.dropped]
    for name in dropped:
        ctx.report(f"retention dropped {name}")
    return f"{_count(len(dropped), 'partition')} dropped"


def maintenance(ctx: WorkerContext, target: str) -> str:
    from pgwarden.maintain import run_scheduled

    return _one_line(run_scheduled(ctx.settings, ctx.target_dsn(target),
                                   ctx.repository_dsn))  # fmt: skip


def reports(ctx: WorkerContext, target: str) -> str:
    """Each report whose schedule makes it due: index health, then optimisation."""
    from pgwarden.advise.health import report as health_report
    from pgwarden.advise.queries import report as optimization_report

    dsn = ctx.target_dsn(target)
    return "; ".join(
        _one_line(report.run_if_due(ctx.settings, dsn, ctx.repository_dsn))
        for report in (health_report, optimization_report)
    )


def reviews(ctx: WorkerContext, target: str) -> str:
    """The post-launch reviews whose period ended and which are not generated yet."""
    from pgwarden.ops.review import NoLaunchDate
    from pgwarden.ops.review import run as review_run

    try:
        done = review_run.generate_due(
            ctx.settings, ctx.target_dsn(target), ctx.repository_dsn,
            datetime.now(UTC), "worker",
        )  # fmt: skip
    except NoLaunchDate:
        return "no launch date: no review due"
    for g in done:
        ctx.say(f"review {g.review_id} of {target}: {g.report['summary']['line']}")
    return f"{_count(len(done), 'review')} generated"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _one_line(result: object) -> str:
    text = str(result).strip()
    return (text.splitlines() or ["done"])[0][:120]
