"""The ``pgwarden`` command line: the only place errors become exit codes.

Exit codes: 0 success, 1 a finding at or above ``--fail-on``, 2 usage or
configuration error, 3 target unreachable or lacking what the command needs.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from pgwarden import __version__
from pgwarden.cli import (
    activity_cmd,
    alerts_cmd,
    capacity_cmd,
    ccb_cmd,
    collect_cmd,
    config_cmd,
    db_cmd,
    demo_cmd,
    embedded_cmd,
    indexes_cmd,
    load_cmd,
    maintain_cmd,
    metrics_cmd,
    oncall_cmd,
    partitions_cmd,
    rehearse_cmd,
    report_cmd,
    review_cmd,
    serve_cmd,
    slowlog_cmd,
    targets_cmd,
    worker_cmd,
)
from pgwarden.cli.argv import hoist
from pgwarden.cli.output import err
from pgwarden.cli.runtime import Runtime
from pgwarden.config import load_settings
from pgwarden.dsn import filter_logs
from pgwarden.errors import ConfigurationError, PgwardenError

app = typer.Typer(
    name="pgwarden",
    help="PostgreSQL performance governance: observe, maintain, plan and operate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pgwarden {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    ctx: typer.Context,
    dsn: Annotated[
        str | None,
        typer.Option(
            "--dsn",
            envvar="PGWARDEN_DSN",
            show_envvar=True,
            help="Target database (libpq DSN or URI); default: libpq PG* variables.",
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            help="A registered target (pgwarden targets list) instead of --dsn; "
            "needs --repository-dsn.",
        ),
    ] = None,
    repository_dsn: Annotated[
        str | None,
        typer.Option(
            "--repository-dsn",
            envvar="PGWARDEN_REPOSITORY_DSN",
            show_envvar=True,
            help="Database holding pgwarden's schema; default: the target.",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="PGWARDEN_CONFIG",
            help="Settings file (default: ./pgwarden.toml when present).",
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="Output format: json, table, md or html."),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Log details and show tracebacks.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    overrides = {"dsn": dsn, "repository_dsn": repository_dsn}
    settings = load_settings(config, overrides)
    filter_logs(*(s.get_secret_value() for s in (settings.dsn, settings.repository_dsn)
                  if s is not None))  # fmt: skip
    if target is not None and dsn is not None and _given(ctx, "dsn"):
        raise ConfigurationError("--target and --dsn name a target each: give one")
    ctx.obj = Runtime(settings=settings, format=None, debug=debug, target=target)
    if fmt is not None:
        ctx.obj = Runtime(
            settings=settings, format=ctx.obj.output_format(fmt), debug=debug,
            target=target,
        )  # fmt: skip


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether the option was given on the command line (not from the environment)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


app.add_typer(config_cmd.app, name="config")
app.add_typer(embedded_cmd.app, name="embedded")
app.add_typer(demo_cmd.db_app, name="demo-db")
app.command("demo")(demo_cmd.demo)
app.command("doctor")(db_cmd.doctor)
app.command("init")(db_cmd.init)
app.command("collect")(collect_cmd.collect)
app.command("slow-queries")(slowlog_cmd.slow_queries)
app.command("ingest-log")(slowlog_cmd.ingest_log)
app.command("metrics")(metrics_cmd.metrics)
app.command("activity")(activity_cmd.activity)
app.command("serve")(serve_cmd.serve)
queries_app = typer.Typer(
    help="Statements from pgwarden's history.", no_args_is_help=True
)
queries_app.command("top")(metrics_cmd.queries_top)
queries_app.command("advise")(metrics_cmd.queries_advise)
app.add_typer(queries_app, name="queries")
app.add_typer(alerts_cmd.app, name="alerts")
app.add_typer(oncall_cmd.app, name="oncall")
app.add_typer(load_cmd.app, name="load")
app.add_typer(indexes_cmd.app, name="indexes")
app.add_typer(report_cmd.app, name="report")
app.add_typer(capacity_cmd.app, name="capacity")
app.add_typer(partitions_cmd.app, name="partitions")
app.add_typer(maintain_cmd.app, name="maintain")
app.add_typer(ccb_cmd.app, name="ccb")
app.add_typer(rehearse_cmd.app, name="rehearse")
app.add_typer(review_cmd.app, name="review")
app.add_typer(targets_cmd.app, name="targets")
app.command("worker")(worker_cmd.worker)
app.add_typer(worker_cmd.jobs_app, name="jobs")


def main() -> None:
    """Console entry point."""
    command = typer.main.get_command(app)
    args = hoist(command, sys.argv[1:])
    options = args[: args.index("--")] if "--" in args else args
    debug = "--debug" in options
    try:
        command.main(args, prog_name="pgwarden")
    except PgwardenError as exc:
        if debug:  # the traceback, then the same line and exit code as without
            traceback.print_exc()
        # the message may quote what the user typed: never read it as markup
        err.print(f"[red]error:[/red] {escape(str(exc))}", markup=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
