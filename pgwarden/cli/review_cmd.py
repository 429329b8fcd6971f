"""``pgwarden review``: post-launch reviews, their schedule and the launch date."""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from pgwarden.cli.output import emit_json, emit_rows, err
from pgwarden.cli.runtime import Runtime, runtime
from pgwarden.errors import ConfigurationError

app = typer.Typer(
    help="Post-launch reviews: daily, then weekly, then monthly from the launch date.",
    invoke_without_command=True,
)
measure_app = typer.Typer(
    help="Business measures: adoption, satisfaction, support tickets.",
    no_args_is_help=True,
)
app.add_typer(measure_app, name="measure")

FormatOption = Annotated[str | None, typer.Option("--format", help="md or json.")]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="Also write md, html and json files here."),
]


def _format(rt: Runtime, fmt: str | None, allowed: tuple[str, ...]) -> str:
    chosen = fmt or rt.format or allowed[0]
    if chosen not in allowed:
        raise ConfigurationError(
            f"--format: {chosen!r} is not one of {', '.join(allowed)}"
        )
    return chosen


def _now() -> datetime:
    return datetime.now(UTC)


@app.callback()
def review(
    ctx: typer.Context,
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            help="day, week or month: review the last completed one now "
            "(default: the scheduled reviews now due).",
        ),
    ] = None,
    fmt: FormatOption = None,
    out: OutOption = None,
) -> None:
    """Generate the reviews now due, or with --period the last completed period."""
    if ctx.invoked_subcommand is not None:
        return
    from pgwarden.ops.review import run as review_run

    rt = runtime(ctx)
    chosen = _format(rt, fmt, ("md", "json"))
    if period is not None:
        review_run.check_kind(period)
        done = [
            review_run.generate_period(
                rt.settings, rt.target_dsn(), rt.repository_dsn(), period, _now(), out
            )
        ]
    else:
        done = review_run.generate_due(
            rt.settings, rt.target_dsn(), rt.repository_dsn(), _now(), _who(), out
        )

    if not done:
        err.print("no review due: see pgwarden review schedule")
    for g in done:
        err.print(f"review {g.review_id}: {g.report['summary']['line']}")
    if chosen == "json":
        emit_json([g.report for g in done] if period is None else done[0].report)
        return
    sys.stdout.write("\n---\n\n".join(g.markdown for g in done))


def _who() -> str:
    return getpass.getuser()


@app.command("launch")
def launch(
    ctx: typer.Context,
    day: Annotated[str, typer.Option("--date", help="Launch date (YYYY-MM-DD).")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a different recorded date.")
    ] = False,
) -> None:
    """Record the launch date in the repository; the schedule starts from it."""
    from pgwarden.ops.review import run as review_run

    rt = runtime(ctx)
    when = review_run.parse_day(day, "--date")
    found = review_run.record_launch(
        rt.settings, rt.target_dsn(), rt.repository_dsn(), when, _who(), force
    )
    err.print(f"launch date {found.day} ({found.timezone}) recorded")


@app.command("schedule")
def schedule(
    ctx: typer.Context,
    fmt: Annotated[
        str | None, typer.Option("--format", help="table, json or md.")
    ] = None,
    fail_on_overdue: Annotated[
        bool, typer.Option("--fail-on-overdue", help="Exit 1 when one is overdue.")
    ] = False,
) -> None:
    """Scheduled reviews: due, overdue, done on time, late; the on-time share."""
    from pgwarden.ops.review import run as review_run

    rt = runtime(ctx)
    found = review_run.status(rt.settings, rt.target_dsn(), rt.repository_dsn(), _now())
    chosen = rt.output_format(fmt)
    if chosen == "json":
        emit_json(found.as_dict())
    else:
        cols = ("review", "start", "end", "due_at", "state", "generated_at", "id")
        emit_rows(
            chosen,
            f"post-launch reviews of {found.target}",
            cols,
            [
                [
                    r.period.label,
                    _cell(r.period.start),
                    _cell(r.period.end),
                    _cell(r.period.due_at),
                    r.state,
                    _cell(r.generated_at),
                    r.review_id,
                ]
                for r in found.rows
            ],
        )
    share = found.on_time
    shown = "n/a" if share.pct is None else f"{share.pct:g} %"
    err.print(
        f"on time: {shown} ({share.on_time} of {share.counted}; target "
        f"{share.target_pct:g} %); {share.overdue} overdue, {share.due} due"
    )
    if fail_on_overdue and share.overdue:
        raise typer.Exit(1)


app.command("status", help="Same as schedule.")(schedule)


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many.")] = 50,
    fmt: Annotated[
        str | None, typer.Option("--format", help="table, json or md.")
    ] = None,
) -> None:
    """Stored reviews, newest period first."""
    from pgwarden import pg
    from pgwarden.ops.review import store as review_store

    rt = runtime(ctx)
    with pg.connect(rt.repository_dsn()) as repo:
        found = review_store.list_reviews(repo, limit)
    cols = (
        "id",
        "target",
        "kind",
        "seq",
        "period_start",
        "due_at",
        "generated_at",
        "summary",
    )
    chosen = rt.output_format(fmt)
    if chosen == "json":
        emit_json(found)
        return
    emit_rows(
        chosen,
        "post-launch reviews",
        cols,
        [[_cell(r[c]) for c in cols] for r in found],
    )


@app.command("show")
def show(
    ctx: typer.Context,
    review_id: int,
    fmt: Annotated[
        str | None, typer.Option("--format", help="md, json or html.")
    ] = None,
) -> None:
    """A stored review (md as generated, json or html)."""
    from pgwarden import pg
    from pgwarden.ops.review import report as review_report
    from pgwarden.ops.review import store as review_store

    rt = runtime(ctx)
    chosen = _format(rt, fmt, ("md", "json", "html"))
    with pg.connect(rt.repository_dsn()) as repo:
        row = review_store.get(repo, review_id)
    if chosen == "md":
        sys.stdout.write(row["markdown"])
    elif chosen == "json":
        emit_json({**row["metrics"], "id": row["id"]})
    else:
        sys.stdout.write(review_report.render(dict(row["metrics"]), "html"))


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    return value


@measure_app.command("add", context_settings={"ignore_unknown_options": True})
def measure_add(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(
            help="active_users, active_tenants, csat, nps, tickets_opened, "
            "tickets_closed or tickets_open."
        ),
    ],
    value: Annotated[str, typer.Argument(help="Its value (NPS may be negative).")],
    at: Annotated[
        str | None,
        typer.Option("--at", help="The time the value is for (default: now)."),
    ] = None,
    responses: Annotated[
        int | None, typer.Option("--responses", help="Responses (csat, nps).")
    ] = None,
) -> None:
    """Record one reading; the same measure and time again replaces it."""
    from pgwarden import pg
    from pgwarden.ops.review import measures
    from pgwarden.reports import register_target

    rt = runtime(ctx)
    tz = _zone_of(rt)
    when = _now() if at is None else measures.timestamp(at, tz)
    reading = measures.check(name, value, when, responses)
    with pg.connect(rt.repository_dsn()) as repo:
        found = register_target(repo, rt.target_dsn())
        measures.record(repo, found.id, [reading], "cli", _who())
    err.print(
        f"{reading.name} = {reading.value:g} at {reading.at.isoformat()} "
        f"recorded for {found.name}"
    )


@measure_app.command("import")
def measure_import(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="CSV: name,value,at[,responses][,target].")
    ],
    fmt: Annotated[str | None, typer.Option("--format", help="table or json.")] = None,
) -> None:
    """Record a CSV file's readings; bad rows are reported (exit 1), good kept."""
    from pgwarden import pg
    from pgwarden.ops.review import measures
    from pgwarden.reports import register_target

    rt = runtime(ctx)
    parsed = measures.parse_csv(_read_bounded(file, measures), _zone_of(rt))
    with pg.connect(rt.repository_dsn()) as repo:
        stored, rejected = measures.store_parsed(
            repo, parsed, lambda: register_target(repo, rt.target_dsn()).id,
            "csv", _who(),
        )  # fmt: skip
    result = {
        "imported": stored,
        "rejected": len(rejected),
        "reasons": [r.as_dict() for r in rejected],
    }
    if rt.output_format(fmt, "table", ("table", "json")) == "json":
        emit_json(result)
    for r in rejected[:50]:
        err.print(f"{file.name}: line {r.line}: {r.reason}")
    err.print(f"imported {stored} readings, rejected {len(rejected)} rows")
    if rejected:
        raise typer.Exit(1)


def _read_bounded(file: Path, measures: Any) -> bytes:
    try:
        with file.open("rb") as handle:
            data: bytes = handle.read(measures.MAX_CSV_BYTES + 1)
    except OSError as exc:
        raise ConfigurationError(f"{file}: cannot read ({exc.strerror})") from None
    return data


@measure_app.command("list")
def measure_list(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Option("--name", help="Only this measure.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many.")] = 100,
    fmt: Annotated[
        str | None, typer.Option("--format", help="table, json or md.")
    ] = None,
) -> None:
    """The target's recorded readings, newest first."""
    from pgwarden import pg
    from pgwarden.ops.review import measures
    from pgwarden.reports import register_target

    rt = runtime(ctx)
    with pg.connect(rt.repository_dsn()) as repo:
        found = register_target(repo, rt.target_dsn())
        rows = measures.listed(repo, found.id, name, limit)
    chosen = rt.output_format(fmt)
    if chosen == "json":
        emit_json(rows)
        return
    cols = ("name", "recorded_at", "value", "responses", "source", "recorded_by")
    emit_rows(
        chosen,
        f"business measures of {found.name}",
        cols,
        [[_cell(r[c]) for c in cols] for r in rows],
    )


def _zone_of(rt: Runtime) -> Any:
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(rt.settings.timezone)
    except (KeyError, ValueError) as exc:
        raise ConfigurationError(
            f"timezone: unknown time zone {rt.settings.timezone!r}"
        ) from exc
