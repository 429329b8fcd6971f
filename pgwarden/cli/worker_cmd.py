"""``pgwarden worker`` and ``pgwarden jobs list``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pgwarden import pg
from pgwarden.cli.options import Duration, LogDir, server_log_dir
from pgwarden.cli.output import emit_json, emit_rows, err
from pgwarden.cli.runtime import Runtime, runtime
from pgwarden.errors import ConfigurationError

if TYPE_CHECKING:
    from pgwarden.fleet import Registered
    from pgwarden.jobs import FleetState
    from pgwarden.jobs.fleet import Route

jobs_app = typer.Typer(help="The background job queue.", no_args_is_help=True)


def worker(
    ctx: typer.Context,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency", min=2, help="Jobs run at once (jobs.concurrency)."
        ),
    ] = None,
    queues: Annotated[
        list[str] | None,
        typer.Option(
            "--queues",
            help="Queues to work on (default: jobs.queue and the target's queue).",
        ),
    ] = None,
    once: Annotated[
        bool,
        typer.Option(
            "--once", help="Run every task once (one collection cycle) and exit."
        ),
    ] = False,
    duration: Duration = None,
    log_dir: LogDir = None,
    group: Annotated[
        str | None,
        typer.Option(
            "--group", help="Serve only the registered targets of this group."
        ),
    ] = None,
) -> None:
    """Run the background jobs: collection, alerts, retention, maintenance, reports.

    With --dsn (or --target) the worker serves that target; without, every
    registered, unpaused target (pgwarden targets), or those of --group. Several
    workers, on several machines, can share one repository: each task runs for a
    target on one worker at a time. Jobs of a worker that died are retried after
    jobs.stalled_seconds. One line per job goes to stderr; Ctrl-C or SIGTERM lets
    the running jobs finish and stops.
    """
    from pgwarden.cli.collect_cmd import prepare_repository
    from pgwarden.jobs import WorkerContext, WorkerOptions, WorkerRun

    rt = runtime(ctx)
    settings = rt.settings
    prepare_repository(rt.repository_dsn(), settings)
    chosen = server_log_dir(log_dir, settings)
    if not rt.debug:  # one line per job instead of Procrastinate's records
        logging.getLogger("procrastinate").propagate = False
    state = _fleet(rt, group)
    context = WorkerContext(
        settings=settings,
        repository_dsn=rt.repository_dsn(),
        targets={} if state is not None else {rt.target_name(): rt.target_dsn()},
        say=_say,
        log_dir=chosen,
        once=once,
        fleet=state,
    )
    options = WorkerOptions(
        concurrency=concurrency, queues=queues, once=once, duration=duration
    )
    if state is None:
        _say(f"worker for {rt.target_name()} started; Ctrl-C stops")
    else:
        which = "registered targets" + ("" if group is None else f" of group {group}")
        _say(f"worker for the {which} started; Ctrl-C stops")
    WorkerRun(context, options).run()
    _say(f"worker stopped after {context.cycles} collection cycles")


def _fleet(rt: Runtime, group: str | None) -> FleetState | None:
    """The fleet to serve: without --dsn or --target, the registered targets.

    None (serve the one target) when a target is named, or when none is registered
    and no --group asks for the registry (the libpq PG* variables' target, as
    before the registry).
    """
    from pgwarden import fleet
    from pgwarden.jobs import FleetState

    if rt.settings.dsn is not None or rt.target is not None:
        if group is not None:
            raise ConfigurationError("--group serves registered targets: drop --dsn")
        return None
    with pg.connect(rt.repository_dsn()) as repo:
        found = fleet.registered(repo, group)
    if not found and group is None:
        return None
    if not found:
        raise ConfigurationError(f"no registered target in group {group!r}")
    return FleetState(group=group)


def _say(line: str) -> None:
    err.print(line, markup=False)


@jobs_app.command("list")
def list_jobs(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Most recent jobs shown.")
    ] = 20,
    fmt: Annotated[
        str | None, typer.Option("--format", help="json, table or md.")
    ] = None,
) -> None:
    """Recent jobs of the queue with their status, attempts and worker."""
    from pgwarden.jobs.listing import recent_jobs

    rt = runtime(ctx)
    found = recent_jobs(rt.repository_dsn(), rt.settings.jobs, limit)
    chosen = rt.output_format(fmt)
    if chosen == "json":
        emit_json([job.as_dict() for job in found])
        return
    columns = ["id", "task", "target", "status", "attempts", "updated", "worker"]
    rows = [job.row() for job in found]
    emit_rows(chosen, f"pgwarden jobs — {len(rows)} most recent", columns, rows)


@jobs_app.command("defer")
def defer(
    ctx: typer.Context,
    task: Annotated[
        str,
        typer.Argument(
            help="collect, alerts, retention, maintenance, reports, reviews, "
            "queue_upkeep or discover."
        ),
    ],
    every: Annotated[
        bool,
        typer.Option("--fleet", help="One job for every registered, unpaused target."),
    ] = False,
    group: Annotated[
        str | None,
        typer.Option("--group", help="With --fleet: only the targets of this group."),
    ] = None,
) -> None:
    """Queue one job of a task now, where a running worker picks it up.

    A registered target's job goes to the queue of a fleet worker serving it now
    (its group's, else the whole fleet's); otherwise to the target's own queue,
    which a worker whose --dsn points at the target takes.
    """
    from pgwarden import fleet
    from pgwarden.jobs import WorkerContext
    from pgwarden.jobs.fleet import route
    from pgwarden.jobs.worker import queue_now

    rt = runtime(ctx)
    base = rt.settings.jobs.queue
    if group is not None and not every:
        raise ConfigurationError("--group goes with --fleet")
    if every and (rt.settings.dsn is not None or rt.target is not None):
        raise ConfigurationError(
            "--fleet queues for the registry: drop --dsn, --target and PGWARDEN_DSN"
        )
    plans: list[tuple[str, Route | None]]
    with pg.connect(rt.repository_dsn()) as repo:
        if every:
            targets = [t for t in fleet.registered(repo, group) if not t.paused]
            if not targets:
                which = "" if group is None else f" in group {group!r}"
                raise ConfigurationError(f"no unpaused registered target{which}")
            plans = [(t.name, route(repo, base, t)) for t in targets]
        else:
            name = rt.target_name()
            found = _registered_target(repo, name)
            plans = [(name, route(repo, base, found) if found else None)]
    for name, where in plans:
        context = WorkerContext(
            settings=rt.settings,
            repository_dsn=rt.repository_dsn(),
            targets={name: ""},  # jobs carry the name; the DSN stays with the worker
            say=_say,
            fleet=where.state if where is not None else None,
        )
        for job_id in queue_now(context, task):
            _say(_deferred(task, name, job_id, where))
        if task in ("retention", "queue_upkeep", "discover"):
            break  # repository-wide: one job for all


def _registered_target(repo: Any, name: str) -> Registered | None:
    """``name``'s registry row, None when not registered; a paused one is refused."""
    from pgwarden import fleet

    try:
        found = fleet.find(repo, name)
    except ConfigurationError:
        return None
    if found.paused:
        raise ConfigurationError(
            f"target {name} is paused: pgwarden targets resume {name} first"
        )
    return found


def _deferred(task: str, name: str, job_id: int | None, where: Route | None) -> str:
    if job_id is None:
        return f"a {task} job for {name} is already waiting"
    line = f"queued job {task}[{job_id}] for {name}"
    if where is None:
        return line
    if where.workers is None:
        return f"{line} on its own queue: no fleet worker serves it now"
    plural = "" if where.workers == 1 else "s"
    return f"{line} on {where.queue}, served by {where.workers} fleet worker{plural}"
