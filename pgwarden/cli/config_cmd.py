"""``pgwarden config``: the effective settings."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pgwarden.cli.output import emit_json, emit_rows
from pgwarden.cli.runtime import runtime
from pgwarden.config import effective

app = typer.Typer(help="Show the effective settings.", no_args_is_help=True)


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            rows += _flatten(value, f"{prefix}{key}.")
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


@app.command("show")
def show(
    ctx: typer.Context,
    fmt: Annotated[
        str | None, typer.Option("--format", help="json, table or md.")
    ] = None,
) -> None:
    """Print every setting with its effective value; secrets are masked."""
    rt = runtime(ctx)
    data = effective(rt.settings)
    chosen = rt.output_format(fmt)
    if chosen == "json":
        emit_json(data)
    else:
        emit_rows(chosen, "Settings", ["setting", "value"], _flatten(data))
