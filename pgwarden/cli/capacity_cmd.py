"""``pgwarden capacity baseline|project``: capacity planning from the history."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from pgwarden import pg
from pgwarden.cli.output import emit_json, err
from pgwarden.cli.runtime import Runtime, runtime
from pgwarden.errors import ConfigurationError

app = typer.Typer(
    help="Capacity baseline and projections from pgwarden's history.",
    no_args_is_help=True,
)
Fmt = Annotated[str | None, typer.Option("--format", help="json or md.")]


def _baseline(rt: Runtime) -> Any:
    from pgwarden.plan import build_baseline, inputs, target_of

    name = rt.target_name()
    timeout = rt.settings.statement_timeout_ms
    cap = rt.settings.capacity
    with pg.connect(rt.repository_dsn(), statement_timeout_ms=timeout) as repo:
        found = target_of(repo, name)
        with pg.connect(rt.target_dsn(), statement_timeout_ms=timeout) as target:
            gathered = inputs(repo, target, found, name, datetime.now(UTC), cap)
    return build_baseline(gathered, cap)


def _fmt(rt: Runtime, fmt: str | None) -> str:
    return rt.output_format(fmt, default="md", allowed=("json", "md"))


@app.command("baseline")
def baseline(ctx: typer.Context, fmt: Fmt = None) -> None:
    """Size and growth, peak rate, connections, memory and index storage."""
    from pgwarden.plan import baseline_md

    rt = runtime(ctx)
    chosen = _fmt(rt, fmt)
    result = _baseline(rt)
    if chosen == "json":
        emit_json(result.as_dict())
    else:
        sys.stdout.write(baseline_md(result))
    if result.needs_days > 0:
        err.print(f"note: {result.database.note}")


@app.command("project")
def project(
    ctx: typer.Context,
    months: Annotated[
        str | None,
        typer.Option("--months", help="Horizons in months, e.g. 6,12."),
    ] = None,
    users_x: Annotated[
        float | None,
        typer.Option("--users-x", help="Users multiplier, e.g. 10.", min=0.001),
    ] = None,
    xlsx: Annotated[
        Path | None, typer.Option("--xlsx", help="Write the spreadsheet model here.")
    ] = None,
    load_report: Annotated[
        Path | None,
        typer.Option("--load-report", help="A load elasticity JSON (USL fit)."),
    ] = None,
    fmt: Fmt = None,
) -> None:
    """Sizes at future horizons and at more users; pool, memory, threshold dates."""
    from pgwarden.plan import Assumptions, projection_md
    from pgwarden.plan import project_capacity as run_projection

    rt = runtime(ctx)
    chosen = _fmt(rt, fmt)
    try:
        assumptions = Assumptions.of(rt.settings, months, users_x)
    except ValueError as exc:
        raise ConfigurationError(f"--months: {exc}") from exc
    load = read_load_report(load_report) if load_report is not None else None
    if xlsx is not None:
        _check_writable(xlsx)
    result = _baseline(rt)
    projection = run_projection(result, assumptions, load)
    if xlsx is not None:
        _write_xlsx(xlsx, projection)
    if chosen == "json":
        emit_json(projection.as_dict())
    else:
        sys.stdout.write(projection_md(projection))
    if result.needs_days > 0:
        err.print(f"note: {result.database.note}")


def _write_xlsx(path: Path, projection: Any) -> None:
    from pgwarden.plan import xlsx

    xlsx.write(path, projection)
    err.print(f"spreadsheet written to {path}")


def _check_writable(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ConfigurationError(f"--xlsx {path}: is a directory")
    if not parent.is_dir():
        raise ConfigurationError(f"--xlsx {path}: directory {parent} does not exist")


def read_load_report(path: Path) -> dict[str, Any]:
    """The USL fit of a load report, or a one-line ConfigurationError."""
    from pgwarden.plan import usl_of

    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigurationError(
            f"--load-report {path}: cannot read: {exc.strerror or exc}"
        ) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"--load-report {path}: not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"--load-report {path}: not a load report object")
    try:
        return usl_of(data)
    except ValueError as exc:
        raise ConfigurationError(f"--load-report {path}: {exc}") from exc
