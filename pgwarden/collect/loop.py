"""The collection loop shared by ``pgwarden collect``, the demo and the worker.

One target: a collection cycle every ``interval`` seconds (the snapshot, then the
server log's new slow statements and, about hourly, the slow query log's upkeep,
then the alert rules when an evaluation is due), and a pg_stat_activity sample every
``slow_queries.sample_interval_seconds`` in between. Routine lines go to
``progress``, failures and notifications to ``report``; a failed cycle, sample or
evaluation is reported in one line and the loop goes on (the next cycle reconnects).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import psycopg

from pgwarden import pg
from pgwarden.collect.cycle import CycleResult
from pgwarden.collect.session import Collector, CycleFailed
from pgwarden.config import Settings
from pgwarden.errors import PgwardenError

if TYPE_CHECKING:
    from pgwarden.alerts.periodic import PeriodicEvaluation
    from pgwarden.slowlog.capture import SlowCapture
    from pgwarden.slowlog.derived import DerivedCapture

Report = Callable[[str], object]

LAST_CYCLE_AGE = """
SELECT extract(epoch FROM now() - max(c.ts))::float8 AS age
FROM pgwarden.collect_cycle c JOIN pgwarden.target t ON t.id = c.target_id
WHERE t.name = %s
"""


class CollectionLoop:
    """Cycles and samples of one target, with counters the callers show."""

    def __init__(
        self,
        target_dsn: str,
        repository_dsn: str,
        target_name: str,
        settings: Settings,
        *,
        report: Report,
        progress: Report | None = None,
        log_dir: Path | None = None,
        alerts: bool = True,
    ) -> None:
        from pgwarden.slowlog.capture import SlowCapture
        from pgwarden.slowlog.derived import DerivedCapture

        self.settings, self.report = settings, report
        self.progress = progress or report
        self.collector = Collector(
            target_dsn, repository_dsn, target_name,
            settings=settings.collect,
            statement_timeout_ms=settings.statement_timeout_ms,
        )  # fmt: skip
        self.slow: SlowCapture = SlowCapture(
            settings.slow_queries, target_name, log_dir, report=self._report
        )
        self.derived: DerivedCapture = DerivedCapture(settings.slow_queries)
        self._derive_failure: str | None = None
        self.alerts: PeriodicEvaluation | None = None
        if alerts:
            from pgwarden.alerts.periodic import PeriodicEvaluation

            self.alerts = PeriodicEvaluation(settings, target_name, report=self._report)
        self.cycles = self.failures = self.samples = 0

    @property
    def target_name(self) -> str:
        return self.collector.target_name

    def _report(self, line: str) -> None:
        self.report(line)

    def cycle(self, *, once: bool = False) -> CycleResult | None:
        """One cycle, then the slow query log and the alert rules when due.

        With ``once`` a failed cycle raises :class:`CycleFailed` and one activity
        sample is taken; otherwise the failure is reported and ``None`` returned.
        """
        collector = self.collector
        try:
            result = collector.cycle()
        except CycleFailed as exc:
            self.failures += 1
            if once:
                raise
            self.report(str(exc))
            return None
        self.cycles += 1
        self.progress(result.summary())
        if once:
            self.sample()
        summary = self.slow.after_cycle(
            collector.repository, target_conn=collector.target
        ).summary()
        if summary:
            self.progress(summary)
        self._derive(result)
        if self.alerts is not None:
            self.alerts.after_cycle(collector.repository, collector.target)
        return result

    def _derive(self, result: CycleResult) -> None:
        """Slow queries from the interval's pg_stat_statements deltas, when no
        server log is read; a failure is reported and collection goes on."""
        target, repository = self.collector.target, self.collector.repository
        source = self.slow.log_source(target)
        if repository is None or not self.derived.active(
            source is not None and source.reads_log
        ):
            return
        interval = (result.prev_ts, result.ts)
        try:
            done = self.derived.after_cycle(
                repository, target, result.target_id, interval
            )
        except Exception as exc:  # never stops collection; reported once
            known = isinstance(exc, PgwardenError | psycopg.Error)
            reason = str(exc).strip().splitlines()[0] if known and str(exc) else ""
            line = "slow queries from pg_stat_statements skipped: " + (
                reason or type(exc).__name__
            )
            if line != self._derive_failure:
                self.report(line)
            self._derive_failure = line
            return
        self._derive_failure = None
        summary = done.summary()
        if summary:
            self.progress(summary)

    def sample(self) -> int:
        """One pg_stat_activity sample (skipped while a connection is down)."""
        found = self.slow.sample(self.collector.target, self.collector.repository)
        self.samples += 1
        return found

    def run(
        self,
        interval: float,
        *,
        max_seconds: float | None = None,
        stopped: Callable[[], bool] = lambda: False,
        sleep: Callable[[float], object] = time.sleep,
        first_cycle_in: float = 0.0,
    ) -> None:
        """Cycles every ``interval`` and samples between them, until stopped."""
        from pgwarden.slowlog.schedule import Periodic, Scheduler

        every = self.settings.slow_queries.sample_interval_seconds
        first = time.monotonic() + first_cycle_in if first_cycle_in > 0 else None
        collect = Periodic("collect", interval, self.cycle)
        if first is not None:
            collect.next_at = first
        tasks = [collect, Periodic("sample", every, self.sample)]
        Scheduler(tasks, sleep=sleep).run(max_seconds=max_seconds, stopped=stopped)
        sampled = self.slow.take_sampled()
        if sampled:
            self.progress(f"slow queries: {sampled} from activity since the last cycle")

    def seconds_until_due(self, interval: float, slack: float = 2.0) -> float:
        """Seconds until a cycle is due, judged by the repository's last cycle.

        Lets a cycle wait when another process collected this target recently; 0
        when the repository cannot tell (no cycle yet, or it cannot be read).
        """
        try:
            with pg.connect(self.collector.repository_dsn) as conn:
                row = pg.fetch_one(conn, LAST_CYCLE_AGE, [self.target_name])
        except (PgwardenError, psycopg.Error):  # the cycle reports the real problem
            return 0.0
        age = None if row is None else row["age"]
        if age is None:
            return 0.0
        wait = interval - float(age)
        return wait if wait > slack else 0.0

    def close(self) -> None:
        self.collector.close()

    def __enter__(self) -> CollectionLoop:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
