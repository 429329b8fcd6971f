"""What one worker measured: latencies, errors, pool use and cache use in the window.

Only actions whose *intended* start falls in the measurement window count: in the
closed model that is when the user started it, in the open model when the arrival
schedule said it should start, so time spent queueing behind a stall is part of
its latency (coordinated omission corrected, as pgbench ``--rate`` and wrk2 do).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from pgwarden.load.histogram import Histogram
from pgwarden.load.outcome import ErrorClass

SECOND_DIGITS = 2


@dataclass
class Second:
    """One second of the window: completions, errors, latencies, pool busy time."""

    count: int = 0
    errors: int = 0
    latency: Histogram = field(default_factory=lambda: Histogram(SECOND_DIGITS))
    pool_busy_s: float = 0.0


@dataclass(frozen=True)
class WorkerResult:
    """A worker's measurements, encoded so they cross process boundaries."""

    overall: bytes
    service: bytes
    actions: dict[str, bytes]
    errors: dict[str, dict[str, int]]
    pool_wait: bytes
    pool_size: int
    pool_busy_s: float
    pool_max_waiting: int
    pool_wait_total_s: float
    latency_total_s: float
    cache: tuple[int, int, int]  # capacity, hits, misses
    seconds: list[tuple[int, int, bytes, float]]
    dropped: int
    replica_pool: tuple[int, float] = (0, 0.0)  # size, busy connection-seconds


class Recorder:
    """Collects one worker's outcomes between ``window_start`` and ``window_end``."""

    def __init__(self, window_start: float, window_end: float) -> None:
        self.window_start = window_start
        self.window_end = window_end
        self.overall = Histogram()
        self.service = Histogram()
        self.actions: dict[str, Histogram] = defaultdict(Histogram)
        self.errors: dict[str, Counter[str]] = defaultdict(Counter)
        self.seconds: list[Second] = []
        self.pool_wait_total_s = 0.0
        self.latency_total_s = 0.0
        self.done = 0
        self.failed = 0
        self.dropped = 0

    def measured(self, intended: float) -> bool:
        return self.window_start <= intended < self.window_end

    def ok(
        self, action: str, intended: float, started: float, ended: float, waited: float
    ) -> None:
        if not self.measured(intended):
            return
        latency_us = (ended - intended) * 1e6
        self.overall.record(latency_us)
        self.actions[action].record(latency_us)
        self.service.record((ended - started) * 1e6)
        second = self.second(ended)
        second.count += 1
        second.latency.record(latency_us)
        self.pool_wait_total_s += waited
        self.latency_total_s += ended - intended
        self.done += 1

    def error(
        self, action: str, intended: float, ended: float, kind: ErrorClass
    ) -> None:
        if not self.measured(intended):
            return
        self.errors[action][kind] += 1
        self.second(ended).errors += 1
        self.failed += 1

    def second(self, at: float) -> Second:
        index = max(0, int(at - self.window_start))
        while len(self.seconds) <= index:
            self.seconds.append(Second())
        return self.seconds[index]

    def result(
        self,
        pool: tuple[bytes, int, float, int],
        cache: tuple[int, int, int],
        replica_pool: tuple[int, float] = (0, 0.0),
    ) -> WorkerResult:
        wait, size, busy, max_waiting = pool
        return WorkerResult(
            overall=self.overall.encode(),
            service=self.service.encode(),
            actions={name: h.encode() for name, h in self.actions.items()},
            errors={name: dict(c) for name, c in self.errors.items()},
            pool_wait=wait,
            pool_size=size,
            pool_busy_s=busy,
            pool_max_waiting=max_waiting,
            pool_wait_total_s=self.pool_wait_total_s,
            latency_total_s=self.latency_total_s,
            cache=cache,
            seconds=[
                (s.count, s.errors, s.latency.encode(), s.pool_busy_s)
                for s in self.seconds
            ],
            dropped=self.dropped,
            replica_pool=replica_pool,
        )
