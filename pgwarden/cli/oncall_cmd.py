"""``pgwarden oncall``: who is on call now, the schedule, iCal export, check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Annotated

import typer

from pgwarden.cli.output import emit_json, emit_rows, err
from pgwarden.cli.runtime import Runtime, runtime
from pgwarden.errors import ConfigurationError
from pgwarden.ops.oncall import Roster, Shift, from_settings

app = typer.Typer(help="On-call rotation and schedule.", no_args_is_help=True)
FormatOption = Annotated[
    str | None, typer.Option("--format", help="json, table or md.")
]
WeeksOption = Annotated[int, typer.Option("--weeks", min=1, max=104, help="Weeks.")]
StartOption = Annotated[
    str | None, typer.Option("--start", help="ISO start (default: now).")
]


def _roster(rt: Runtime) -> Roster:
    roster = from_settings(rt.settings)
    if not roster.configured:
        raise ConfigurationError(
            "no on-call layers: add [oncall] people and layers to the settings "
            "(see docs/ONCALL.md)"
        )
    return roster


def _start(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigurationError(f"--start: {text!r} is not an ISO date") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _shifts(roster: Roster, begin: datetime, weeks: int) -> list[Shift]:
    """The shifts of ``weeks`` weeks from ``begin``."""
    from pgwarden.ops.oncall import shifts

    return shifts(roster, begin, begin + timedelta(weeks=weeks))


def _local(at: datetime, tz: tzinfo) -> str:
    return at.astimezone(tz).strftime("%a %Y-%m-%d %H:%M %Z")


@app.command("now")
def now(ctx: typer.Context, fmt: FormatOption = None) -> None:
    """Who is on call now on every layer, and the escalation chain."""
    from pgwarden.ops.oncall import escalation_target, now_on_call

    rt = runtime(ctx)
    roster = _roster(rt)
    at = datetime.now(UTC)
    rows = [
        [s.layer, s.person, _local(s.end, roster.tz)] for s in now_on_call(roster, at)
    ]
    rows += [[f"L{n}", escalation_target(roster, n, at), ""] for n in (3, 4)]
    emit_rows(rt.output_format(fmt), "on call now", ("layer", "person", "until"), rows)


@app.command("schedule")
def schedule(
    ctx: typer.Context,
    weeks: WeeksOption = 8,
    start: StartOption = None,
    fmt: FormatOption = None,
) -> None:
    """Every shift of the next weeks, overrides marked."""
    rt = runtime(ctx)
    roster = _roster(rt)
    found = _shifts(roster, _start(start), weeks)
    rows = [[s.layer, s.person or "GAP", _local(s.start, roster.tz),
             _local(s.end, roster.tz), "override" if s.override else ""]
            for s in found]  # fmt: skip
    emit_rows(rt.output_format(fmt), f"on-call schedule, {weeks} weeks",
              ("layer", "person", "from", "to", "note"), rows)  # fmt: skip


@app.command("export-ical")
def export_ical(
    ctx: typer.Context,
    weeks: WeeksOption = 8,
    start: StartOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default: stdout).")
    ] = None,
) -> None:
    """The schedule as an RFC 5545 calendar for calendar tools and schedulers."""
    from pgwarden.ops.oncall import calendar

    roster = _roster(runtime(ctx))
    text = calendar(_shifts(roster, _start(start), weeks), "pgwarden on-call",
                    datetime.now(UTC))  # fmt: skip
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_bytes(text.encode())
        err.print(f"wrote {output}")


@app.command("check")
def check(
    ctx: typer.Context,
    weeks: WeeksOption = 8,
    start: StartOption = None,
    fmt: FormatOption = None,
) -> None:
    """Gaps, 24/7 coverage and fairness; exit 1 when something is wrong."""
    from pgwarden.ops.oncall import check as run_check
    from pgwarden.ops.oncall import shares

    rt = runtime(ctx)
    roster = _roster(rt)
    begin = _start(start)
    found = run_check(roster, begin, weeks, rt.settings.oncall.max_share_pct)
    spread = shares(_shifts(roster, begin, weeks))
    chosen = rt.output_format(fmt)
    if chosen == "json":
        emit_json({"findings": [f.__dict__ for f in found],
                   "shares": [s.__dict__ for s in spread]})  # fmt: skip
    else:
        emit_rows(chosen, "time on call", ("layer", "person", "hours", "share %"),
                  [[s.layer, s.person, f"{s.hours:.0f}", f"{s.pct:.1f}"]
                   for s in spread])  # fmt: skip
        for f in found:
            err.print(f"{f.severity}: {f.what}")
        if not found:
            err.print("schedule OK: covered 24/7, nobody above the share limit")
    if any(f.severity == "error" for f in found):
        raise typer.Exit(1)
