"""``pgwarden doctor`` and ``pgwarden init``."""

from __future__ import annotations

from typing import Annotated

import typer

from pgwarden import pg
from pgwarden.cli.output import emit_json, emit_rows, err
from pgwarden.cli.runtime import runtime

FormatOption = Annotated[
    str | None, typer.Option("--format", help="json, table or md.")
]


def doctor(
    ctx: typer.Context,
    fmt: FormatOption = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 when any check is not ok.")
    ] = False,
) -> None:
    """Check capabilities and privileges; each missing one comes with its fix."""
    from pgwarden import doctor as doctor_mod

    rt = runtime(ctx)
    timeout = rt.settings.statement_timeout_ms
    with pg.connect(rt.target_dsn(), statement_timeout_ms=timeout) as conn:
        report = doctor_mod.run(
            conn, rt.settings.slow_queries.server_log_dir, rt.settings.slow_queries
        )
    chosen = rt.output_format(fmt)
    if chosen == "json":
        emit_json(report.as_dict())
    else:
        rows = [
            ("ok" if c.ok else "MISSING", c.name, c.detail, "" if c.ok else c.impact,
             c.fix or "")
            for c in report.checks
        ]  # fmt: skip
        title = f"pgwarden doctor — server_version_num {report.server_version_num}"
        columns = ["status", "check", "found", "lost", "fix"]
        emit_rows(chosen, title, columns, rows, whole=("fix",))
    if strict and not all(check.ok for check in report.checks):
        raise typer.Exit(1)


def init(ctx: typer.Context) -> None:
    """Install or migrate pgwarden's schema in the repository database."""
    from pgwarden import repository

    rt = runtime(ctx)
    dsn = rt.repository_dsn()
    with pg.connect(dsn, autocommit=False, statement_timeout_ms=None) as conn:
        result = repository.migrate(conn)
    where = pg.describe(dsn)
    if result.fresh:
        err.print(f"installed pgwarden schema version {result.to_version} in {where}")
    elif result.applied:
        names = ", ".join(result.applied)
        versions = f"{result.from_version} to {result.to_version}"
        err.print(f"migrated {where} from {versions} ({names})")
    else:
        err.print(
            f"pgwarden schema in {where} is up to date (version {result.to_version})"
        )
    from pgwarden.jobs.schema import install

    err.print(
        f"job queue in {where}: {install(dsn, rt.settings.jobs.schema_name).summary()}"
    )
