"""``pgwarden ccb``: change requests, risk, votes, deployments, DORA, meetings."""

from __future__ import annotations

import getpass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer

from pgwarden import pg
from pgwarden.cli.output import emit_fields, emit_json, emit_rows, err, out
from pgwarden.cli.runtime import Runtime, runtime
from pgwarden.errors import ConfigurationError, TargetError

if TYPE_CHECKING:
    from pgwarden.ops.ccb import witness

app = typer.Typer(
    help="Change control board: requests, risk, votes, deployments, meetings.",
    no_args_is_help=True,
)
request_app = typer.Typer(help="Change requests.", no_args_is_help=True)
action_app = typer.Typer(help="Action items of the board.", no_args_is_help=True)
app.add_typer(request_app, name="request")
app.add_typer(action_app, name="action")

FormatOption = Annotated[
    str | None, typer.Option("--format", help="json, table or md.")
]
ByOption = Annotated[
    str | None, typer.Option("--by", help="Who does it (default: login name).")
]
TitleOption = Annotated[str | None, typer.Option("--title", help="Short title.")]
DescOption = Annotated[
    str | None, typer.Option("--description", help="What changes and why.")
]
OwnerOption = Annotated[str | None, typer.Option("--owner", help="Who carries it.")]
StartOption = Annotated[
    str | None, typer.Option("--window-start", help="Planned start (ISO date-time).")
]
EndOption = Annotated[
    str | None, typer.Option("--window-end", help="Planned end (ISO date-time).")
]
RollbackOption = Annotated[
    str | None, typer.Option("--rollback", help="How to roll the change back.")
]
MigrationOption = Annotated[
    Path | None, typer.Option("--migration", help="Migration SQL file to link.")
]
_LIST = ("id", "status", "risk_class", "title", "owner", "window_start")


def _who(by: str | None) -> str:
    return by or getpass.getuser()


def _key(rt: Runtime) -> str | None:
    """The decision log's key (``ccb.log_key``), if one is set."""
    secret = rt.settings.ccb.log_key
    return secret.get_secret_value() if secret is not None else None


def _witnessed(rt: Runtime, conn: Any) -> None:
    """After a write: move this machine's witness of the log to its new head."""
    from pgwarden.ops.ccb import witness

    warning = witness.record(conn, witness.directory(rt.settings.ccb.witness_dir))
    if warning is not None:
        err.print(f"warning: {warning}")


def _when(rt: Runtime, text: str | None, what: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigurationError(f"{what}: {text!r} is not an ISO date-time") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(rt.settings.timezone))
    return value


def _day(text: str | None, what: str) -> date:
    try:
        return date.fromisoformat(text) if text else datetime.now(UTC).date()
    except ValueError as exc:
        raise ConfigurationError(
            f"{what}: {text!r} is not a date (YYYY-MM-DD)"
        ) from exc


def _read_sql(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{path}: not UTF-8 text") from exc


def _assess(rt: Runtime, text: str) -> Any:
    """The risk of ``text`` with the sizes of its tables in the target."""
    from pgwarden.ops.ccb import board, risk

    cfg = rt.settings.ccb
    names = risk.tables_in(text, cfg.max_migration_bytes)
    sizes: dict[str, int] = {}
    if names:
        try:
            with pg.connect(rt.target_dsn()) as conn:
                sizes = board.table_sizes(conn, names)
        except TargetError as exc:
            err.print(f"table sizes unknown: {exc}")
    return risk.assess(text, sizes, cfg.large_table_bytes, cfg.max_migration_bytes)


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    return value


@request_app.command("new")
def request_new(
    ctx: typer.Context,
    title: Annotated[str, typer.Option("--title", help="Short title.")],
    owner: OwnerOption = None,
    description: DescOption = None,
    window_start: StartOption = None,
    window_end: EndOption = None,
    rollback: RollbackOption = None,
    migration: MigrationOption = None,
    fmt: FormatOption = None,
) -> None:
    """Draft a change request; its risk class is suggested from the migration."""
    from pgwarden.ops.ccb import board

    rt = runtime(ctx)
    if not title.strip():
        raise ConfigurationError("--title: say what the change is")
    text = _read_sql(migration) if migration else None
    found = _assess(rt, text) if text is not None else None
    values = {
        "title": title,
        "description": description,
        "owner": _who(owner),
        "window_start": _when(rt, window_start, "--window-start"),
        "window_end": _when(rt, window_end, "--window-end"),
        "rollback_plan": rollback,
        "migration_sql": text,
    }
    with pg.connect(rt.repository_dsn()) as conn:
        req = board.create(conn, values, found, _who(None), key=_key(rt))
        _witnessed(rt, conn)
    _show(rt, req.as_dict(), fmt)


@request_app.command("list")
def request_list(
    ctx: typer.Context,
    status: Annotated[
        str, typer.Option("--status", help="A status, pending or all.")
    ] = "all",
    fmt: FormatOption = None,
) -> None:
    """Change requests, newest first."""
    from pgwarden.ops.ccb import board

    rt = runtime(ctx)
    with pg.connect(rt.repository_dsn()) as conn:
        found = board.list_requests(conn, None if status == "all" else status)
    chosen = rt.output_format(fmt)
    if chosen == "json":
        emit_json([r.as_dict() for r in found])
        return
    emit_rows(
        chosen,
        f"change requests ({status})",
        _LIST,
        [[_cell(getattr(r, c)) for c in _LIST] for r in found],
    )


@request_app.command("show")
def request_show(ctx: typer.Context, request_id: int, fmt: FormatOption = None) -> None:
    """One change request with its risk, votes and decision log."""
    from pgwarden.ops.ccb import board

    rt = runtime(ctx)
    with pg.connect(rt.repository_dsn()) as conn:
        data = board.get(conn, request_id).as_dict()
        data["votes"] = [v.__dict__ for v in board.votes(conn, request_id)]
    _show(rt, data, fmt)


def _show(rt: Runtime, data: dict[str, Any], fmt: str | None) -> None:
    chosen = rt.output_format(fmt)
    if chosen == "json":
        emit_json(data)
        return
    fields = [(key, _field(key, value)) for key, value in data.items()]
    emit_fields(chosen, f"change request {data.get('id', '')}", fields)


def _field(key: str, value: Any) -> Any:
    """A request's field for people: counts, sizes and names, never a repr."""
    if key == "migration_sql" and value:
        return f"{len(value.splitlines())} line(s)"
    if key == "risk_reasons":
        return "; ".join(value) or "none"
    if key == "risk_tables":
        return ", ".join(f"{t} ({_size(n)})" for t, n in value.items()) or "none"
    if key == "votes":
        return ", ".join(f"{v['voter']}: {v['vote']}" for v in value) or "none"
    return value


def _size(value: int | None) -> str:
    from pgwarden.reports import human_bytes

    return "size unknown" if value is None else human_bytes(value)


@request_app.command("update")
def request_update(
    ctx: typer.Context,
    request_id: int,
    status: Annotated[
        str | None,
        typer.Option("--status", help="submitted, deferred, draft, scheduled ..."),
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (logged).")] = "",
    title: TitleOption = None,
    owner: OwnerOption = None,
    description: DescOption = None,
    window_start: StartOption = None,
    window_end: EndOption = None,
    rollback: RollbackOption = None,
    migration: MigrationOption = None,
    by: ByOption = None,
    fmt: FormatOption = None,
) -> None:
    """Edit a request's fields, or move it to another status."""
    from pgwarden.ops.ccb import board

    rt = runtime(ctx)
    changes: dict[str, Any] = {
        k: v
        for k, v in {
            "title": title,
            "owner": owner,
            "description": description,
            "window_start": _when(rt, window_start, "--window-start"),
            "window_end": _when(rt, window_end, "--window-end"),
            "rollback_plan": rollback,
        }.items()
        if v is not None
    }
    found = None
    if migration is not None:
        changes["migration_sql"] = _read_sql(migration)
        found = _assess(rt, changes["migration_sql"])
    if not changes and status is None:
        raise ConfigurationError("nothing to update: pass --status or a field")
    with pg.connect(rt.repository_dsn()) as conn:
        req = board.get(conn, request_id)
        if changes:
            req = board.update(conn, request_id, changes, found, _who(by), key=_key(rt))
        if status is not None:
            req = board.transition(
                conn, request_id, status, _who(by), reason, key=_key(rt)
            )
        _witnessed(rt, conn)
    _show(rt, req.as_dict(), fmt)


@app.command("risk")
def risk_cmd(ctx: typer.Context, migration: Path, fmt: FormatOption = None) -> None:
    """Suggest the risk class C1-C4 of a migration SQL file, with the reasons."""
    rt = runtime(ctx)
    found = _assess(rt, _read_sql(migration))
    if rt.output_format(fmt) == "json":
        emit_json(found.as_dict())
        return
    out.print(f"risk class {found.risk_class}")
    for f in found.findings:
        out.print(f"  - {f.reason}")


@app.command("vote")
def vote_cmd(
    ctx: typer.Context,
    request_id: int,
    vote: Annotated[str, typer.Argument(help="approve, reject or abstain.")],
    voter: Annotated[
        str | None, typer.Option("--voter", help="Who votes (default: login name).")
    ] = None,
    comment: Annotated[str, typer.Option("--comment", help="Why.")] = "",
) -> None:
    """Vote on a submitted request; the quorum rules decide it."""
    from pgwarden.ops.ccb import board, quorum

    rt = runtime(ctx)
    cfg = rt.settings.ccb
    rules = quorum.Rules(
        tuple(cfg.binding_voters),
        cfg.min_approvals,
        cfg.oncall_veto,
        cfg.max_rejections,
    )
    cast = quorum.Vote(_who(voter), vote, comment)
    with pg.connect(rt.repository_dsn()) as conn:
        outcome = board.vote(conn, request_id, cast, rules, _on_call(rt), key=_key(rt))
        _witnessed(rt, conn)
    err.print(f"request {request_id}: {outcome.decision} ({outcome.reason})")


def _on_call(rt: Runtime) -> str | None:
    from pgwarden.ops.oncall import from_settings, on_call

    roster = from_settings(rt.settings)
    if not roster.configured:
        return None
    layer = rt.settings.ccb.oncall_layer or roster.layers[0].name
    return on_call(roster, layer, datetime.now(UTC))


@app.command("deployed")
def deployed_cmd(
    ctx: typer.Context,
    request_id: int,
    outcome: Annotated[
        str, typer.Option("--outcome", help="success, rolled-back or hotfix.")
    ],
    at: Annotated[
        str | None, typer.Option("--at", help="When (ISO; default: now).")
    ] = None,
    restored_at: Annotated[
        str | None,
        typer.Option("--restored-at", help="Failed change: when service was back."),
    ] = None,
    note: Annotated[str, typer.Option("--note", help="What happened.")] = "",
    by: ByOption = None,
) -> None:
    """Record the deployment of a scheduled request (for the DORA figures)."""
    from pgwarden.ops.ccb import board

    rt = runtime(ctx)
    when = _when(rt, at, "--at") or datetime.now(UTC)
    back = _when(rt, restored_at, "--restored-at")
    with pg.connect(rt.repository_dsn()) as conn:
        req = board.deployed(
            conn, request_id, outcome, _who(by), when, back, note, key=_key(rt)
        )
        _witnessed(rt, conn)
    err.print(f"request {request_id} deployed: {outcome}; now {req.status}")


@app.command("dora")
def dora_cmd(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="Window: 90d, 4w.")] = "90d",
    fmt: FormatOption = None,
) -> None:
    """Change fail rate, deployment frequency, lead time, time to restore."""
    from pgwarden.cli.alerts_cmd import _since
    from pgwarden.ops.ccb import board, dora

    rt = runtime(ctx)
    now = datetime.now(UTC)
    start = now - _since(since)
    with pg.connect(rt.repository_dsn()) as conn:
        found = board.deployments(conn, start)
    figures = dora.figures(found, start, now, rt.settings.slo.change_success_pct)
    chosen = rt.output_format(fmt)
    if chosen == "json":
        emit_json(figures.as_dict())
        return
    emit_rows(
        chosen,
        f"DORA figures, last {since}",
        ("figure", "value"),
        list(figures.as_dict().items()),
    )


@app.command("log")
def log_cmd(
    ctx: typer.Context,
    request_id: Annotated[
        int | None, typer.Option("--request", help="Only this request.")
    ] = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Check the hash chain, signatures and witness (exit 1 if broken).",
        ),
    ] = False,
    witness_file: Annotated[
        Path | None,
        typer.Option(
            "--witness", help="With --verify: check against this witness file copy."
        ),
    ] = None,
    head: Annotated[
        str | None,
        typer.Option(
            "--head", help="With --verify: SEQ:HASH the log held (from the minutes)."
        ),
    ] = None,
    fmt: FormatOption = None,
) -> None:
    """The decision log; --verify checks its hash chain, signatures and witness."""
    from pgwarden.ops.ccb import board

    rt = runtime(ctx)
    if not verify and (witness_file is not None or head is not None):
        raise ConfigurationError("--witness and --head go with --verify")
    if verify:
        _verify(rt, witness_file, head)
        return
    with pg.connect(rt.repository_dsn()) as conn:
        entries = board.log_entries(conn, request_id)
    cols = ("seq", "ts", "request_id", "kind", "actor", "detail")
    emit_rows(
        rt.output_format(fmt),
        "decision log",
        cols,
        [[_cell(e[c]) for c in cols] for e in entries],
    )


def _verify(rt: Runtime, witness_file: Path | None, head: str | None) -> None:
    from pgwarden.ops.ccb import decisions as decision_log
    from pgwarden.ops.ccb import witness

    anchors = [decision_log.parse_anchor(head, "--head")] if head else []
    witness_dir = witness.directory(rt.settings.ccb.witness_dir)
    with pg.connect(rt.repository_dsn()) as conn:
        found = witness.check_log(conn, witness_dir, _key(rt), witness_file, anchors)
    if found.broken is not None:
        err.print(f"decision log BROKEN: {found.broken.reason}")
        raise typer.Exit(1)
    if found.missing_key is not None:
        raise found.missing_key
    warning = witness.keep(found) if witness_file is None else None
    if warning is not None:
        err.print(f"warning: {warning}")
    err.print(f"decision log intact: {found.entries} entries verified")
    for line in _log_notes(found):
        err.print(f"  {line}")


def _log_notes(found: witness.Check) -> list[str]:
    """What a verification relied on, and the head to keep in the minutes."""
    if found.signed:
        notes = ["signatures checked with ccb.log_key"]
    else:
        notes = [
            "not signed: without ccb.log_key (PGWARDEN_CCB__LOG_KEY) an entry "
            "changed with all later hashes recomputed goes unnoticed"
        ]
    if found.witness is not None:
        notes.append(
            f"witness: entry {found.witness.seq} as seen {found.witness.seen_at} "
            f"({found.witness_path})"
        )
    else:
        notes.append(f"witness: none before this check ({found.witness_path})")
    if found.head is not None:
        notes.append(f"head: {found.head.seq}:{found.head.hash}")
    return notes


def _log_status(rt: Runtime, conn: Any) -> dict[str, Any]:
    """The decision log's state for the agenda and the minutes (never raises on a
    broken log: the board hears of it)."""
    from pgwarden.ops.ccb import witness

    witness_dir = witness.directory(rt.settings.ccb.witness_dir)
    found = witness.check_log(conn, witness_dir, _key(rt))
    if found.broken is not None:
        status = f"**BROKEN**: {found.broken.reason}"
    elif found.missing_key is not None:
        status = f"not verified: {found.missing_key}"
    else:
        status = "intact" + ("" if found.signed else " (not signed)")
    return {"entries": found.entries, "head": found.head, "status": status}


def _meeting_context(rt: Runtime, today: date) -> dict[str, Any]:
    from pgwarden.alerts.stats import summarise
    from pgwarden.ops.ccb import agenda, board, dora, quorum

    cfg = rt.settings.ccb
    first = _day(cfg.first_meeting, "ccb.first_meeting")
    when = agenda.meetings(first, cfg.meeting_interval_days, today)
    since = datetime.combine(when.last or today, datetime.min.time(), UTC)
    if when.last is None:
        since = since.replace(year=since.year - 1)
    with pg.connect(rt.repository_dsn()) as conn:
        pending = board.list_requests(conn, "pending")
        alerts = board.alerts_since(conn, since)
        actions = board.open_actions(conn)
        deployed = board.deployments(conn, since)
        votes = {r.id: board.votes(conn, r.id) for r in pending}
        decision_log = _log_status(rt, conn)
    now = datetime.now(UTC)
    figures = dora.figures(deployed, since, now, rt.settings.slo.change_success_pct)
    ack_target = rt.settings.slo.time_to_ack_minutes
    stats = summarise(alerts, timedelta(minutes=ack_target))
    mtta = next((s.ack.mean_s for s in stats if s.severity == "all"), None)
    incident = ("critical", "emergency")
    return {
        "meeting": when,
        "generated_at": now,
        "today": today,
        "next_meeting": (when.next + timedelta(days=cfg.meeting_interval_days)),
        "rules": quorum.Rules(
            tuple(cfg.binding_voters),
            cfg.min_approvals,
            cfg.oncall_veto,
            cfg.max_rejections,
        ),
        "on_call": _on_call(rt),
        "pending": [
            r.as_dict() | {"window_start": r.window_start, "window_end": r.window_end}
            for r in pending
        ],
        "votes": votes,
        "incidents": [a for a in alerts if a["severity"] in incident],
        "alerts": [a for a in alerts if a["severity"] not in incident],
        "slo": agenda.slo_status(
            mtta, ack_target, figures.success_pct, figures.target_success_pct
        ),
        "overdue": agenda.overdue(actions, today),
        "actions": actions,
        "decision_log": decision_log,
    }


TodayOption = Annotated[
    str | None, typer.Option("--today", help="Pretend today is (YYYY-MM-DD).")
]


@app.command("agenda")
def agenda_cmd(ctx: typer.Context, today: TodayOption = None) -> None:
    """The next meeting's agenda (Markdown)."""
    from pgwarden.ops.ccb import agenda

    rt = runtime(ctx)
    context = _meeting_context(rt, _day(today, "--today"))
    out.file.write(agenda.render("agenda", context))


@app.command("minutes")
def minutes_cmd(ctx: typer.Context, today: TodayOption = None) -> None:
    """The minutes template of the next meeting, pre-filled (Markdown)."""
    from pgwarden.ops.ccb import agenda

    rt = runtime(ctx)
    context = _meeting_context(rt, _day(today, "--today"))
    out.file.write(agenda.render("minutes", context))


@action_app.command("add")
def action_add(
    ctx: typer.Context,
    title: str,
    owner: Annotated[str, typer.Option("--owner", help="Who does it.")],
    due: Annotated[str, typer.Option("--due", help="Due date (YYYY-MM-DD).")],
    request_id: Annotated[
        int | None, typer.Option("--request", help="Related change request.")
    ] = None,
    by: ByOption = None,
    measure: Annotated[
        str | None,
        typer.Option("--measure", help="Business measure it should move."),
    ] = None,
) -> None:
    """Add an action item (reviews show its measure's figure next to it)."""
    from pgwarden.ops.ccb import board
    from pgwarden.ops.review import measures

    rt = runtime(ctx)
    if measure is not None:
        measures.measure(measure)
    with pg.connect(rt.repository_dsn()) as conn:
        row = board.add_action(
            conn, title, owner, _day(due, "--due"), request_id, _who(by),
            key=_key(rt), measure=measure,
        )  # fmt: skip
        _witnessed(rt, conn)
    err.print(f"action item {row['id']} added, due {row['due']}")


@action_app.command("done")
def action_done(ctx: typer.Context, action_id: int, by: ByOption = None) -> None:
    """Mark an action item done."""
    from pgwarden.ops.ccb import board

    rt = runtime(ctx)
    with pg.connect(rt.repository_dsn()) as conn:
        if not board.finish_action(conn, action_id, _who(by), key=_key(rt)):
            raise ConfigurationError(f"no open action item {action_id}")
        _witnessed(rt, conn)
    err.print(f"action item {action_id} done")
