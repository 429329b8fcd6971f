"""``pgwarden slow-queries`` and ``pgwarden ingest-log``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pgwarden import pg
from pgwarden.cli.output import emit_json, emit_rows, err
from pgwarden.cli.runtime import Runtime, runtime
from pgwarden.errors import ConfigurationError, ConnectionFailed

if TYPE_CHECKING:
    from pgwarden.slowlog.param_values import Observer

FormatOption = Annotated[
    str | None, typer.Option("--format", help="json, table or md.")
]
_TABLE_COLUMNS = ("ts", "severity", "duration_ms", "database", "source", "caller")


def slow_queries(
    ctx: typer.Context,
    since: Annotated[
        str, typer.Option("--since", help="How far back: 30m, 1h, 2d.")
    ] = "1h",
    min_ms: Annotated[
        float, typer.Option("--min-ms", help="Only queries at least this slow.")
    ] = 100,
    fmt: FormatOption = None,
) -> None:
    """List recent slow queries (normalised text, severity, caller, source)."""
    from pgwarden.slowlog.report import parse_since, recent

    rt = runtime(ctx)
    try:
        start = datetime.now(UTC) - parse_since(since)
    except ValueError as exc:
        raise ConfigurationError(f"--since: {exc}") from exc
    with pg.connect(rt.repository_dsn()) as conn:
        rows = recent(conn, start, min_ms)
    chosen = rt.output_format(fmt)
    if chosen == "json":
        emit_json(rows)
        return
    emit_rows(chosen, f"slow queries since {since}", [*_TABLE_COLUMNS, "query"],
              [_table_row(row) for row in rows])  # fmt: skip


def _table_row(row: dict[str, Any]) -> list[Any]:
    cells = [row[column] for column in _TABLE_COLUMNS]
    cells[0] = row["ts"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    cells[2] = f"{row['duration_ms']:.1f}"
    query = " ".join(str(row["query"]).split())
    return [*cells, query if len(query) <= 120 else query[:117] + "..."]


def ingest_log(
    ctx: typer.Context,
    path: Annotated[
        str, typer.Argument(help="A jsonlog/csvlog file or directory, or - for stdin.")
    ],
) -> None:
    """Read slow statements from a PostgreSQL server log into the slow query log.

    A record that cannot be read is skipped and counted; the rest is read.
    """
    from pgwarden.slowlog import ingest_server_log, ingest_stream
    from pgwarden.slowlog.severity import Thresholds
    from pgwarden.slowlog.store import ensure_target

    rt = runtime(ctx)
    settings = rt.settings.slow_queries
    policy: dict[str, Any] = {
        "thresholds": Thresholds.from_settings(settings),
        "retention_days": settings.retention_days,
    }
    if path != "-" and not Path(path).exists():
        raise ConfigurationError(f"{path}: no such file or directory")
    with pg.connect(rt.repository_dsn()) as conn, _observer(rt) as observer:
        target_id = ensure_target(conn, rt.target_name())
        policy["observer"] = observer
        if path == "-":
            result = ingest_stream(conn, target_id, sys.stdin.buffer, **policy)
        else:
            result = ingest_server_log(conn, target_id, path, **policy)
    err.print(result.summary(), markup=False)


@contextmanager
def _observer(rt: Runtime) -> Iterator[Observer | None]:
    """The target's parameter value observer, or None when off or unreachable."""
    if not rt.settings.slow_queries.parameter_values:
        yield None
        return
    from pgwarden.slowlog.param_values import Observer

    try:
        target = pg.connect(rt.target_dsn())
    except ConnectionFailed as exc:
        err.print(f"parameter values not counted (target unreachable): {exc}")
        yield None
        return
    with target:
        yield Observer(target)
