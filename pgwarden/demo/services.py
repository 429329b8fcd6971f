"""The demo's background services: the collector and the dashboard, in threads."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pgwarden import pg
from pgwarden.alerts.periodic import PeriodicEvaluation
from pgwarden.config import Settings
from pgwarden.errors import PgwardenError

if TYPE_CHECKING:
    from pgwarden.collect import Collector
    from pgwarden.slowlog.capture import SlowCapture

logger = logging.getLogger(__name__)


class CollectorThread(threading.Thread):
    """Collection cycles every ``interval`` seconds until stopped.

    Each cycle also reads the server log's new slow statements (``log_dir``) and,
    about once an hour, applies the slow query log's retention; pg_stat_activity is
    sampled every ``slow_queries.sample_interval_seconds`` in between. After a cycle
    the alert rules are evaluated every ``alerts.evaluate_interval_seconds``; firing
    alerts go to the configured channels, or to stderr without any.
    """

    def __init__(
        self, dsn: str, settings: Settings, interval: float, log_dir: Path | None
    ) -> None:
        super().__init__(name="pgwarden-collector", daemon=True)
        self.dsn, self.settings, self.interval = dsn, settings, interval
        self.log_dir = log_dir
        self.alerts = PeriodicEvaluation(
            settings, pg.describe(dsn), report=lambda line: logger.warning("%s", line)
        )
        self.cycles = 0
        self.failures = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        from pgwarden.collect import Collector
        from pgwarden.slowlog.capture import SlowCapture
        from pgwarden.slowlog.schedule import Periodic, Scheduler

        name = pg.describe(self.dsn)
        slow = SlowCapture(self.settings.slow_queries, name, self.log_dir)
        with Collector(
            self.dsn, self.dsn, name, settings=self.settings.collect
        ) as collector:
            tasks = [
                Periodic(
                    "collect", self.interval, lambda: self._cycle(collector, slow)
                ),
                Periodic(
                    "sample",
                    self.settings.slow_queries.sample_interval_seconds,
                    lambda: self._sample(collector, slow),
                ),
            ]
            Scheduler(tasks, sleep=self._stop_event.wait).run(
                stopped=self._stop_event.is_set
            )

    def _cycle(self, collector: Collector, slow: SlowCapture) -> None:
        try:
            collector.cycle()
        except PgwardenError as exc:
            self.failures += 1
            logger.warning("%s", exc)
            return
        self.cycles += 1
        summary = slow.after_cycle(collector.repository).summary()
        if summary:
            logger.info("%s", summary)
        self.alerts.after_cycle(collector.repository, collector.target)

    def _sample(self, collector: Collector, slow: SlowCapture) -> None:
        slow.sample(collector.target, collector.repository)
        self.samples += 1

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=30)


class DashboardThread(threading.Thread):
    """The dashboard and API under uvicorn on ``host:port``."""

    def __init__(
        self, dsn: str, settings: Settings, host: str, port: int, token: str
    ) -> None:
        super().__init__(name="pgwarden-dashboard", daemon=True)
        from pgwarden.web import create_app
        from pgwarden.web.server import make_server

        app = create_app(settings, dsn, pg.describe(dsn), token, target_dsn=dsn)
        self.server = make_server(app, host, port, access_log=False)

    def run(self) -> None:
        self.server.run()

    def wait_started(self, timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while not self.server.started and time.monotonic() < deadline:
            if not self.is_alive():
                return False
            time.sleep(0.05)
        return bool(self.server.started)

    def stop(self) -> None:
        self.server.should_exit = True
        self.join(timeout=15)


def stop_all(*services: CollectorThread | DashboardThread | None) -> None:
    for service in services:
        if service is not None:
            service.stop()
