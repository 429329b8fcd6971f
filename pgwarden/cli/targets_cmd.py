"""``pgwarden targets``: the registry of the targets the workers serve."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from pgwarden import pg
from pgwarden.cli.options import Duration, seconds
from pgwarden.cli.output import emit_json, emit_rows, err, text
from pgwarden.cli.runtime import Runtime, runtime

app = typer.Typer(
    help="The fleet: targets the workers serve, added or discovered.",
    no_args_is_help=True,
)

Group = Annotated[
    str | None, typer.Option("--group", help="Group of the targets (e.g. prod).")
]
PasswordEnv = Annotated[
    str | None,
    typer.Option(
        "--password-env",
        help="Environment variable holding the password (never stored); default: "
        "PGPASSFILE / ~/.pgpass or a service file.",
    ),
]
Interval = Annotated[
    int | None,
    typer.Option(
        "--interval", min=1, help="Seconds between cycles (collect.interval_seconds)."
    ),
]
Name = Annotated[str, typer.Argument(help="The target's name (pgwarden targets list).")]


def _repository(rt: Runtime) -> str:
    """The repository holding the registry, installed or migrated first."""
    from pgwarden.cli.collect_cmd import prepare_repository

    repo = rt.repository_dsn()
    prepare_repository(repo, rt.settings)
    return repo


def _password_note(had_password: bool, password_env: str | None) -> None:
    from pgwarden.fleet import WHERE_FROM

    if had_password and password_env:
        err.print(
            f"the password given was not stored: the worker reads it from "
            f"the environment variable {password_env}",
            markup=False,
        )
    elif had_password:
        err.print(f"the password given was not stored: {WHERE_FROM}", markup=False)


@app.command("add")
def add(
    ctx: typer.Context,
    name: Name,
    dsn: Annotated[str, typer.Option("--dsn", help="The target (libpq DSN or URI).")],
    group: Group = None,
    interval: Interval = None,
    password_env: PasswordEnv = None,
) -> None:
    """Register a database for the workers (by identity; the password is not stored)."""
    from pgwarden import fleet

    rt = runtime(ctx)
    repo_dsn = _repository(rt)
    with pg.connect(repo_dsn) as repo:
        added = fleet.add(
            repo, dsn, name=name, group=group, interval_s=interval,
            password_env=password_env,
        )  # fmt: skip
    t = added.target
    err.print(f"registered {t.name} ({t.address})", markup=False)
    _password_note(added.had_password, password_env)


@app.command("discover")
def discover(
    ctx: typer.Context,
    dsn: Annotated[
        str,
        typer.Option("--dsn", help="Any database of the server (libpq DSN or URI)."),
    ],
    group: Group = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="Leave out databases matching this pattern."),
    ] = None,
    password_env: PasswordEnv = None,
    interval: Interval = None,
    watch: Annotated[
        float | None,
        typer.Option(
            "--watch",
            min=1,
            callback=seconds("--watch"),
            help="Discover again every this many seconds, until stopped.",
        ),
    ] = None,
    duration: Duration = None,
) -> None:
    """Register every database of a server this role may connect to.

    Templates, databases refusing connections or this role, and pgwarden's
    repository are left out; each database is named host:port/dbname.
    """
    from pgwarden import fleet

    rt = runtime(ctx)
    repo_dsn = _repository(rt)
    started = time.monotonic()
    while True:
        with pg.connect(repo_dsn) as repo:
            found = fleet.discover(
                repo, dsn, group=group, exclude=exclude or (),
                password_env=password_env, interval_s=interval,
            )  # fmt: skip
        for name in found.added:
            err.print(f"registered {name}", markup=False)
        for name, why in found.skipped:
            err.print(f"skipped {name}: {why}", markup=False)
        err.print(found.summary(), markup=False)
        _password_note(found.had_password, password_env)
        if watch is None:
            return
        left = None if duration is None else duration - (time.monotonic() - started)
        if left is not None and left <= watch:
            return
        time.sleep(watch)


@app.command("list")
def list_targets(
    ctx: typer.Context,
    group: Group = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="json, table or md.")
    ] = None,
) -> None:
    """The registered targets: group, address, last cycle, cycles last hour, status."""
    from pgwarden import fleet

    rt = runtime(ctx)
    with pg.connect(_repository(rt)) as repo:
        found = fleet.listing(repo, group)
    chosen = rt.output_format(fmt, allowed=("json", "table", "md"))
    if chosen == "json":
        emit_json([item.as_dict() for item in found])
        return
    columns = ["name", "group", "address", "database", "system_identifier",
               "last_collected_at", "cycles_last_hour", "status"]  # fmt: skip
    rows: list[list[Any]] = [
        [item.target.name, item.target.group, item.target.address,
         item.target.database, item.target.system_identifier,
         text(item.last_collected_at), item.cycles_last_hour, item.target.state]
        for item in found
    ]  # fmt: skip
    emit_rows(chosen, f"pgwarden targets — {len(rows)} registered", columns, rows)


@app.command("pause")
def pause(ctx: typer.Context, name: Name) -> None:
    """Stop serving a target until resumed (its history stays)."""
    _set_paused(ctx, name, True)


@app.command("resume")
def resume(ctx: typer.Context, name: Name) -> None:
    """Serve a paused target again."""
    _set_paused(ctx, name, False)


def _set_paused(ctx: typer.Context, name: str, paused: bool) -> None:
    from pgwarden import fleet

    with pg.connect(_repository(runtime(ctx))) as repo:
        fleet.set_paused(repo, name, paused)
    err.print(f"{name} {'paused' if paused else 'resumed'}", markup=False)


@app.command("remove")
def remove(ctx: typer.Context, name: Name) -> None:
    """Take a target out of the fleet; its history stays in the repository."""
    from pgwarden import fleet

    with pg.connect(_repository(runtime(ctx))) as repo:
        fleet.remove(repo, name)
    err.print(f"{name} removed from the fleet", markup=False)
