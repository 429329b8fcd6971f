"""Reports kept in ``pgwarden.report``: storing, reading back, files, templates, due.

The index health report and the optimisation report share all of this; each has its
own kind (``index-health``, ``optimization``), template and schedule setting
(``daily``, ``weekly`` or ``monthly``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from jinja2 import Environment, FileSystemLoader, select_autoescape
from psycopg.types.json import Jsonb

from pgwarden import pg
from pgwarden.config import period
from pgwarden.errors import MissingCapability
from pgwarden.repository import targets
from pgwarden.repository.targets import Target

if TYPE_CHECKING:
    from pgwarden.config import Settings

TEMPLATES = Path(__file__).resolve().parent
REPOSITORY = "advise_repository"
#: an hour's slack keeps a daily job at a fixed time from skipping a day when the
#: previous report was stored a few seconds later than the hour
SLACK = timedelta(hours=1)

Render = Callable[[dict[str, Any], str], str]


def human_bytes(value: Any) -> str:
    size = float(value or 0)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def templates(**filters: Callable[..., Any]) -> Environment:
    """The report templates (HTML autoescaped), with ``size`` and ``filters``."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "html.j2"], default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["size"] = human_bytes
    env.filters.update(filters)
    return env


def render_with(
    env: Environment, template: str, report: dict[str, Any], fmt: str
) -> str:
    """``report`` as ``json``, or ``md``/``html`` through ``template.{fmt}.j2``."""
    if fmt == "json":
        return json.dumps(report, indent=2, default=str) + "\n"
    name = f"{template}.html.j2" if fmt == "html" else f"{template}.md.j2"
    return env.get_template(name).render(r=report)


def register_target(repo: psycopg.Connection[Any], target_dsn: str) -> Target:
    """The target in the repository (registered if pgwarden never collected)."""
    found = targets.resolve_with(target_dsn, repo)
    assert found is not None
    return found


def store(
    repo: psycopg.Connection[Any], target_id: int, kind: str, report: dict[str, Any]
) -> int:
    created = datetime.fromisoformat(str(report["generated_at"]))
    row = pg.fetch_one(
        repo, pg.query(REPOSITORY, "insert_report"),
        [target_id, kind, created, report["summary"]["line"], Jsonb(report)],
    )  # fmt: skip
    assert row is not None
    return int(row["id"])


def save(
    repo: psycopg.Connection[Any],
    target_dsn: str,
    kind: str,
    build: Callable[[int], dict[str, Any]],
) -> tuple[dict[str, Any], int]:
    """Register the target, build its report (given the target id) and store it."""
    try:
        target_id = register_target(repo, target_dsn).id
        report = build(target_id)
        return report, store(repo, target_id, kind, report)
    except psycopg.errors.UndefinedTable as exc:
        raise MissingCapability(
            "the repository has no pgwarden schema (or an old one): run pgwarden init"
        ) from exc


def previous(
    repo: psycopg.Connection[Any], target_id: int, kind: str, before: datetime
) -> dict[str, Any] | None:
    """The data of the latest report of ``kind`` stored before ``before``."""
    row = pg.fetch_one(
        repo, pg.query(REPOSITORY, "previous_report"), [target_id, kind, before]
    )
    return None if row is None else dict(row["data"])


def last_stored(
    repository_dsn: str, target_name: str, kind: str, now: datetime
) -> datetime | None:
    """When the latest report of ``kind`` for the target was stored, if ever."""
    with pg.connect(repository_dsn) as repo:
        row = pg.fetch_one(
            repo, pg.query("collect_repository", "target_id"), [target_name]
        )
        if row is None:
            return None
        found = pg.fetch_one(
            repo, pg.query(REPOSITORY, "previous_report"), [row["id"], kind, now]
        )
    return None if found is None else found["created_at"]


def is_due(last: datetime | None, schedule: str, now: datetime) -> bool:
    """Whether a ``schedule`` report is due when the latest was stored at ``last``.

    ``schedule`` is a :func:`pgwarden.config.period` (``weekly``, ``3d``, ``never``).
    """
    every = period(schedule)
    if every is None:
        return False
    return last is None or now - last >= every - SLACK


def write_files(
    report: dict[str, Any], directory: Path, kind: str, render: Render
) -> list[Path]:
    """``<kind>-<target>-<time>.{md,html,json}`` under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = str(report["generated_at"])[:19].replace(":", "").replace(" ", "T")
    safe = "".join(c if c.isalnum() else "_" for c in str(report["target"]))
    written = []
    for fmt in ("md", "html", "json"):
        path = directory / f"{kind}-{safe}-{stamp}.{fmt}"
        path.write_text(render(report, fmt))
        written.append(path)
    return written


@dataclass(frozen=True)
class Scheduled:
    """A stored report the worker builds when its schedule makes it due.

    ``generate(settings, target_dsn, repository_dsn, save=True)`` builds and stores
    it; ``schedule`` and ``directory`` read its settings.
    """

    title: str
    kind: str
    schedule: Callable[[Settings], str]
    directory: Callable[[Settings], Path | None]
    generate: Callable[..., tuple[dict[str, Any], int | None]]
    render: Render

    def run(self, settings: Settings, target_dsn: str, repository_dsn: str) -> str:
        """Build, store in the repository (and files), summarise in one line."""
        report, report_id = self.generate(
            settings, target_dsn, repository_dsn, save=True
        )
        line = f"{self.title} of {report['target']}: {report['summary']['line']}"
        line += f" (report {report_id})"
        directory = self.directory(settings)
        if directory is not None:
            write_files(report, directory, self.kind, self.render)
            line += f", written to {directory}"
        return line

    def run_if_due(
        self,
        settings: Settings,
        target_dsn: str,
        repository_dsn: str,
        now: datetime | None = None,
    ) -> str:
        """:meth:`run` when the latest report is ``schedule`` old; else why not."""
        moment = now or datetime.now(UTC)
        schedule = self.schedule(settings)
        last = last_stored(repository_dsn, pg.describe(target_dsn), self.kind, moment)
        if not is_due(last, schedule, moment):
            since = "" if last is None else f"; last {last:%Y-%m-%d}"
            return f"{self.title} report not due ({schedule}{since})"
        return self.run(settings, target_dsn, repository_dsn)
