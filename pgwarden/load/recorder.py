"""What one worker measured: latencies, errors, pool use and cache use in the window.

Only actions whose *intended* start falls in the measurement window count: in the
closed model that is when the user started it, in the open model when the arrival
schedule said it should start, so time spent queueing behind a stall is part of
its latency (coordinated omission corrected, as pgbench ``--rate`` and wrk2 do).

Recording is cheap: an outcome is kept as a plain tuple and folded into the
histograms in batches (once a second and at the end), where equal latencies are
recorded once with their count.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from math import fsum
from operator import sub
from typing import Any

from pgwarden.load.histogram import Histogram
from pgwarden.load.outcome import ErrorClass

SECOND_DIGITS = 2
_MICROS = (1e6).__mul__


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
    #: process CPU seconds of this worker during the measured window
    cpu_s: float = 0.0
    #: actions that ended in that window, whenever they were meant to start
    executed: int = 0
    #: seconds its event-loop thread ran or waited for a CPU (0 when unknown)
    runnable_s: float = 0.0
    #: wall seconds of that window
    window_s: float = 0.0
    #: event-loop lag of periodic probes in the window (encoded, microseconds)
    loop_lag: bytes = b""
    #: open model: how late actions started against their schedule (encoded, µs)
    lateness: bytes = b""
    #: "asyncpg" when the SQL fast path ran, else "psycopg"
    driver: str = "psycopg"
    #: why the fast path was not taken, when it was not
    driver_note: str = ""


class Recorder:
    """Collects one worker's outcomes between ``window_start`` and ``window_end``."""

    def __init__(self, window_start: float, window_end: float) -> None:
        self.window_start = window_start
        self.window_end = window_end
        self.overall = Histogram()
        self.service = Histogram()
        self.lateness = Histogram()  # start - intended start (the open model's lag)
        self.actions: dict[str, Histogram] = defaultdict(Histogram)
        self.errors: dict[str, Counter[str]] = defaultdict(Counter)
        self.seconds: list[Second] = []
        self.pool_wait_total_s = 0.0
        self.latency_total_s = 0.0
        self.done = 0
        self.failed = 0
        self.dropped = 0
        self.calls = 0  # every outcome, measured or not: the generator's work
        self._clear()

    def _clear(self) -> None:
        self.intended: list[float] = []
        self.started: list[float] = []
        self.ended: list[float] = []
        self.names: list[str] = []

    def measured(self, intended: float) -> bool:
        return self.window_start <= intended < self.window_end

    def ok(
        self, action: str, intended: float, started: float, ended: float, waited: float
    ) -> None:
        """One completed action; counted at the next :meth:`flush`."""
        self.calls += 1
        if self.window_start <= intended < self.window_end:
            self.intended.append(intended)
            self.started.append(started)
            self.ended.append(ended)
            self.names.append(action)
            self.pool_wait_total_s += waited

    def flush(self) -> None:
        """Fold the outcomes kept since the last flush into the histograms.

        The arithmetic runs in C (``map`` over the kept lists, ``Counter``), and
        each distinct value is recorded once with its count."""
        intended, started, ended, names = (
            self.intended,
            self.started,
            self.ended,
            self.names,
        )
        if not ended:
            return
        self._clear()
        latency = list(map(int, map(_MICROS, map(sub, ended, intended))))
        counted = Counter(latency)
        for micros, n in counted.items():
            record(self.overall, micros, n)
        if len(set(names)) == 1:
            hist = self.actions[names[0]]
            for micros, n in counted.items():
                record(hist, micros, n)
        else:
            for (name, micros), n in Counter(zip(names, latency, strict=True)).items():
                record(self.actions[name], micros, n)
        service = map(int, map(_MICROS, map(sub, ended, started)))
        for micros, n in Counter(service).items():
            record(self.service, micros, n)
        late = map(int, map(_MICROS, map(sub, started, intended)))
        for micros, n in Counter(late).items():
            record(self.lateness, micros, n)
        at = map(int, map((-self.window_start).__add__, ended))
        for (index, micros), n in Counter(zip(at, latency, strict=True)).items():
            second = self.second(self.window_start + index)
            second.count += n
            record(second.latency, micros, n)
        self.latency_total_s += fsum(map(sub, ended, intended))
        self.done += len(ended)

    def error(
        self, action: str, intended: float, ended: float, kind: ErrorClass
    ) -> None:
        self.calls += 1
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
        **generator: Any,
    ) -> WorkerResult:
        """Everything measured; ``generator`` names the generator's own figures
        (``cpu_s``, ``executed``, ``runnable_s``, ``window_s``, ``loop_lag``,
        ``lateness``, ``driver``, ``driver_note``)."""
        self.flush()
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
            **generator,
        )


def record(hist: Histogram, micros: int, count: int = 1) -> None:
    """``count`` equal values at once (one HdrHistogram call, not ``count``)."""
    hist.record(micros, count)
