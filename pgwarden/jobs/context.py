"""What the tasks of one worker process share: settings, targets, loops, the stop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pgwarden.collect.loop import CollectionLoop
from pgwarden.config import Settings
from pgwarden.errors import ConfigurationError
from pgwarden.jobs.fleet import FleetState
from pgwarden.jobs.queues import target_queue

logger = logging.getLogger(__name__)

Say = Callable[[str], object]


@dataclass
class WorkerContext:
    """One worker process: its targets (name → DSN) and its collection loops.

    With ``fleet``, the targets are the registry's, read again while it runs.

    DSNs stay here, in the process: jobs carry only the target's name
    (``host:port/dbname``), so no password is ever stored in the queue.
    """

    settings: Settings
    repository_dsn: str
    targets: dict[str, str]
    #: one line per job
    say: Say
    #: failures and notifications (default: ``say``)
    warn: Say | None = None
    log_dir: Path | None = None
    #: seconds between cycles instead of ``collect.interval_seconds`` (the demo)
    collect_interval: float | None = None
    #: one cycle per collect job instead of a lease (``pgwarden worker --once``)
    once: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    loops: dict[str, CollectionLoop] = field(default_factory=dict)
    #: the registered targets this worker serves (``pgwarden worker`` without --dsn)
    fleet: FleetState | None = None

    def target_dsn(self, target: str) -> str:
        try:
            return self.targets[target]
        except KeyError:
            raise ConfigurationError(
                f"this worker does not serve target {target}; "
                "run a worker whose --dsn points at it"
            ) from None

    def serves(self, target: str) -> bool:
        return target in self.targets

    def interval_of(self, target: str) -> float:
        """Seconds between cycles of ``target`` (the registry's, else the worker's)."""
        if self.fleet is not None and target in self.fleet.intervals:
            return self.fleet.intervals[target]
        return self.interval

    def target_queue(self, target: str) -> str:
        """The queue of ``target``'s jobs: its own, or the fleet's."""
        base = self.settings.jobs.queue
        if self.fleet is not None:
            return self.fleet.queue(base)
        return target_queue(base, target)

    def report(self, line: str) -> None:
        (self.warn or self.say)(line)

    @property
    def interval(self) -> float:
        return self.collect_interval or self.settings.collect.interval_seconds

    def loop(self, target: str) -> CollectionLoop:
        """The target's collection loop, kept between collect jobs of this process."""
        found = self.loops.get(target)
        if found is None:
            found = CollectionLoop(
                self.target_dsn(target), self.repository_dsn, target, self.settings,
                report=self.report, progress=_progress, log_dir=self.log_dir,
                alerts=False,
            )  # fmt: skip
            self.loops[target] = found
        return found

    def queues(self) -> list[str]:
        """The queue of the repository-wide jobs, then one per target."""
        base = self.settings.jobs.queue
        if self.fleet is not None:
            return [base, self.fleet.queue(base)]
        return [base, *(target_queue(base, target) for target in self.targets)]

    def stopped(self) -> bool:
        return self.stop.is_set()

    def close(self) -> None:
        for loop in self.loops.values():
            loop.close()

    @property
    def cycles(self) -> int:
        return sum(loop.cycles for loop in self.loops.values())

    @property
    def samples(self) -> int:
        return sum(loop.samples for loop in self.loops.values())


def _progress(line: str) -> None:
    logger.info("%s", line)


def elapsed(started: float) -> str:
    return f"{time.monotonic() - started:.1f} s"
