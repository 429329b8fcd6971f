"""``pgwarden maintain``: plan, run, history and status of automated maintenance."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, get_args

import typer
from rich.live import Live
from rich.text import Text

from pgwarden import pg
from pgwarden.cli.output import emit_json, emit_rows, err
from pgwarden.cli.runtime import runtime
from pgwarden.errors import ConfigurationError

app = typer.Typer(
    help="Automated maintenance: ANALYZE, VACUUM, VACUUM FULL, REINDEX.",
    no_args_is_help=True,
)
FormatOption = Annotated[
    str | None, typer.Option("--format", help="json, table or md.")
]
ForceWindow = Annotated[
    bool,
    typer.Option("--force-window", help="Allow heavy operations outside the window."),
]
_PLAN = ("table", "index", "operation", "due", "reason")
_RUN = ("table", "index", "operation", "status", "attempts", "size_before",
        "size_after", "reason")  # fmt: skip
_HISTORY = ("id", "started_at", "table", "index", "operation", "trigger", "status",
            "duration_ms", "size_before", "size_after", "reason")  # fmt: skip
_STALE = ("table", "modified_since_analyze", "last_analyzed")


def _when(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return value


def _operations(names: list[str] | None) -> list[Any]:
    from pgwarden.maintain.model import Operation

    known = get_args(Operation)
    for name in names or []:
        if name not in known:
            raise ConfigurationError(
                f"--operation: {name!r} is not one of {', '.join(known)}"
            )
    return list(names or [])


@app.command("plan")
def plan_cmd(
    ctx: typer.Context,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also list what is not due, and why.")
    ] = False,
    force_window: ForceWindow = False,
    fmt: FormatOption = None,
) -> None:
    """What is due now, per table and index, and why."""
    from pgwarden.maintain import store
    from pgwarden.maintain.cycle import guard, plan_now
    from pgwarden.maintain.window import Window

    rt = runtime(ctx)
    now = datetime.now(UTC)
    window = Window.from_settings(rt.settings)
    with pg.connect(rt.repository_dsn()) as repo, pg.connect(rt.target_dsn()) as tgt:
        store.require_schema(repo)
        guard(tgt, rt.settings)
        target_id = store.target_id(repo, rt.target_name())
        assert target_id is not None
        items, facts = plan_now(rt.settings, tgt, repo, target_id, now, force_window)
    shown = items if show_all else [i for i in items if i.due or "waits" in i.reason]
    if rt.output_format(fmt) == "json":
        emit_json({
            "target": rt.target_name(), "at": now.isoformat(),
            "window": {"span": window.describe(), "open": window.contains(now)},
            "items": [i.as_dict() for i in shown], "notes": list(facts.notes),
        })  # fmt: skip
        return
    title = (f"maintenance plan of {rt.target_name()}: {sum(i.due for i in items)} "
             f"due; window {window.describe()} "
             f"{'open' if window.contains(now) else 'closed'}")  # fmt: skip
    emit_rows(rt.output_format(fmt), title, _PLAN, [
        [f"{i.schema}.{i.table}", i.index or "", i.operation,
         "yes" if i.due else "no", i.reason] for i in shown
    ])  # fmt: skip
    for note in facts.notes:
        err.print(f"note: {note}")


@contextmanager
def _live(enabled: bool) -> Iterator[Any]:
    """A progress line on a terminal's stderr; a no-op reporter elsewhere."""
    if not enabled:
        yield None
        return
    with Live(Text(""), console=err, refresh_per_second=4, transient=True) as live:
        yield lambda progress: live.update(Text(progress.describe()))


@app.command("run")
def run_cmd(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would run; change nothing.")
    ] = False,
    table: Annotated[
        list[str] | None,
        typer.Option("--table", help="Only this table (name or schema.name)."),
    ] = None,
    operation: Annotated[
        list[str] | None,
        typer.Option(
            "--operation",
            help="Only this operation: analyze, vacuum, vacuum_freeze, vacuum_full, "
            "repack, reindex. With --table it runs even when not due.",
        ),
    ] = None,
    force_window: ForceWindow = False,
    fmt: FormatOption = None,
) -> None:
    """Run what is due now (one operation per table at a time, lock_timeout bound)."""
    from pgwarden.maintain.cycle import run_cycle

    rt = runtime(ctx)
    chosen = rt.output_format(fmt)
    cancel = threading.Event()
    with _live(chosen != "json" and err.is_terminal) as report:
        cycle = run_cycle(
            rt.settings, rt.target_dsn(), rt.repository_dsn(), trigger="manual",
            tables=table or [], operations=_operations(operation),
            force_window=force_window, dry_run=dry_run, report=report, cancel=cancel,
        )  # fmt: skip
    for found in cycle.recovered:
        err.print(f"marked failed: run {found.run_id} ({found.target}): {found.reason}")
    if dry_run:
        _emit_dry_run(chosen, cycle)
        return
    rows = [o.as_dict() for o in cycle.outcomes]
    if chosen == "json":
        emit_json({"summary": cycle.summary(), "runs": rows,
                   "stale_tables": [f"{t.schema}.{t.name}" for t in cycle.stale],
                   "notes": cycle.notes})  # fmt: skip
    else:
        emit_rows(chosen, cycle.summary(), _RUN, [
            [f"{r['schema']}.{r['table']}", r["index"] or "", r["operation"],
             r["status"], r["attempts"], r["size_before"], r["size_after"],
             r["reason"] + (f" ({r['error']})" if r["error"] else "")] for r in rows
        ])  # fmt: skip
    if any(o.denied for o in cycle.outcomes):
        raise typer.Exit(3)
    if any(o.status in ("timeout", "failed", "cancelled") for o in cycle.outcomes):
        raise typer.Exit(1)


def _emit_dry_run(chosen: str, cycle: Any) -> None:
    due = [i.as_dict() for i in cycle.items if i.due]
    if chosen == "json":
        emit_json({"summary": cycle.summary(), "would_run": due, "notes": cycle.notes})
        return
    emit_rows(chosen, cycle.summary(), _PLAN, [
        [f"{i['schema']}.{i['table']}", i["index"] or "", i["operation"], "yes",
         i["reason"]] for i in due
    ])  # fmt: skip


def _since(text: str) -> timedelta:
    from pgwarden.slowlog.report import parse_since

    try:
        return parse_since(text)
    except ValueError as exc:
        raise ConfigurationError(f"--since: {exc}") from exc


@app.command("history")
def history_cmd(
    ctx: typer.Context,
    since: Annotated[
        str, typer.Option("--since", help="Started within: 1d, 7d.")
    ] = "7d",
    fmt: FormatOption = None,
) -> None:
    """Maintenance runs, oldest first."""
    from pgwarden.maintain import store

    rt = runtime(ctx)
    start = datetime.now(UTC) - _since(since)
    with pg.connect(rt.repository_dsn()) as repo:
        store.require_schema(repo)
        target_id = store.target_id(repo, rt.target_name(), create=False)
        runs = [] if target_id is None else store.history(repo, target_id, start)
    chosen = rt.output_format(fmt)
    if chosen == "json":
        emit_json([r.as_dict() for r in runs])
        return
    emit_rows(chosen, f"maintenance runs since {_when(start)} UTC", _HISTORY, [
        [r.id, _when(r.started_at), f"{r.schema_name}.{r.table_name}",
         r.index_name or "", r.operation, r.trigger, r.status, r.duration_ms,
         r.size_before, r.size_after,
         (r.reason or "") + (f" ({r.error})" if r.error else "")] for r in runs
    ])  # fmt: skip


@app.command("status")
def status_cmd(ctx: typer.Context, fmt: FormatOption = None) -> None:
    """Running runs and tables whose statistics are stale (should be none)."""
    from pgwarden.maintain import store
    from pgwarden.maintain.cycle import stale_tables

    rt = runtime(ctx)
    with pg.connect(rt.repository_dsn()) as repo, pg.connect(rt.target_dsn()) as tgt:
        store.require_schema(repo)
        running = store.active_runs(repo, rt.target_name())
        stale = stale_tables(tgt, rt.settings)
    rows = [[f"{t.schema}.{t.name}", t.mod_since_analyze, t.last_analyzed]
            for t in stale]  # fmt: skip
    chosen = rt.output_format(fmt)
    if chosen == "json":
        emit_json({"target": rt.target_name(),
                   "running": [r.as_dict() for r in running],
                   "stale_tables": [dict(zip(_STALE, r, strict=True))
                                    for r in rows]})  # fmt: skip
        return
    err.print(f"running: {len(running)}; tables with stale statistics: {len(stale)} "
              "(target: 0, no manual ANALYZE needed)")  # fmt: skip
    emit_rows(chosen, "stale statistics", _STALE,
              [[r[0], r[1], _when(r[2])] for r in rows])  # fmt: skip
