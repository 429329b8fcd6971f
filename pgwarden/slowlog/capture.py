"""Slow query capture beside collection: server log, activity samples, upkeep.

Each collection cycle reads the server log's new lines (slow statements and errors
by class) and, about once an hour, creates the coming days' partitions and drops
those (and the error counts) past ``retention_days``.
pg_stat_activity is sampled on its own, more frequent schedule
(:mod:`pgwarden.slowlog.schedule`). Every step reports a failure through ``report``
and returns: slow query capture never stops collection. A log record or sampled
statement that cannot be read costs only itself; how many were skipped, with the
first reason, is part of the cycle's summary.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import psycopg

from pgwarden import pg
from pgwarden.config import SlowQuerySettings
from pgwarden.errors import PgwardenError
from pgwarden.skipped import Skipped
from pgwarden.slowlog import activity, failures, param_values
from pgwarden.slowlog.model import SlowQuery
from pgwarden.slowlog.partitions import apply_retention, ensure_partitions
from pgwarden.slowlog.remotelog import ingest_remote_log
from pgwarden.slowlog.serverlog import LogIngest, ingest_server_log
from pgwarden.slowlog.severity import Thresholds
from pgwarden.slowlog.source import LogSource, configured, discover
from pgwarden.slowlog.store import ensure_target

logger = logging.getLogger(__name__)

UPKEEP_EVERY = timedelta(hours=1)
Report = Callable[[str], None]
Conn = psycopg.Connection[Any]
T = TypeVar("T")


@dataclass(frozen=True)
class Upkeep:
    """Partitions created ahead and partitions dropped past retention."""

    created: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()


@dataclass(frozen=True)
class Capture:
    """What a collection cycle added: log records, sampled statements, upkeep."""

    from_log: int
    from_activity: int
    upkeep: Upkeep | None = None
    #: server log records and sampled statements that could not be read
    skipped: int = 0
    #: why the first of them was skipped (never its text)
    skip_reason: str | None = None

    def summary(self) -> str | None:
        """One line for the operator, or None when there is nothing to say."""
        parts = []
        if self.from_log or self.from_activity:
            parts.append(
                f"slow queries: {self.from_log} from the server log, "
                f"{self.from_activity} from activity"
            )
        skipped = Skipped(self.skipped, self.skip_reason).summary("record")
        if skipped:
            parts.append(f"slow query capture {skipped}")
        if self.upkeep and self.upkeep.dropped:
            parts.append(
                f"slow query log retention dropped {', '.join(self.upkeep.dropped)}"
            )
        return "; ".join(parts) or None


def upkeep(repo_conn: Conn, now: datetime, retention_days: int) -> Upkeep:
    """Create today's and the next days' partitions; drop those past retention."""
    with pg.guarded("slow query log (run pgwarden init)"):
        created = ensure_partitions(repo_conn, now)
        dropped = apply_retention(repo_conn, now, retention_days)
        param_values.apply_retention(repo_conn, now, retention_days)
        failures.apply_retention(repo_conn, now, retention_days)
    return Upkeep(tuple(created), tuple(dropped))


def upkeep_due(last: datetime | None, now: datetime) -> bool:
    return last is None or now - last >= UPKEEP_EVERY or now < last


class SlowCapture:
    """The slow query log's share of ``pgwarden collect`` and the demo collector."""

    def __init__(
        self,
        settings: SlowQuerySettings,
        target_name: str,
        log_dir: Path | None = None,
        *,
        report: Report = logger.warning,
    ) -> None:
        self.settings, self.target_name = settings, target_name
        self.log_dir, self.report = log_dir, report
        self.thresholds = Thresholds.from_settings(settings)
        self._target_id: int | None = None
        self._upkeep_at: datetime | None = None
        self._sampled: set[tuple[int | None, datetime]] = set()
        self._failures: dict[str, str] = {}
        self._observer: param_values.Observer | None = None
        self._skipped = Skipped()
        self._source: LogSource | None = None
        self._source_at: datetime | None = None

    def after_cycle(
        self,
        repo_conn: Conn | None,
        now: datetime | None = None,
        target_conn: Conn | None = None,
    ) -> Capture:
        """New server log lines, upkeep when due, and the statements sampled since.

        With ``target_conn`` the log's categorical parameter values are counted too.
        """
        moment = now or datetime.now(UTC)
        observer = self._observe(target_conn)
        logged = self._guard(
            "server log",
            lambda: self._read_log(repo_conn, observer, target_conn, moment),
            None,
        )
        if logged is not None and logged.skipped:
            self._skipped.add(logged.skip_reason or "unreadable", logged.skipped)
        done = None
        if repo_conn is not None and upkeep_due(self._upkeep_at, moment):
            done = self._guard(
                "retention", lambda: self._upkeep(repo_conn, moment), None
            )
        skipped, self._skipped = self._skipped, Skipped()
        stored = logged.stored if logged is not None else 0
        sampled = self.take_sampled()
        return Capture(stored, sampled, done, skipped.count, skipped.reason)

    def take_sampled(self) -> int:
        """Distinct statements the samples caught since the last call."""
        count = len(self._sampled)
        self._sampled.clear()
        return count

    def sample(self, target_conn: Conn | None, repo_conn: Conn | None) -> int:
        """One pg_stat_activity sample; skipped while a connection is down."""
        if _down(target_conn) or _down(repo_conn):
            return 0
        assert target_conn is not None and repo_conn is not None
        found: list[SlowQuery] = self._guard(
            "activity sampling", lambda: self._sample(target_conn, repo_conn), []
        )
        self._sampled.update((q.pid, q.started_at) for q in found)
        return len(found)

    def _read_log(
        self,
        repo_conn: Conn | None,
        observer: param_values.Observer | None = None,
        target_conn: Conn | None = None,
        now: datetime | None = None,
    ) -> LogIngest | None:
        source = self.log_source(target_conn, now)
        if repo_conn is None or source is None:
            return None
        options: dict[str, Any] = {
            "thresholds": self.thresholds,
            "retention_days": self.settings.retention_days,
            "observer": observer,
            "database": source.database,
        }
        target_id = self._target(repo_conn)
        if source.path is not None and source.path.is_dir():
            return ingest_server_log(repo_conn, target_id, source.path, **options)
        if source.server_dir is not None and target_conn is not None:
            return ingest_remote_log(
                target_conn, repo_conn, target_id, source.server_dir, **options
            )
        return None

    def log_source(
        self, target_conn: Conn | None, now: datetime | None = None
    ) -> LogSource | None:
        """The configured log directory, else what the server allows, looked up
        again about hourly (None while the target is down and none is known)."""
        if self.log_dir is not None:
            return configured(self.log_dir)
        moment = now or datetime.now(UTC)
        due = self._source_at is None or upkeep_due(self._source_at, moment)
        if due and not _down(target_conn):
            assert target_conn is not None
            found = discover(target_conn)
            if self._source is None or found.detail != self._source.detail:
                logger.info("slow query source: %s", found.detail)
            self._source, self._source_at = found, moment
        return self._source

    def _sample(self, target_conn: Conn, repo_conn: Conn) -> list[SlowQuery]:
        return activity.sample(
            target_conn, repo_conn, self._target(repo_conn),
            self.thresholds.warning_ms, thresholds=self.thresholds,
            retention_days=self.settings.retention_days,
            observer=self._observe(target_conn), skipped=self._skipped,
        )  # fmt: skip

    def _observe(self, target_conn: Conn | None) -> param_values.Observer | None:
        """The parameter value observer of this target connection, when enabled."""
        if not self.settings.parameter_values or _down(target_conn):
            return None
        assert target_conn is not None
        if self._observer is None or self._observer.target_conn is not target_conn:
            self._observer = param_values.Observer(target_conn)
        return self._observer

    def _upkeep(self, repo_conn: Conn, now: datetime) -> Upkeep:
        done = upkeep(repo_conn, now, self.settings.retention_days)
        self._upkeep_at = now
        if done.dropped:
            logger.info(
                "slow query log retention dropped %d partitions",
                len(done.dropped),
                extra={"dropped": list(done.dropped), "created": list(done.created)},
            )
        return done

    def _target(self, repo_conn: Conn) -> int:
        if self._target_id is None:
            self._target_id = ensure_target(repo_conn, self.target_name)
        return self._target_id

    def _guard(self, step: str, run: Callable[[], T], default: T) -> T:
        """``run()``, or report its failure (a lasting one once) and ``default``.

        Any failure: this step reads what any database user may write, and it must
        not stop collection. An unexpected one is named by its type only (its
        message may quote what was read); ``--debug`` logs the traceback.
        """
        try:
            result = run()
        except Exception as exc:
            if isinstance(exc, PgwardenError | psycopg.Error):
                reason = _first_line(exc)
            else:
                logger.debug("slow query %s failed", step, exc_info=True)
                reason = f"unexpected {type(exc).__name__}"
            message = f"slow query {step} skipped: {reason}"
            if self._failures.get(step) != message:
                self.report(message)
            self._failures[step] = message
            return default
        self._failures.pop(step, None)
        return result


def _down(conn: Conn | None) -> bool:
    return conn is None or conn.closed


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
