"""``pgwarden rehearse``: release rehearsal and dry run, and its stored reports.

``rehearse --plan release.toml`` (or ``rehearse run --plan …``) exits 0 on go, 1 on
no-go, 2 on a bad plan or option, 3 when the target or the rehearsal database cannot
be used.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from pgwarden import pg
from pgwarden.cli.output import emit_rows, err
from pgwarden.cli.runtime import Runtime, runtime
from pgwarden.errors import ConfigurationError, TargetError

app = typer.Typer(
    help="Release rehearsal: pre-flight checks, steps and rollback on a clone, "
    "go/no-go.",
    invoke_without_command=True,
)
REPORT_FORMATS = ("md", "json")
FormatOption = Annotated[
    str | None, typer.Option("--format", help="md (default) or json.")
]


def _report_format(rt: Runtime, fmt: str | None) -> str:
    chosen = fmt or rt.format or "md"
    if chosen not in REPORT_FORMATS:
        raise ConfigurationError(f"--format: {chosen!r} is not one of md, json")
    return chosen


@contextmanager
def _interruptible() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C, so the clone is still dropped."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


PlanOption = Annotated[
    Path, typer.Option("--plan", help="The release plan (release.toml).")
]
KeepCloneOption = Annotated[
    bool, typer.Option("--keep-clone", help="Do not drop the clone afterwards.")
]
ChecksOnlyOption = Annotated[
    bool,
    typer.Option(
        "--checks-only", help="Only the pre-flight checks (no clone, no steps)."
    ),
]
StoreOption = Annotated[
    bool,
    typer.Option("--store/--no-store", help="Keep the report in the repository."),
]


@app.callback()
def rehearse_cmd(
    ctx: typer.Context,
    plan_file: Annotated[
        Path | None, typer.Option("--plan", help="The release plan: rehearse it.")
    ] = None,
    fmt: FormatOption = None,
    keep_clone: KeepCloneOption = False,
    checks_only: ChecksOnlyOption = False,
    store: StoreOption = True,
) -> None:
    """``pgwarden rehearse --plan FILE`` is ``pgwarden rehearse run --plan FILE``."""
    if ctx.invoked_subcommand is not None:
        if plan_file is not None:
            raise ConfigurationError(
                f"--plan goes with rehearse (or rehearse run), not with "
                f"rehearse {ctx.invoked_subcommand}"
            )
        return
    if plan_file is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(2)
    run_cmd(ctx, plan_file, fmt, keep_clone, checks_only, store)


@app.command("run")
def run_cmd(
    ctx: typer.Context,
    plan_file: PlanOption,
    fmt: FormatOption = None,
    keep_clone: KeepCloneOption = False,
    checks_only: ChecksOnlyOption = False,
    store: StoreOption = True,
) -> None:
    """Rehearse a release: exit 0 on go, 1 on no-go."""
    from pgwarden.ops.rehearse import plan as rehearse_plan
    from pgwarden.ops.rehearse import report as rehearse_report
    from pgwarden.ops.rehearse import run as rehearse

    rt = runtime(ctx)
    chosen = _report_format(rt, fmt)
    plan = rehearse_plan.load(plan_file)
    with _interruptible():
        report = rehearse.run(
            plan,
            rt.target_dsn(),
            rt.repository_dsn(),
            keep_clone=keep_clone,
            checks_only=checks_only,
            progress=lambda line: err.print(line, markup=False),
        )
    if store:
        _store(rt, report)
    typer.echo(rehearse_report.render(report, chosen), nl=False)
    err.print(f"verdict: {report['verdict']} ({report['reason']})", markup=False)
    if report["verdict"] != "go":
        raise typer.Exit(1)


def _store(rt: Runtime, report: dict[str, Any]) -> None:
    from pgwarden.ops.rehearse import store as rehearse_store

    try:
        with pg.connect(rt.repository_dsn()) as conn:
            report["id"] = rehearse_store.save(conn, report)
    except TargetError as exc:
        err.print(f"note: rehearsal not stored: {exc}", markup=False)
        return
    err.print(f"rehearsal {report['id']} stored")


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many.")] = 50,
    fmt: Annotated[
        str | None, typer.Option("--format", help="json, table or md.")
    ] = None,
) -> None:
    """Stored rehearsals, newest first."""
    from pgwarden.ops.rehearse import store as rehearse_store

    rt = runtime(ctx)
    with pg.connect(rt.repository_dsn()) as conn:
        found = rehearse_store.list_rehearsals(conn, limit)
    columns = ("id", "started_at", "target", "title", "change_request_id",
               "verdict", "release_s", "rollback_s", "window_minutes")  # fmt: skip
    emit_rows(
        rt.output_format(fmt),
        "release rehearsals",
        columns,
        [[_cell(r[c]) for c in columns] for r in found],
    )


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    return value


@app.command("show")
def show_cmd(ctx: typer.Context, rehearsal_id: int, fmt: FormatOption = None) -> None:
    """One stored rehearsal report."""
    from pgwarden.ops.rehearse import report as rehearse_report
    from pgwarden.ops.rehearse import store as rehearse_store

    rt = runtime(ctx)
    chosen = _report_format(rt, fmt)
    with pg.connect(rt.repository_dsn()) as conn:
        report = rehearse_store.get(conn, rehearsal_id)
    typer.echo(rehearse_report.render(report, chosen), nl=False)
