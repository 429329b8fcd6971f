"""``pgwarden report``: generate, list and show stored reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Protocol

import typer

from pgwarden import pg
from pgwarden.cli.output import emit_json, emit_rows, err
from pgwarden.cli.runtime import runtime
from pgwarden.config import Settings
from pgwarden.errors import ConfigurationError, PgwardenError

app = typer.Typer(help="Reports: generate, list, show.", no_args_is_help=True)
REPORT_FORMATS = ("md", "html", "json")
NEEDS = "stored reports (pgwarden init creates them)"
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="File (default: stdout).")
]


class ReportKind(Protocol):
    """A report module: ``health_report`` or ``optimization_report``."""

    def generate(
        self, settings: Settings, target_dsn: str, repository_dsn: str | None, *,
        save: bool,
    ) -> tuple[dict[str, Any], int | None]: ...  # fmt: skip

    def render(self, report: dict[str, Any], fmt: str) -> str: ...


class ReportNotFound(PgwardenError):
    """No such report."""


def _format(requested: str | None, output: Path | None) -> str:
    chosen = requested or (output.suffix.lstrip(".") if output else "") or "md"
    if chosen not in REPORT_FORMATS:
        raise ConfigurationError(f"--format: {chosen!r} is not one of md, html, json")
    return chosen


def _generate(
    ctx: typer.Context,
    kind: ReportKind,
    fmt: str | None,
    output: Path | None,
    save: bool,
) -> None:
    """Build a report of ``kind`` (a report module), print or write it, store it."""
    rt = runtime(ctx)
    chosen = _format(fmt or rt.format, output)
    report, report_id = kind.generate(
        rt.settings, rt.target_dsn(), rt.repository_dsn(), save=save
    )
    _write(kind.render(report, chosen), output)
    if report_id is not None:
        err.print(f"stored as report {report_id}")


def _write(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        err.print(f"wrote {output}")


ReportFormatOption = Annotated[
    str | None, typer.Option("--format", help="md, html or json.")
]
StoreOption = Annotated[
    bool, typer.Option("--store/--no-store", help="Keep it in the repository too.")
]


@app.command("index-health")
def index_health(
    ctx: typer.Context,
    output: OutputOption = None,
    fmt: ReportFormatOption = None,
    save: StoreOption = False,
) -> None:
    """The index health report: summary, findings by severity, reclaimable space,
    trend against the previous stored report, and the DDL to act on."""
    from pgwarden.advise.health import report as health_report

    _generate(ctx, health_report, fmt, output, save)


@app.command("optimization")
def optimization(
    ctx: typer.Context,
    output: OutputOption = None,
    fmt: ReportFormatOption = None,
    save: StoreOption = False,
) -> None:
    """The optimisation report: index advice and query advice (N+1, plans,
    pagination), ranked by the time that can be saved."""
    from pgwarden.advise.queries import report as optimization_report

    _generate(ctx, optimization_report, fmt, output, save)


@app.command("list")
def list_reports(
    ctx: typer.Context,
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="index-health, optimization, load or elasticity."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many.")] = 20,
    fmt: Annotated[
        str | None, typer.Option("--format", help="json, table or md.")
    ] = None,
) -> None:
    """Stored reports, newest first."""
    rt = runtime(ctx)
    with pg.connect(rt.repository_dsn()) as repo, pg.guarded(NEEDS):
        rows = pg.fetch_all(
            repo, pg.query("advise_repository", "list_reports"), [kind, kind, limit]
        )
    chosen = rt.output_format(fmt)
    if chosen == "json":
        emit_json(rows)
        return
    cols = ("id", "target", "kind", "created_at", "summary")
    emit_rows(chosen, "reports", cols, [[_cell(r[c]) for c in cols] for r in rows])


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return value


@app.command("show")
def show(
    ctx: typer.Context,
    report_id: int,
    output: OutputOption = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="md, html or json.")
    ] = None,
) -> None:
    """A stored report, rendered again."""
    from pgwarden.advise.health import report as health_report
    from pgwarden.advise.queries import report as optimization_report
    from pgwarden.load import stored

    rt = runtime(ctx)
    with pg.connect(rt.repository_dsn()) as repo, pg.guarded(NEEDS):
        row = pg.fetch_one(repo, pg.query("advise_repository", "get_report"),
                           [report_id])  # fmt: skip
    if row is None:
        raise ReportNotFound(f"no report {report_id}")
    chosen = _format(fmt or rt.format, output)
    data = dict(row["data"])
    if row["kind"] in stored.KINDS:
        _write(_load_text(row["kind"], data, chosen), output)
        return
    kind = optimization_report if data.get("kind") == "optimization" else health_report
    _write(kind.render(data, chosen), output)


def _load_text(kind: str, data: dict[str, Any], fmt: str) -> str:
    """A stored load run or elasticity result: its HTML page, or its JSON."""
    from pgwarden.load import stored

    if fmt == "html":
        return stored.render(kind, data)
    if fmt == "md":
        raise ConfigurationError(f"--format md: a {kind} report is html or json")
    return json.dumps(data, indent=2) + "\n"
