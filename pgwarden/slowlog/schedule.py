"""When to run what: collection cycles and activity samples, each at its own pace.

``pgwarden collect`` and the demo's collector run a collection cycle every
``collect.interval_seconds`` (60 s; it also reads the server log) and sample
pg_stat_activity every ``slow_queries.sample_interval_seconds`` (5 s) in between, so
a statement of a few seconds is caught while it runs; the alert rules are evaluated
after a cycle (see :mod:`pgwarden.alerts.periodic`). The clock and the sleep are
parameters: tests drive the loop with a fake clock, the demo with a stop event.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Clock = Callable[[], float]
Sleep = Callable[[float], object]


@dataclass
class Periodic:
    """An action due every ``seconds`` of the clock, the first time at once."""

    name: str
    seconds: float
    action: Callable[[], object]
    next_at: float = -math.inf


class Scheduler:
    """Runs the due actions, in the order given, then sleeps until the next one."""

    def __init__(
        self,
        tasks: Sequence[Periodic],
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.tasks = list(tasks)
        self.clock, self.sleep = clock, sleep

    def run_due(self) -> list[str]:
        """Run every action that is due; their names."""
        ran = []
        for task in self.tasks:
            started = self.clock()
            if started >= task.next_at:
                task.next_at = started + task.seconds
                task.action()
                ran.append(task.name)
        return ran

    def next_due(self) -> float:
        return min(task.next_at for task in self.tasks)

    def run(
        self,
        *,
        max_seconds: float | None = None,
        stopped: Callable[[], bool] = lambda: False,
    ) -> None:
        """Until ``stopped()`` or for ``max_seconds`` (the due actions run at once)."""
        deadline = math.inf if max_seconds is None else self.clock() + max_seconds
        while not stopped():
            self.run_due()
            now = self.clock()
            if now >= deadline or stopped():
                return
            self.sleep(max(0.0, min(self.next_due(), deadline) - now))
