"""Virtual users: one worker's event loop running a scenario against one pool.

A worker is one application instance: its own connection pool (a
:class:`~pgwarden.load.pool.MeteredPool`) and its own LRU cache, shared by its
virtual users. In the **closed model** each user runs an action, thinks
(exponential, mean ``think_ms``) and runs the next. In the **open model** actions
arrive on a Poisson schedule at ``rate`` per second and ``users`` is the number of
concurrent clients draining that schedule; latency runs from the scheduled start.
Users start evenly over ``ramp_up_s`` (the open model ramps its rate instead) and
outcomes before ``warmup_s`` are not counted. With ``replica_dsn`` the worker opens
a second pool on the read replica and the scenario's read-only actions run there.

A SQL scenario (TOML/YAML) runs on the fast path (:mod:`pgwarden.load.fast`:
asyncpg, prepared statements, binary protocol) unless ``driver`` says
``psycopg`` or the scenario cannot take it; the reference application and Python
modules always run through psycopg's pool, their real code path. Each worker also
measures itself: its process CPU time in the window and the lag of its event loop,
from which the report says whether the generator, not the database, was the limit.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from pgwarden.demo.cache import LRUCache
from pgwarden.dsn import scrub
from pgwarden.load.contract import Runner, ScenarioError
from pgwarden.load.fast import FastBinding, open_fast
from pgwarden.load.histogram import Histogram
from pgwarden.load.outcome import classify
from pgwarden.load.pool import MeteredPool, action_pool_wait
from pgwarden.load.recorder import Recorder, WorkerResult
from pgwarden.load.scenario import ScenarioRef
from pgwarden.load.sqlfile import SqlScenario

APPLICATION_NAME = "pgwarden-load"
Model = Literal["closed", "open"]
Driver = Literal["auto", "asyncpg", "psycopg"]
LAG_PROBE_S = 0.05
T = TypeVar("T")


@dataclass(frozen=True)
class LoadSpec:
    """Everything a run needs; picklable, so worker processes receive it whole."""

    dsn: str
    scenario: ScenarioRef
    users: int
    duration_s: float
    rate: float | None = None
    think_ms: float | None = None
    ramp_up_s: float = 0.0
    warmup_s: float | None = None
    pool_size: int = 20
    pool_timeout_s: float = 5.0
    cache_size: int = 1000
    statement_timeout_ms: int = 30_000
    workers: int = 1
    seed: int | None = None
    drain_s: float = 30.0
    allowed_targets: tuple[str, ...] = ()
    #: the reference scenario may write into reference tables pgwarden did not load
    allow_unmarked: bool = False
    replica_dsn: str | None = None
    replica_pool_size: int | None = None
    #: SQL scenarios: "auto" takes the fast path (asyncpg) when it can
    driver: Driver = "auto"

    @property
    def model(self) -> Model:
        return "open" if self.rate is not None else "closed"

    @property
    def warmup(self) -> float:
        return self.ramp_up_s if self.warmup_s is None else self.warmup_s

    def share(self, index: int) -> LoadSpec:
        """Worker ``index``'s part: users, rate and pool split evenly."""
        n = self.workers

        def part(total: int) -> int:
            return max(1, total // n + (1 if index < total % n else 0))

        rate = None if self.rate is None else self.rate / n
        seed = None if self.seed is None else self.seed * 1000 + index
        replica = self.replica_pool_size
        return replace(
            self,
            users=part(self.users),
            pool_size=part(self.pool_size),
            replica_pool_size=None if replica is None else part(replica),
            rate=rate,
            seed=seed,
        )


@dataclass(frozen=True)
class Tick:
    """A worker's state once a second, for the live progress display."""

    worker: int
    elapsed_s: float
    phase: str
    done: int
    errors: int
    last_second: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    pool_in_use: int
    pool_size: int
    pool_waiting: int


class Coordinator(Protocol):
    async def ready(self) -> float:
        """Say the worker is ready; the wall-clock start time everyone shares."""

    def tick(self, tick: Tick) -> None: ...


@dataclass
class _Clock:
    start: float
    window_start: float
    window_end: float

    @classmethod
    def from_wall(cls, start_wall: float, spec: LoadSpec) -> _Clock:
        start = time.monotonic() + (start_wall - time.time())
        window_start = start + spec.warmup
        return cls(start, window_start, window_start + spec.duration_s)


class _Pool(Protocol):
    """What the measurement reads of a pool (MeteredPool or FastPool)."""

    size: int
    in_use: int
    waiting: int
    peak_waiting: int
    recording: bool
    acquire_wait: Histogram

    def busy_seconds(self) -> float: ...


async def run_worker(spec: LoadSpec, index: int, coord: Coordinator) -> WorkerResult:
    """Open the pool, bind the scenario, wait for the start, run, measure."""
    scenario = spec.scenario.resolve()
    note = ""
    if isinstance(scenario, SqlScenario) and spec.driver != "psycopg":
        try:
            binding = await _bind_fast(spec, scenario)
        except ScenarioError:
            raise
        except Exception as exc:
            secrets = (spec.dsn, spec.replica_dsn or "")
            if spec.driver == "asyncpg":
                raise ScenarioError(
                    scrub(f"the asyncpg driver cannot run it: {exc}", *secrets)
                ) from exc
            note = scrub(f"asyncpg not used: {exc}", *secrets).splitlines()[0][:200]
        else:
            try:
                return await _run_fast(spec, index, coord, scenario, binding)
            finally:
                await binding.close()
    options = f"-c statement_timeout={spec.statement_timeout_ms}"
    kwargs: dict[str, Any] = {"application_name": APPLICATION_NAME, "options": options}
    kwargs["autocommit"] = scenario.autocommit
    pool = _pool(spec.dsn, spec.pool_size, spec, kwargs, f"{index}")
    replica = None
    if spec.replica_dsn is not None and scenario.read_only:
        size = spec.replica_pool_size or spec.pool_size
        replica = _pool(spec.replica_dsn, size, spec, kwargs, f"replica-{index}")
    try:
        for opened in (pool, replica):
            if opened is not None:
                await opened.open(wait=True, timeout=60)
        cache: LRUCache[Any] = LRUCache(spec.cache_size)
        runner = await scenario.bind(pool, cache, replica)
        think = spec.think_ms if spec.think_ms is not None else scenario.think_ms
        clock = _Clock.from_wall(await coord.ready(), spec)
        users = _Users(spec, index, runner, pool, clock, (think or 0.0) / 1000)
        users.weights = dict(scenario.weights)
        users.replica = replica
        users.driver_note = note
        return await users.run(cache, coord)
    finally:
        for opened in (pool, replica):
            if opened is not None:
                await opened.close()


def run_loop(spec: LoadSpec, main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to the end on the event loop ``spec`` calls for: uvloop for a
    SQL scenario on the fast path when uvloop is installed (it takes a sixth or so
    off the generator's CPU per action), asyncio's own loop otherwise."""
    with asyncio.Runner(loop_factory=_loop_factory(spec)) as runner:
        return runner.run(main)


def _loop_factory(spec: LoadSpec) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if spec.driver == "psycopg" or not spec.scenario.is_sql_file:
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _bind_fast(spec: LoadSpec, scenario: SqlScenario) -> FastBinding:
    settings = {
        "application_name": APPLICATION_NAME,
        "statement_timeout": str(spec.statement_timeout_ms),
    }
    replica = None
    if spec.replica_dsn is not None and scenario.read_only:
        replica = (spec.replica_dsn, spec.replica_pool_size or spec.pool_size)
    return await open_fast(
        scenario, spec.dsn, spec.pool_size, spec.pool_timeout_s, settings, replica
    )


async def _run_fast(
    spec: LoadSpec,
    index: int,
    coord: Coordinator,
    scenario: SqlScenario,
    binding: FastBinding,
) -> WorkerResult:
    cache: LRUCache[Any] = LRUCache(spec.cache_size)  # SQL files use none
    think = spec.think_ms if spec.think_ms is not None else scenario.think_ms
    clock = _Clock.from_wall(await coord.ready(), spec)
    users = _FastUsers(spec, index, None, binding.primary, clock, (think or 0.0) / 1000)
    users.binding = binding
    users.replica = binding.replica
    users.driver = "asyncpg"
    return await users.run(cache, coord)


def _pool(
    dsn: str, size: int, spec: LoadSpec, kwargs: dict[str, Any], name: str
) -> MeteredPool:
    return MeteredPool(
        dsn,
        size,
        timeout=spec.pool_timeout_s,
        kwargs=kwargs,
        name=f"{APPLICATION_NAME}-{name}",
        reconnect_timeout=10,
    )


class _Users:
    def __init__(
        self,
        spec: LoadSpec,
        index: int,
        runner: Runner | None,
        pool: _Pool,
        clock: _Clock,
        think_s: float,
    ) -> None:
        self.spec, self.index, self.runner, self.pool = spec, index, runner, pool
        self.clock, self.think_s = clock, think_s
        self.rng = random.Random(spec.seed)
        self.recorder = Recorder(clock.window_start, clock.window_end)
        self.weights: dict[str, float] = {}
        self.replica: _Pool | None = None
        self.driver = "psycopg"
        self.driver_note = ""
        self.loop_lag = Histogram()
        self.cpu_s = 0.0
        self.runnable_s = 0.0
        self.executed = 0
        self._next_arrival = clock.start

    async def run(self, cache: LRUCache[Any], coord: Coordinator) -> WorkerResult:
        loop = self._closed_user if self.spec.model == "closed" else self._open_user
        tasks = [asyncio.create_task(loop(i)) for i in range(self.spec.users)]
        window = asyncio.create_task(self._window(cache))
        ticker = asyncio.create_task(self._ticker(coord))
        try:
            await asyncio.gather(*tasks)
            busy, hits, misses, replica_busy = await window
        finally:
            for task in (*tasks, window, ticker):
                task.cancel()
        self._flush_pools()
        stats = cache.stats()
        pool = (
            self.pool.acquire_wait.encode(),
            self.pool.size,
            busy,
            self.pool.peak_waiting,
        )
        replica = (self.replica.size if self.replica else 0, replica_busy)
        return self.recorder.result(
            pool,
            (stats.capacity, hits, misses),
            replica,
            cpu_s=self.cpu_s,
            executed=self.executed,
            runnable_s=self.runnable_s,
            window_s=self.spec.duration_s,
            loop_lag=self.loop_lag.encode(),
            lateness=self.recorder.lateness.encode(),
            driver=self.driver,
            driver_note=self.driver_note,
        )

    def _flush_pools(self) -> None:
        """Fold what the pools kept aside into their histograms (fast path)."""

    # -- users -------------------------------------------------------------------
    async def _closed_user(self, user: int) -> None:
        spec, clock = self.spec, self.clock
        position = (user * spec.workers + self.index) / (spec.users * spec.workers)
        await _sleep_until(clock.start + spec.ramp_up_s * position)
        rng = random.Random(self.rng.random())
        while (now := time.monotonic()) < clock.window_end:
            await self._one(self._pick(rng), now, rng)
            if self.think_s > 0:
                await _sleep_until(
                    min(
                        time.monotonic() + rng.expovariate(1 / self.think_s),
                        clock.window_end,
                    )
                )
            else:
                await asyncio.sleep(0)

    async def _open_user(self, user: int) -> None:
        rng = random.Random(self.rng.random())
        late = self.clock.window_end + self.spec.drain_s
        while (intended := self._arrival()) is not None:
            if time.monotonic() > late:
                self.recorder.dropped += 1
                continue
            await _sleep_until(intended)
            await self._one(self._pick(rng), intended, rng)

    def _arrival(self) -> float | None:
        """The next scheduled start (Poisson; the rate ramps up linearly)."""
        assert self.spec.rate is not None
        t = self._next_arrival
        ramp = self.spec.ramp_up_s
        share = min(1.0, (t - self.clock.start) / ramp) if ramp > 0 else 1.0
        rate = self.spec.rate * max(share, 0.02)
        self._next_arrival = t + self.rng.expovariate(rate)
        return t if t < self.clock.window_end else None

    def _pick(self, rng: random.Random) -> str:
        return rng.choices(list(self.weights), list(self.weights.values()))[0]

    async def _one(self, action: str, intended: float, rng: random.Random) -> None:
        assert self.runner is not None
        waited = [0.0]
        token = action_pool_wait.set(waited)
        started = time.monotonic()
        try:
            await self.runner.run(action, rng)
        except Exception as exc:
            self.recorder.error(action, intended, time.monotonic(), classify(exc))
        else:
            ended = time.monotonic()
            self.recorder.ok(action, intended, started, ended, waited[0])
        finally:
            action_pool_wait.reset(token)

    # -- measurement -------------------------------------------------------------
    async def _window(self, cache: LRUCache[Any]) -> tuple[float, int, int, float]:
        """Pool busy times and cache hits/misses between window start and end."""
        await _sleep_until(self.clock.window_start)
        self.pool.recording = True
        busy0, before = self.pool.busy_seconds(), cache.stats()
        replica0 = self.replica.busy_seconds() if self.replica else 0.0
        cpu0, runnable0 = time.process_time(), _runnable_s()
        calls0 = self.recorder.calls
        probe = asyncio.create_task(self._probe_lag())
        try:
            await _sleep_until(self.clock.window_end)
        finally:
            probe.cancel()
        self.cpu_s = time.process_time() - cpu0
        self.executed = self.recorder.calls - calls0
        runnable1 = _runnable_s()
        if runnable0 is not None and runnable1 is not None:
            self.runnable_s = runnable1 - runnable0
        busy1, after = self.pool.busy_seconds(), cache.stats()
        replica1 = self.replica.busy_seconds() if self.replica else 0.0
        return (
            busy1 - busy0,
            after.hits - before.hits,
            after.misses - before.misses,
            replica1 - replica0,
        )

    async def _probe_lag(self) -> None:
        """How late the event loop wakes a sleeper: high when it is saturated."""
        end = self.clock.window_end - LAG_PROBE_S
        while (asked := time.monotonic()) < end:
            await asyncio.sleep(LAG_PROBE_S)
            self.loop_lag.record((time.monotonic() - asked - LAG_PROBE_S) * 1e6)

    async def _ticker(self, coord: Coordinator) -> None:
        clock = self.clock
        second = -math.floor(clock.window_start - clock.start)
        busy = self.pool.busy_seconds()
        while True:
            await _sleep_until(clock.window_start + second + 1)
            self.recorder.flush()
            now_busy = self.pool.busy_seconds()
            if second >= 0:
                self.recorder.second(clock.window_start + second).pool_busy_s = (
                    now_busy - busy
                )
            busy = now_busy
            coord.tick(self._tick(second))
            second += 1

    def _tick(self, second: int) -> Tick:
        now = time.monotonic()
        clock, rec = self.clock, self.recorder
        phase = (
            "ramp-up"
            if now < clock.start + self.spec.ramp_up_s
            else "warm-up"
            if now < clock.window_start
            else "measuring"
            if now < clock.window_end
            else "draining"
        )
        last = rec.seconds[second] if 0 <= second < len(rec.seconds) else None
        hist = last.latency if last else None
        p50, p95, p99 = (hist.percentile_ms(q) if hist else 0.0 for q in (50, 95, 99))
        return Tick(
            self.index,
            now - clock.start,
            phase,
            rec.done,
            rec.failed,
            last.count if last else 0,
            p50,
            p95,
            p99,
            self.pool.in_use,
            self.pool.size,
            self.pool.waiting,
        )


class _FastUsers(_Users):
    """Virtual users of a SQL scenario on the fast path (prepared, asyncpg)."""

    binding: FastBinding

    def _flush_pools(self) -> None:
        self.binding.primary.flush()
        if self.binding.replica is not None:
            self.binding.replica.flush()

    async def _closed_user(self, user: int) -> None:
        spec, clock = self.spec, self.clock
        position = (user * spec.workers + self.index) / (spec.users * spec.workers)
        await _sleep_until(clock.start + spec.ramp_up_s * position)
        await self._user(random.Random(self.rng.random()), closed=True)

    async def _open_user(self, user: int) -> None:
        await self._user(random.Random(self.rng.random()), closed=False)

    async def _user(self, rng: random.Random, closed: bool) -> None:
        """One user's loop, everything it touches bound to locals once."""
        binding, recorder, mono = self.binding, self.recorder, time.monotonic
        actions, pools, pick = binding.actions, binding.pools, binding.pick
        ok, end, think = recorder.ok, self.clock.window_end, self.think_s
        late = end + self.spec.drain_s
        arrival = self._arrival
        while True:
            if closed:
                started = intended = mono()
                if started >= end:
                    return
            else:
                next_start = arrival()
                if next_start is None:
                    return
                intended = next_start
                if mono() > late:
                    recorder.dropped += 1
                    continue
                await _sleep_until(intended)
                started = mono()
            index = pick(rng)
            action, pool = actions[index], pools[index]
            slot = pool.take(started)
            waited = 0.0
            try:
                if slot is None:
                    slot = await pool.wait(started)
                    waited = mono() - started
                await slot.run[index]([draw(rng) for draw in action.draws])
            except Exception as exc:
                ended = mono()
                if slot is not None:
                    pool.give(slot, ended, broken=True)
                recorder.error(action.name, intended, ended, classify(exc))
                continue
            ended = mono()
            pool.give(slot, ended)
            ok(action.name, intended, started, ended, waited)
            if closed and think > 0:
                await _sleep_until(min(mono() + rng.expovariate(1 / think), end))


def _runnable_s() -> float | None:
    """Seconds this thread has run or waited to run (Linux schedstat), else None.

    A generator that wanted a whole core but shared it with others runs less
    than 90 % of the time yet is runnable all of it."""
    try:
        fields = Path("/proc/thread-self/schedstat").read_text().split()
        return (int(fields[0]) + int(fields[1])) / 1e9
    except (OSError, ValueError, IndexError):
        return None


async def _sleep_until(when: float) -> None:
    delay = when - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
