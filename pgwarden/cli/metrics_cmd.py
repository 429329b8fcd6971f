"""``pgwarden metrics`` and ``pgwarden queries top``: the dashboard's numbers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import typer

from pgwarden import pg
from pgwarden.cli.output import emit_json, emit_rows, emit_table
from pgwarden.cli.runtime import Runtime, runtime
from pgwarden.errors import ConfigurationError

FormatOption = Annotated[
    str | None, typer.Option("--format", help="json, table or md.")
]
IncludeOwnOption = Annotated[
    bool,
    typer.Option(
        "--include-own", help="Count pgwarden's own statements as workload too."
    ),
]
TOP_COLUMNS = ("queryid", "calls", "mean_ms", "max_ms", "total_ms", "share", "caller",
               "query")  # fmt: skip


def metrics(
    ctx: typer.Context, fmt: FormatOption = None, include_own: IncludeOwnOption = False
) -> None:
    """Throughput, cache hit ratio, connections, slowest queries, tables, indexes."""
    from pgwarden.collect.history import target_id
    from pgwarden.observe import performance_metrics

    rt = runtime(ctx)
    name = rt.target_name()
    now = datetime.now(UTC)
    with pg.connect(rt.repository_dsn()) as repo:
        found = target_id(repo, name)
        with _target(rt, found) as target:
            result = performance_metrics(
                repo, found, now, rt.settings, target_name=name,
                target_conn=target, target_dsn=rt.target_dsn(),
                include_own=include_own,
            )  # fmt: skip
    data = result.as_dict()
    if rt.output_format(fmt) == "json":
        emit_json(data)
    else:
        _print_metrics(rt.output_format(fmt), data)


def _target(rt: Runtime, target_id: int | None) -> Any:
    """A live connection only while there is no history to read."""
    from contextlib import nullcontext

    if target_id is not None:
        return nullcontext(None)
    return pg.connect(
        rt.target_dsn(), statement_timeout_ms=rt.settings.statement_timeout_ms
    )


def _print_metrics(fmt: str, data: dict[str, Any]) -> None:
    conns = data["active_connections"] or {}
    summary = [
        ("interval end", data["interval_end"]),
        ("queries per second", data["queries_per_second"]),
        ("mean latency ms", data["mean_latency_ms"]),
        ("cache hit ratio", data["cache_hit_ratio"]["database"]),
        ("app cache hit ratio", data["cache_hit_ratio"]["application"]),
        ("connections", conns.get("total")),
        ("connection utilisation", conns.get("utilisation")),
        ("slow queries / minute", data["slow_queries_per_minute"]["total"]),
        ("unused indexes", _unused(data)),
        *_error_rows(data["error_rates"]),
        ("own statements left out", _own(data["own_statements"])),
        *(("note", note) for note in data["notes"]),
    ]
    emit_rows(fmt, f"metrics of {data['target']}", ["metric", "value"], summary)
    emit_rows(fmt, "slowest queries (last hour)", TOP_COLUMNS,
              [_top_row(q) for q in data["slowest_queries"]])  # fmt: skip
    tables = [(f"{t['schema']}.{t['table']}", t["total_size_bytes"], t["rows"],
               t["growth_bytes_per_day"]) for t in data["table_sizes"]]  # fmt: skip
    emit_rows(fmt, "tables", ["table", "total_bytes", "rows", "growth_per_day"], tables)


def _error_rows(rates: dict[str, Any] | None) -> list[tuple[str, Any]]:
    if rates is None or not rates["recorded"]:
        return [
            ("errors / minute", "not recorded (no server log read, no app reports)")
        ]
    share = rates["share"]
    classes = ", ".join(f"{k} {n}" for k, n in rates["by_class"].items())
    return [
        (f"errors / minute (last {rates['minutes']:g} min)",
         f"{rates['per_minute']:.2f} ({rates['errors']} errors)"),
        ("error share of calls",
         "calls not recorded" if share is None else f"{100 * share:.3f} %"),
        ("errors by class", classes or "none"),
    ]  # fmt: skip


def _unused(data: dict[str, Any]) -> str | None:
    """As ``pgwarden indexes health`` counts them (constraint indexes never)."""
    if data["unused_indexes"] is None:
        return None
    days = data["index_window_days"]
    return f"{data['unused_indexes']} (no scan in {days} days)"


def _own(own: dict[str, Any]) -> str:
    if not own["excluded"]:
        return "none (--include-own)"
    return f"{own['statements']} statements, {own['calls']} calls last interval"


def _top_row(q: dict[str, Any]) -> list[Any]:
    text = " ".join(str(q["query"]).split())
    share = f"{q['share_of_total_time'] * 100:.1f}%"
    return [q["queryid"], q["calls"], _ms(q["mean_ms"]), _ms(q["max_ms"]),
            _ms(q["total_ms"]), share, q["caller"], text[:100]]  # fmt: skip


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def queries_top(
    ctx: typer.Context,
    by: Annotated[
        str, typer.Option("--by", help="Rank by total or mean time, or calls.")
    ] = "total",
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many.")] = 10,
    fmt: FormatOption = None,
    include_own: IncludeOwnOption = False,
) -> None:
    """The top statements of the last hour of collected history."""
    from pgwarden.collect.history import target_id
    from pgwarden.observe import top_queries

    rt = runtime(ctx)
    key = _sort_key(by)
    with pg.connect(rt.repository_dsn()) as repo:
        found = target_id(repo, rt.target_name())
        rows = (
            top_queries(repo, found, key, limit, include_own=include_own)
            if found is not None
            else ()
        )
    data = [{**q.__dict__, "queryid": str(q.queryid)} for q in rows]
    if rt.output_format(fmt) == "json":
        emit_json(data)
        return
    table = [_top_row(q) for q in data]
    if rt.output_format(fmt) == "table":
        emit_table(f"top queries by {key}", TOP_COLUMNS, table)
    else:
        emit_rows(rt.output_format(fmt), f"top queries by {key}", TOP_COLUMNS, table)


def _sort_key(by: str) -> Literal["total", "mean", "calls"]:
    keys: dict[str, Literal["total", "mean", "calls"]] = {
        "total": "total", "mean": "mean", "calls": "calls"}  # fmt: skip
    if by in keys:
        return keys[by]
    raise ConfigurationError(f"--by: {by!r} is not one of total, mean, calls")


def queries_advise(
    ctx: typer.Context,
    fmt: Annotated[str | None, typer.Option("--format", help="json or md.")] = None,
) -> None:
    """N+1 patterns, missing indexes, plan problems (nested loops, spills, estimates,
    stale statistics), OFFSET pagination and planning time, each with a fix."""
    from pgwarden.advise.queries import query_advice_markdown as markdown
    from pgwarden.advise.queries import run_query_advice as run
    from pgwarden.cli.output import err

    rt = runtime(ctx)
    chosen = rt.output_format(fmt, default="md", allowed=("json", "md"))
    result, _advice = run(rt.settings, rt.target_dsn(), rt.repository_dsn())
    data = result.as_dict()
    if chosen == "json":
        emit_json(data)
    else:
        typer.echo(markdown(data), nl=False)
    for note in result.notes:
        err.print(f"note: {note}")
