"""The demo's background services: the worker and the dashboard, in threads."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from pgwarden.collect.loop import CollectionLoop
from pgwarden.config import Settings
from pgwarden.errors import PgwardenError
from pgwarden.repository import targets

logger = logging.getLogger(__name__)


class WorkerThread(threading.Thread):
    """The background job worker (:mod:`pgwarden.jobs`) of the demo, in-process.

    It runs what ``pgwarden worker`` runs: collection leases (a cycle every
    ``interval`` seconds, activity samples in between), alert evaluation, retention,
    maintenance and reports. Job lines are logged at INFO; failures and
    notifications at WARNING.
    """

    def __init__(
        self, dsn: str, settings: Settings, interval: float, log_dir: Path | None
    ) -> None:
        super().__init__(name="pgwarden-worker", daemon=True)
        from pgwarden.jobs import WorkerContext, WorkerOptions, WorkerRun

        name = targets.name_of(dsn, dsn)
        self.context = WorkerContext(
            settings=settings, repository_dsn=dsn, targets={name: dsn},
            say=lambda line: logger.info("%s", line),
            warn=lambda line: logger.warning("%s", line),
            log_dir=log_dir, collect_interval=interval,
        )  # fmt: skip
        self.run_ = WorkerRun(self.context, WorkerOptions())
        self.error: PgwardenError | None = None

    @property
    def cycles(self) -> int:
        return self.context.cycles

    def run(self) -> None:
        try:
            self.run_.run()
        except PgwardenError as exc:
            self.error = exc
            logger.warning("the worker stopped: %s", exc)

    def stop(self) -> None:
        self.run_.stop()
        self.join(timeout=30)


class CollectorThread(threading.Thread):
    """The shared collection loop in a thread, without the job queue.

    Cycles every ``interval`` seconds, activity samples in between, the alert rules
    after a cycle when due; lines are logged (routine at INFO, the rest at WARNING).
    """

    def __init__(
        self, dsn: str, settings: Settings, interval: float, log_dir: Path | None
    ) -> None:
        super().__init__(name="pgwarden-collector", daemon=True)
        self.interval = interval
        self.loop = CollectionLoop(
            dsn, dsn, targets.name_of(dsn, dsn), settings,
            report=lambda line: logger.warning("%s", line),
            progress=lambda line: logger.info("%s", line),
            log_dir=log_dir,
        )  # fmt: skip
        assert self.loop.alerts is not None
        self.alerts = self.loop.alerts
        self._stop_event = threading.Event()

    @property
    def cycles(self) -> int:
        return self.loop.cycles

    @property
    def samples(self) -> int:
        return self.loop.samples

    @property
    def failures(self) -> int:
        return self.loop.failures

    def run(self) -> None:
        with self.loop:
            self.loop.run(
                self.interval,
                stopped=self._stop_event.is_set,
                sleep=self._stop_event.wait,
            )

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

        name = targets.name_of(dsn, dsn)
        app = create_app(settings, dsn, name, token, target_dsn=dsn)
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


def stop_all(
    *services: WorkerThread | CollectorThread | DashboardThread | None,
) -> None:
    for service in services:
        if service is not None:
            service.stop()
