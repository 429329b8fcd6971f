"""``pgwarden embedded``: manage the embedded PostgreSQL server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pgwarden.cli.output import emit_json, emit_rows, err
from pgwarden.cli.runtime import Runtime, runtime
from pgwarden.embedded import EmbeddedServer
from pgwarden.paths import default_embedded_dir

app = typer.Typer(help="Manage the embedded PostgreSQL server.", no_args_is_help=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Server directory (default: user data dir)."),
]
PgBin = Annotated[
    Path | None,
    typer.Option(
        "--pg-bin", help="Use system PostgreSQL binaries from this directory."
    ),
]


def server_for(
    rt: Runtime, data_dir: Path | None, pg_bin: Path | None
) -> EmbeddedServer:
    chosen = data_dir or rt.settings.embedded.data_dir or default_embedded_dir()
    return EmbeddedServer(chosen, pg_bin=pg_bin or rt.settings.embedded.pg_bin)


@app.command("start")
def start(ctx: typer.Context, data_dir: DataDir = None, pg_bin: PgBin = None) -> None:
    """Start the server (initialising it on first use) on the port it used before.

    A running server is kept. The port moves only when another process listens on
    it, with a warning naming the old and the new port.
    """
    server = server_for(runtime(ctx), data_dir, pg_bin)
    was_running = server.status().running
    status = server.start()
    verb = "already running" if was_running else "started"
    err.print(
        f"PostgreSQL {status.major_version} {verb} on 127.0.0.1:{status.port} "
        f"(pid {status.pid}, {status.data_dir})"
    )


@app.command("stop")
def stop(ctx: typer.Context, data_dir: DataDir = None) -> None:
    """Stop the server cleanly; nothing to do when it is not running."""
    server = server_for(runtime(ctx), data_dir, None)
    err.print("stopped" if server.stop() else "not running")


@app.command("status")
def status(
    ctx: typer.Context,
    data_dir: DataDir = None,
    fmt: Annotated[str | None, typer.Option("--format", help="json or table.")] = None,
) -> None:
    """Show whether the server is initialised and running; exit 3 when it is not."""
    rt = runtime(ctx)
    info = server_for(rt, data_dir, None).status()
    if rt.output_format(fmt) == "json":
        emit_json(info.as_dict())
    else:
        rows = list(info.as_dict().items())
        emit_rows(rt.output_format(fmt), "Embedded server", ["field", "value"], rows)
    if not info.running:
        raise typer.Exit(3)


@app.command("dsn")
def dsn(
    ctx: typer.Context,
    data_dir: DataDir = None,
    dbname: Annotated[
        str, typer.Option("--dbname", help="Database name.")
    ] = "postgres",
) -> None:
    """Print the connection URI (it contains the password)."""
    typer.echo(server_for(runtime(ctx), data_dir, None).dsn(dbname))
