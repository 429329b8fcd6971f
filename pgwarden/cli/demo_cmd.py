"""``pgwarden demo`` and ``pgwarden demo-db``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from pgwarden import pg
from pgwarden.cli.options import listen_port, seconds
from pgwarden.cli.output import err, out
from pgwarden.cli.runtime import runtime

db_app = typer.Typer(help="The reference application database.", no_args_is_help=True)

Scale = Annotated[
    str, typer.Option("--scale", help="tiny, small or medium.", case_sensitive=False)
]


SCALES = ("tiny", "small", "medium")


def _check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise typer.BadParameter(
            f"{scale!r} is not one of {', '.join(SCALES)}", param_hint="--scale"
        )
    return scale


@db_app.command("load")
def load(
    ctx: typer.Context,
    scale: Scale = "small",
    reset: Annotated[
        bool, typer.Option("--reset", help="Drop and reload existing reference tables.")
    ] = False,
) -> None:
    """Create the reference app schema and data in the target database."""
    from pgwarden.demo import data
    from pgwarden.demo.sqlcommenter import APPLICATION

    rt = runtime(ctx)
    with pg.connect(
        rt.target_dsn(), autocommit=False, statement_timeout_ms=None,
        application_name=APPLICATION, workload=True,
    ) as conn:  # fmt: skip
        summary = data.load(
            conn,
            _check_scale(scale),
            reset=reset,
            on_step=lambda s: err.print(f"  {s}"),
        )
    rows = sum(summary.rows.values())
    err.print(
        f"loaded scale {summary.scale}: {len(summary.rows)} tables, "
        f"{rows:,} rows in {summary.seconds:.1f} s into {pg.describe(rt.target_dsn())}"
    )


def demo(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Embedded server directory.")
    ] = None,
    scale: Scale = "small",
    duration: Annotated[
        float | None,
        typer.Option(
            "--duration",
            callback=seconds("--duration"),
            help="Stop after this many seconds (default: Ctrl-C).",
        ),
    ] = None,
    rate: Annotated[
        float, typer.Option("--rate", help="Reference app actions per second.")
    ] = 5.0,
    keep_running: Annotated[
        bool,
        typer.Option("--keep-running", help="Leave the server running at the end."),
    ] = False,
    port: Annotated[
        int | None, typer.Option("--port", help="Dashboard port (dashboard.port).")
    ] = None,
    collect_interval: Annotated[
        float,
        typer.Option(
            "--collect-interval",
            min=1,
            callback=seconds("--collect-interval"),
            help="Seconds between snapshots.",
        ),
    ] = 15.0,
) -> None:
    """Run the embedded server, reference data, worker, dashboard and workload."""
    from pgwarden.demo.run import DemoOptions, run_demo

    rt = runtime(ctx)
    if not rt.debug:  # job failures are reported in one line, without traceback
        logging.getLogger("procrastinate").propagate = False
    options = DemoOptions(
        settings=rt.settings,
        port=None if port is None else listen_port(port, "--port", any_port=True),
        collect_interval=collect_interval,
        data_dir=data_dir or rt.settings.embedded.data_dir,
        pg_bin=rt.settings.embedded.pg_bin,
        scale=_check_scale(scale),
        duration=duration,
        rate=rate,
        keep_running=keep_running,
    )
    run_demo(options, say=err.print, show=out.print)
