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
