"""``pgwarden partitions advise``: which tables to partition, on what key, and how."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from pgwarden import pg
from pgwarden.cli.output import emit_json
from pgwarden.cli.runtime import runtime

app = typer.Typer(help="Partitioning advice for large tables.", no_args_is_help=True)


@app.command("advise")
def advise(
    ctx: typer.Context,
    min_rows: Annotated[
        int | None,
        typer.Option("--min-rows", min=0, help="Advise above this many rows."),
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="json or md.")] = None,
) -> None:
    """Key, partitions, DDL and migration plan for tables above the threshold."""
    from pgwarden.plan import target_of
    from pgwarden.plan.partitions import gather, report_md

    rt = runtime(ctx)
    chosen = rt.output_format(fmt, default="md", allowed=("json", "md"))
    settings = rt.settings.partitioning
    if min_rows is not None:
        settings = settings.model_copy(update={"min_rows": min_rows})
    name = rt.target_name()
    timeout = rt.settings.statement_timeout_ms
    with pg.connect(rt.target_dsn(), statement_timeout_ms=timeout) as target:
        with pg.connect(rt.repository_dsn(), statement_timeout_ms=timeout) as repo:
            found = target_of(repo, name)
            report = gather(
                target,
                repo,
                found,
                name,
                settings,
                rt.settings.capacity.memory_bytes,
                datetime.now(UTC),
            )
    if chosen == "json":
        emit_json(report.as_dict())
    else:
        sys.stdout.write(report_md(report))
