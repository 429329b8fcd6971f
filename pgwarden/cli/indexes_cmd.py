"""``pgwarden indexes``: index health findings and usage statistics."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from pgwarden import pg
from pgwarden.cli.output import emit_json, emit_rows, err, out
from pgwarden.cli.runtime import Runtime, runtime
from pgwarden.errors import ConfigurationError, ConnectionFailed

app = typer.Typer(help="Index health: bloat, unused, duplicate, invalid, missing.",
                  no_args_is_help=True)  # fmt: skip
FormatOption = Annotated[
    str | None, typer.Option("--format", help="json, table, md or html.")
]
_COLUMNS = ("severity", "kind", "relation", "size", "evidence", "ddl")
_USAGE = ("table", "index", "size", "scans", "tup_read", "tup_fetch", "last_scan",
          "scans_in_period", "unused")  # fmt: skip


def _health(rt: Runtime) -> Any:
    from pgwarden.advise.health import index_health

    target_dsn = rt.target_dsn()
    now = datetime.now(UTC)
    timeout = rt.settings.statement_timeout_ms
    with pg.connect(target_dsn, statement_timeout_ms=timeout) as target:
        repo = _repository(rt)
        try:
            return index_health(target, repo, rt.target_name(), rt.settings, now)
        finally:
            if repo is not None:
                repo.close()


def _repository(rt: Runtime) -> Any:
    """The repository connection, or None (history is then left out, with a note)."""
    try:
        return pg.connect(rt.repository_dsn())
    except ConnectionFailed as exc:
        err.print(f"note: no history: {exc}")
        return None


def _fail_on(text: str | None) -> str | None:
    from pgwarden.advise import check_severity

    if text is None:
        return None
    try:
        return check_severity(text)
    except ValueError as exc:
        raise ConfigurationError(f"--fail-on: {exc}") from exc


def _relation(f: Any) -> str:
    return f"{f.schema}.{f.table}" + (f" / {f.index}" if f.index else "")


@app.command("health")
def health(
    ctx: typer.Context,
    fmt: FormatOption = None,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            help="Exit 1 on a finding at or above: info, warning or critical.",
        ),
    ] = None,
) -> None:
    """Bloat, unused, duplicate, redundant and invalid indexes; FKs without an index;
    tables without a primary key; mostly-NULL indexes; missing-index signals."""
    from pgwarden.advise import at_or_above
    from pgwarden.advise.health import build, evidence_text, render
    from pgwarden.reports import human_bytes

    rt = runtime(ctx)
    threshold = _fail_on(fail_on)
    chosen = rt.output_format(fmt)
    result = _health(rt)
    if chosen == "json":
        emit_json([f.as_dict() for f in result.findings])
    elif chosen in ("md", "html"):
        typer.echo(render(build(result), chosen), nl=False)
    else:
        rows = [[f.severity + (" (provisional)" if f.provisional else ""), f.kind,
                 _relation(f), human_bytes(f.size_bytes), evidence_text(
                     dict(f.evidence)), f.ddl or ""]
                for f in result.findings]  # fmt: skip
        emit_rows("table", f"index health of {result.target}", _COLUMNS, rows,
                  whole=("ddl",))  # fmt: skip
        e = result.efficiency
        out.print(
            f"unused indexes: {e.unused} of {e.indexes} ({e.unused_pct} %); "
            f"objective < {e.target_pct} % after {e.after_days} days"
        )
    for note in result.notes:
        err.print(f"note: {note}")
    if threshold and at_or_above(result.findings, threshold):
        raise typer.Exit(1)


@app.command("usage")
def usage(ctx: typer.Context, fmt: FormatOption = None) -> None:
    """Scans, tuples read and fetched, size and last scan (16+) of every index."""
    from pgwarden.reports import human_bytes

    rt = runtime(ctx)
    result = _health(rt)
    chosen = rt.output_format(fmt)
    if chosen == "json":
        emit_json({"efficiency": result.efficiency.as_dict(),
                   "indexes": [u.as_dict() for u in result.usage]})  # fmt: skip
        return
    rows = [[f"{u.schema}.{u.table}", u.index, human_bytes(u.size_bytes), u.scans,
             u.tup_read, u.tup_fetch, u.last_scan, u.scans_in_period,
             "yes" if u.unused else ""] for u in result.usage]  # fmt: skip
    emit_rows(chosen, f"index usage of {result.target}", _USAGE, rows)
    e = result.efficiency
    err.print(f"index efficiency: {e.unused_pct} % unused ({e.unused} of {e.indexes})"
              f"; objective < {e.target_pct} % after {e.after_days} days")  # fmt: skip


BudgetOption = Annotated[
    float | None,
    typer.Option("--budget-mb", min=0, help="Byte budget of new indexes (MB)."),
]
_ADVICE = ("table", "ddl", "size", "saves", "cost_reduction_pct", "queries",
           "confidence")  # fmt: skip


def _advice(
    rt: Runtime, budget_mb: float | None, allow_lock: bool | None = None
) -> Any:
    from pgwarden.advise.indexes import run_advisor as run

    return run(rt.settings, rt.target_dsn(), rt.repository_dsn(), budget_mb, allow_lock)


def _emit_advice(rt: Runtime, advice: Any, fmt: str | None, key: str) -> None:
    from pgwarden.advise.indexes import advice_markdown as markdown
    from pgwarden.advise.indexes import advice_rows as rows

    chosen = rt.output_format(fmt)
    data = advice.as_dict()
    if chosen == "json":
        emit_json(data if key == "recommendations" else data[key])
    elif chosen == "md":
        typer.echo(markdown(data, key), nl=False)
    else:
        title = (
            f"index {'advice' if key == 'recommendations' else key} of {data['target']}"
        )
        emit_rows(chosen, title, _ADVICE, rows(data[key]), whole=("ddl",))
    for note in advice.notes:
        err.print(f"note: {note}")


@app.command("advise")
def advise(
    ctx: typer.Context,
    budget_mb: BudgetOption = None,
    fmt: FormatOption = None,
    allow_lock: Annotated[
        bool,
        typer.Option(
            "--allow-lock",
            help="On partitioned tables, one plain CREATE INDEX (blocks writes "
            "while it builds) instead of the per-partition CONCURRENTLY procedure.",
        ),
    ] = False,
) -> None:
    """Indexes for the whole workload, verified with hypopg (heuristic and marked
    unverified without it): DDL, size from pg_stats, cost before/after per query."""
    rt = runtime(ctx)
    advice = _advice(rt, budget_mb, allow_lock or None)
    _emit_advice(rt, advice, fmt, "recommendations")
    if advice.reduction_pct is not None:
        err.print(
            f"workload cost reduction: {advice.reduction_pct} % "
            f"({advice.statements} statements, {advice.plans} plans)"
        )


@app.command("partial")
def partial(ctx: typer.Context, fmt: FormatOption = None) -> None:
    """Partial-index opportunities: queries filtering a skewed column on a rare
    value, with the size saved against the full index."""
    rt = runtime(ctx)
    _emit_advice(rt, _advice(rt, None), fmt, "partial")


@app.command("verify")
def verify(
    ctx: typer.Context,
    index: Annotated[str, typer.Argument(help="The index created (name).")],
    created_at: Annotated[
        datetime | None,
        typer.Option("--created-at", help="When it was created (default: history)."),
    ] = None,
    fmt: FormatOption = None,
) -> None:
    """Each affected query's mean time and buffers before and after the index was
    created, from history; exits 1 when one regressed."""
    from pgwarden.advise.indexes import run_verify

    rt = runtime(ctx)
    result = run_verify(rt.settings, rt.target_dsn(), rt.repository_dsn(), index,
                        created_at)  # fmt: skip
    chosen = rt.output_format(fmt)
    if chosen == "json":
        emit_json(result.as_dict())
    else:
        cols = (
            "queryid",
            "calls_before",
            "mean_ms_before",
            "calls_after",
            "mean_ms_after",
            "blks_before",
            "blks_after",
            "verdict",
            "query",
        )
        emit_rows(
            chosen,
            f"{index} created {result.created_at}",
            cols,
            [[q.get(c) for c in cols] for q in result.as_dict()["queries"]],
        )
    for note in result.notes:
        err.print(f"note: {note}")
    if result.regressions:
        raise typer.Exit(1)
