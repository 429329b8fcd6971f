"""Generating post-launch reviews: the ones now due (worker, ``pgwarden review``) or
one forced period (``pgwarden review --period``); the schedule's state.

The CLI and the worker call these; every figure comes from
:mod:`pgwarden.ops.review.metrics` through :func:`review_report.build`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from pgwarden import pg
from pgwarden.config import Settings
from pgwarden.errors import ConfigurationError
from pgwarden.ops.review import gather as review_gather
from pgwarden.ops.review import report as review_report
from pgwarden.ops.review import schedule as review_schedule
from pgwarden.ops.review import store as review_store
from pgwarden.ops.review.schedule import KINDS, ReviewPeriod, Tracked
from pgwarden.ops.review.store import Launch, NoLaunchDate
from pgwarden.reports import register_target


@dataclass(frozen=True)
class Generated:
    review_id: int
    report: dict[str, Any]
    markdown: str
    files: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Status:
    target: str
    launch: Launch | None
    rows: tuple[Tracked, ...]
    on_time: review_schedule.OnTime

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "launch": None if self.launch is None else self.launch.as_dict(),
            "reviews": [r.as_dict() for r in self.rows],
            **self.on_time.as_dict(),
        }


def parse_day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ConfigurationError(
            f"{what}: {text!r} is not a date (YYYY-MM-DD)"
        ) from exc


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ConfigurationError(f"--period: {kind!r} is not one of {', '.join(KINDS)}")
    return kind


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError) as exc:
        raise ConfigurationError(f"timezone: unknown time zone {name!r}") from exc


def _grace(settings: Settings) -> timedelta:
    return timedelta(hours=settings.reviews.grace_hours)


def _scheduled(launch: Launch, settings: Settings, now: datetime) -> list[ReviewPeriod]:
    return review_schedule.schedule(
        launch.day, _zone(launch.timezone), _grace(settings), now
    )


def _context(
    repo: psycopg.Connection[Any], settings: Settings, target_dsn: str
) -> tuple[int, str, Launch | None]:
    found = register_target(repo, target_dsn)
    target_id, name = found.id, found.name
    launch = review_store.resolve(
        repo, target_id, settings.reviews.launch_date, settings.timezone
    )
    return target_id, name, launch


def record_launch(
    settings: Settings,
    target_dsn: str,
    repository_dsn: str,
    day: date,
    by: str,
    force: bool = False,
) -> Launch:
    """Record the launch date in the repository (the source of truth from then on)."""
    with pg.connect(repository_dsn) as repo:
        target_id, name, _ = _context(repo, settings, target_dsn)
        known = review_store.recorded(repo, target_id)
        if known is not None and known.day != day and not force:
            raise ConfigurationError(
                f"{name} launched on {known.day} (recorded); pass --force to change "
                "it (reviews already generated keep their periods)"
            )
        return review_store.record(
            repo, target_id, Launch(day, settings.timezone, "command", True), by
        )


def status(
    settings: Settings, target_dsn: str, repository_dsn: str, now: datetime
) -> Status:
    """Each scheduled review started by ``now``, its state; the on-time share."""
    with pg.connect(repository_dsn) as repo:
        target_id, name, launch = _context(repo, settings, target_dsn)
        if launch is None:
            raise NoLaunchDate()
        rows = review_schedule.track(
            _scheduled(launch, settings, now),
            review_store.generated(repo, target_id),
            now,
        )
    return Status(name, launch, tuple(rows), review_schedule.on_time(rows))


def generate_due(
    settings: Settings,
    target_dsn: str,
    repository_dsn: str,
    now: datetime,
    by: str,
    out: Path | None = None,
) -> list[Generated]:
    """The scheduled reviews whose period ended and which are not generated yet
    (overdue ones too, late). Without a launch date: :class:`NoLaunchDate`."""
    with pg.connect(repository_dsn, statement_timeout_ms=None) as repo:
        target_id, name, launch = _context(repo, settings, target_dsn)
        if launch is None:
            raise NoLaunchDate()
        if not launch.recorded:
            launch = review_store.record(repo, target_id, launch, by)
        rows = review_schedule.track(
            _scheduled(launch, settings, now),
            review_store.generated(repo, target_id),
            now,
        )
        job = _Job(repo, target_id, name, target_dsn, settings, launch, now, out)
        return [
            job.produce(period, "schedule")
            for period in review_schedule.to_generate(rows)
        ]


def generate_period(
    settings: Settings,
    target_dsn: str,
    repository_dsn: str,
    kind: str,
    now: datetime,
    out: Path | None = None,
) -> Generated:
    """The review of the last completed period of ``kind`` (regenerated if stored)."""
    check_kind(kind)
    with pg.connect(repository_dsn, statement_timeout_ms=None) as repo:
        target_id, name, launch = _context(repo, settings, target_dsn)
        tz = _zone(launch.timezone if launch else settings.timezone)
        scheduled = _scheduled(launch, settings, now) if launch else []
        period = review_schedule.forced(kind, scheduled, now, tz)
        job = _Job(repo, target_id, name, target_dsn, settings, launch, now, out)
        return job.produce(period, "manual")


@dataclass(frozen=True)
class _Job:
    """What every review generated by one command shares."""

    repo: psycopg.Connection[Any]
    target_id: int
    name: str
    target_dsn: str
    settings: Settings
    launch: Launch | None
    now: datetime
    out: Path | None

    def produce(self, period: ReviewPeriod, trigger: str) -> Generated:
        """Read, build, store (and write) the review of ``period``."""
        repo, target_id, settings = self.repo, self.target_id, self.settings
        facts = review_gather.repository(
            repo, target_id, period.start, period.end,
            review_report.slo_ms(settings), settings.slow_queries.warning_ms,
        )  # fmt: skip
        facts = review_gather.from_target(
            facts, self.target_dsn, repo, target_id, period.end, settings,
            period.start,
        )  # fmt: skip
        previous = review_store.previous(repo, target_id, period.start)
        first = review_store.generated(repo, target_id).get(review_schedule.key(period))
        report = review_report.build(
            self.name, self.launch, period, facts, settings, self.now, previous,
            None if first is None else first[1],
        )  # fmt: skip
        markdown = review_report.render(report, "md")
        saved = review_store.save(repo, target_id, period, report, markdown, trigger)
        report["id"] = int(saved["id"])
        directory = self.out or settings.reviews.report_dir
        files = review_report.write(report, directory) if directory else []
        return Generated(int(saved["id"]), report, markdown, tuple(files))
