"""Rule evaluation after collection cycles, for ``pgwarden collect`` and the demo.

The collector calls :meth:`PeriodicEvaluation.after_cycle` after each successful
cycle. It evaluates when ``alerts.evaluate_interval_seconds`` have passed since the
last evaluation (the first cycle always evaluates), so at most once per cycle and
never more often than the interval. Notifications go to the configured channels, or
to the console (stderr) when none are configured; the lifecycle's repeat interval
decides what is sent again. A failing evaluation is reported in one line and never
stops collection.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

from pgwarden.alerts.channels import Channel, ConsoleChannel, build
from pgwarden.alerts.evaluate import Evaluation, evaluate_once
from pgwarden.config import Settings

logger = logging.getLogger(__name__)
Conn = psycopg.Connection[Any]
Evaluate = Callable[..., Evaluation]


def loop_channels(settings: Settings) -> list[Channel]:
    """The configured channels; without any, the console."""
    if not settings.alerts.channels:
        return [ConsoleChannel()]
    return build(settings.alerts)


class PeriodicEvaluation:
    """Evaluates the rules of one target every ``evaluate_interval_seconds``."""

    def __init__(
        self,
        settings: Settings,
        target: str,
        *,
        report: Callable[[str], None],
        channels: Sequence[Channel] | None = None,
        clock: Callable[[], float] = time.monotonic,
        evaluate: Evaluate = evaluate_once,
    ) -> None:
        self.settings, self.target, self.report = settings, target, report
        self.every = float(settings.alerts.evaluate_interval_seconds)
        self.channels = list(loop_channels(settings) if channels is None else channels)
        self.clock, self.evaluate = clock, evaluate
        self.evaluations = 0
        self.failures = 0
        self._last: float | None = None

    def due(self) -> bool:
        return self._last is None or self.clock() - self._last >= self.every

    def after_cycle(
        self, repo_conn: Conn | None, target_conn: Conn | None
    ) -> Evaluation | None:
        """Evaluate when due; ``None`` when not due, skipped or failed."""
        if repo_conn is None or repo_conn.closed or not self.due():
            return None
        self._last = self.clock()
        live = None if target_conn is None or target_conn.closed else target_conn
        try:
            done = self.evaluate(
                repo_conn, self.target, self.settings, datetime.now(UTC),
                target_conn=live, channels=self.channels,
            )  # fmt: skip
        except Exception as exc:  # an evaluation must never stop collection
            self.failures += 1
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            self.report(f"alert evaluation of {self.target} failed: {reason}")
            logger.debug("alert evaluation failed", exc_info=True)
            return None
        self.evaluations += 1
        if done.notices or any(not d.ok for d in done.deliveries):
            self.report(f"alerts: {done.summary()}")
        return done
