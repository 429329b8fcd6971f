"""``pgwarden alerts``: list, show, ack, resolve, silence, evaluate, stats, export."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from pgwarden import pg
from pgwarden.cli.output import emit_fields, emit_json, emit_rows, err
from pgwarden.cli.runtime import Runtime, runtime
from pgwarden.errors import ConfigurationError, PgwardenError

app = typer.Typer(
    help="Alerts: rules, state, silences, statistics.", no_args_is_help=True
)
FormatOption = Annotated[
    str | None, typer.Option("--format", help="json, table or md.")
]
ByOption = Annotated[
    str | None, typer.Option("--by", help="Who does it (default: login name).")
]
_LIST = ("id", "state", "severity", "rule", "summary", "fired_at", "muted_by")


class AlertNotFound(PgwardenError):
    """No such alert."""


def _since(text: str) -> timedelta:
    from pgwarden.slowlog.report import parse_since

    try:
        return parse_since(text)
    except ValueError as exc:
        raise ConfigurationError(f"--since: {exc}") from exc


def _who(by: str | None) -> str:
    return by or getpass.getuser()


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return value


@app.command("list")
def list_alerts(
    ctx: typer.Context,
    state: Annotated[
        str,
        typer.Option(
            "--state", help="open, pending, firing, acknowledged, resolved or all."
        ),
    ] = "open",
    since: Annotated[str, typer.Option("--since", help="Seen within: 1h, 7d.")] = "7d",
    fmt: FormatOption = None,
) -> None:
    """Alerts, newest first (default: the open ones)."""
    from pgwarden.alerts import store

    rt = runtime(ctx)
    start = datetime.now(UTC) - _since(since)
    with pg.connect(rt.repository_dsn()) as conn:
        found = store.list_alerts(conn, None if state == "all" else state, start)
    rows = [a.as_dict() for a in found]
    chosen = rt.output_format(fmt)
    if chosen == "json":
        emit_json(rows)
        return
    emit_rows(chosen, f"alerts ({state})", _LIST,
              [[_cell(getattr(a, c)) for c in _LIST] for a in found])  # fmt: skip


@app.command("show")
def show(ctx: typer.Context, alert_id: int, fmt: FormatOption = None) -> None:
    """One alert with its description, runbook and deliveries."""
    from pgwarden.alerts import store

    rt = runtime(ctx)
    with pg.connect(rt.repository_dsn()) as conn:
        alert = store.get(conn, alert_id)
        if alert is None:
            raise AlertNotFound(f"no alert {alert_id}")
        sent = store.notifications(conn, alert_id)
    data = {**alert.as_dict(), "deliveries": sent}
    chosen = rt.output_format(fmt)
    if chosen == "json":
        emit_json(data)
        return
    fields = list(alert.as_dict().items())
    for d in sent:
        ok = "ok" if d["ok"] else f"FAILED ({d['error']})"
        sent_to = f"{d['channel']} {d['recipient'] or ''} {ok}"
        fields.append(("delivery", f"{_cell(d['ts'])} {d['kind']} L{d['level']} "
                                   f"{sent_to}"))  # fmt: skip
    emit_fields(chosen, f"alert {alert_id}", fields, width=17)


def _change(rt: Runtime, alert_id: int, what: str, by: str) -> None:
    from pgwarden.alerts import store

    act = store.ack if what == "acknowledged" else store.resolve
    with pg.connect(rt.repository_dsn()) as conn:
        if store.get(conn, alert_id) is None:
            raise AlertNotFound(f"no alert {alert_id}")
        if not act(conn, alert_id, by, datetime.now(UTC)):
            raise ConfigurationError(f"alert {alert_id} cannot be {what} in its state")
    err.print(f"alert {alert_id} {what} by {by}")


@app.command("ack")
def ack(ctx: typer.Context, alert_id: int, by: ByOption = None) -> None:
    """Acknowledge an alert: stops repeats and escalation."""
    _change(runtime(ctx), alert_id, "acknowledged", _who(by))


@app.command("resolve")
def resolve(ctx: typer.Context, alert_id: int, by: ByOption = None) -> None:
    """Resolve an alert by hand (it reopens if the condition still holds)."""
    _change(runtime(ctx), alert_id, "resolved", _who(by))


@app.command("silence")
def silence(
    ctx: typer.Context,
    comment: Annotated[str, typer.Option("--comment", help="Why (required).")],
    rule: Annotated[
        str | None, typer.Option("--rule", help="Only this rule (default: any).")
    ] = None,
    label: Annotated[
        list[str] | None, typer.Option("--label", help="key=value, repeatable.")
    ] = None,
    duration: Annotated[str, typer.Option("--for", help="How long: 30m, 2h.")] = "2h",
    by: ByOption = None,
) -> None:
    """Silence matching alerts for a time, with a comment."""
    from pgwarden.alerts import store
    from pgwarden.alerts.mute import Silence

    rt = runtime(ctx)
    labels = dict(_label(x) for x in label or [])
    if not comment.strip():
        raise ConfigurationError("--comment: say why the alerts are silenced")
    now = datetime.now(UTC)
    wanted = Silence(now, now + _since(duration), comment, _who(by), rule, labels)
    with pg.connect(rt.repository_dsn()) as conn:
        made = store.add_silence(conn, wanted)
    err.print(f"silence {made.id} until {_cell(made.ends_at)} UTC")


def _label(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ConfigurationError(f"--label: {text!r} is not key=value")
    return key, value


@app.command("silences")
def silences(ctx: typer.Context, fmt: FormatOption = None) -> None:
    """Silences not yet expired."""
    from pgwarden.alerts import store

    rt = runtime(ctx)
    with pg.connect(rt.repository_dsn()) as conn:
        found = store.silences(conn, datetime.now(UTC))
    cols = ("id", "rule", "labels", "starts_at", "ends_at", "created_by", "comment")
    emit_rows(rt.output_format(fmt), "silences", cols,
              [[_cell(getattr(s, c)) for c in cols] for s in found])  # fmt: skip


@app.command("evaluate")
def evaluate(
    ctx: typer.Context,
    live: Annotated[
        bool, typer.Option("--live/--no-live", help="Also read the target live.")
    ] = True,
    fail_on: Annotated[
        str | None, typer.Option("--fail-on", help="Exit 1 if firing at or above.")
    ] = None,
    fmt: FormatOption = None,
) -> None:
    """Evaluate every rule once and notify."""
    from pgwarden.alerts import evaluate_once
    from pgwarden.alerts.model import severity_rank

    rt = runtime(ctx)
    now = datetime.now(UTC)
    with pg.connect(rt.repository_dsn()) as repo:
        if live:
            with pg.connect(rt.target_dsn()) as target:
                done = evaluate_once(repo, rt.target_name(), rt.settings, now,
                                     target_conn=target)  # fmt: skip
        else:
            done = evaluate_once(repo, rt.target_name(), rt.settings, now)
    open_ = [a for a in done.changed if a.state in ("firing", "acknowledged")]
    chosen = rt.output_format(fmt)
    if chosen == "json":
        emit_json({"summary": done.summary(), "alerts": [a.as_dict() for a in open_],
                   "notes": list(done.notes)})  # fmt: skip
    else:
        emit_rows(chosen, done.summary(), _LIST,
                  [[_cell(getattr(a, c)) for c in _LIST] for a in open_])  # fmt: skip
        for note in done.notes:
            err.print(f"note: {note}")
    if fail_on and any(severity_rank(a.severity) >= severity_rank(fail_on)
                       for a in open_):  # fmt: skip
        raise typer.Exit(1)


@app.command("stats")
def stats(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="Window: 30d, 7d.")] = "30d",
    fmt: FormatOption = None,
) -> None:
    """Count, MTTA, MTTR and p50/p90 by severity; share acknowledged in time."""
    from pgwarden.alerts import store
    from pgwarden.alerts.stats import summarise

    rt = runtime(ctx)
    with pg.connect(rt.repository_dsn()) as conn:
        rows = store.fired_since(conn, datetime.now(UTC) - _since(since))
    target = timedelta(minutes=rt.settings.slo.time_to_ack_minutes)
    data = [s.as_dict() for s in summarise(rows, target)]
    chosen = rt.output_format(fmt)
    if chosen == "json":
        emit_json(data)
        return
    cols = list(data[0]) if data else ["severity", "count"]
    emit_rows(chosen, f"alerts fired in the last {since}", cols,
              [[_num(r[c]) for c in cols] for r in data])  # fmt: skip


def _num(value: Any) -> Any:
    return f"{value:.0f}" if isinstance(value, float) else value


@app.command("export-prometheus-rules")
def export_prometheus_rules(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default: stdout).")
    ] = None,
    runbook_base: Annotated[
        str, typer.Option("--runbook-base", help="URL prefix of docs/runbooks.")
    ] = "",
) -> None:
    """Write equivalent Prometheus alerting rules (for Alertmanager users)."""
    from pgwarden.alerts.prometheus_rules import export

    text = export(runtime(ctx).settings.alerts, runbook_base)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        err.print(f"wrote {output}")
