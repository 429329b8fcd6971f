"""A light, realistic workload of the reference application's actions."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from pgwarden.demo.actions import ACTIONS
from pgwarden.demo.app import ReferenceApp
from pgwarden.demo.cache import CacheStats, LRUCache
from pgwarden.demo.context import WorkloadContext, fetch_context
from pgwarden.demo.sqlcommenter import APPLICATION

logger = logging.getLogger(__name__)

# Relative weights: reads dominate, the N+1 variant runs now and then.
ACTION_MIX: dict[str, float] = {
    "list_assessments": 24,
    "open_assessment": 16,
    "dashboard_counts": 15,
    "search": 8,
    "assessment_history": 8,
    "read_audit_log": 6,
    "save_answer": 12,
    "attach_evidence": 3,
    "sign_in": 5,
    "open_assessment_n_plus_one": 3,
}

MAX_IN_FLIGHT = 8


@dataclass(frozen=True)
class WorkloadStats:
    """What a workload run did, by action."""

    seconds: float
    actions: dict[str, int]
    errors: dict[str, int]
    cache: CacheStats

    @property
    def total(self) -> int:
        return sum(self.actions.values())

    @property
    def total_errors(self) -> int:
        return sum(self.errors.values())

    def __str__(self) -> str:
        return (
            f"{self.total} actions in {self.seconds:.0f} s, "
            f"{self.total_errors} errors, cache hit ratio {self.cache.hit_ratio:.0%}"
        )


async def run_action(
    app: ReferenceApp, ctx: WorkloadContext, rng: random.Random, name: str
) -> None:
    """Run action ``name`` with parameters drawn from ``ctx``."""
    await ACTIONS[name](app, ctx, rng)


async def run_light_workload(
    pool_or_dsn: AsyncConnectionPool | str,
    *,
    stop: asyncio.Event,
    rate_per_second: float = 5.0,
    cache_size: int = 1000,
    seed: int | None = None,
) -> WorkloadStats:
    """Run random actions at about ``rate_per_second`` until ``stop`` is set.

    Arrivals are Poisson; at most ``MAX_IN_FLIGHT`` actions run at once. A failing
    action is counted and logged, never raised.
    """
    rng = random.Random(seed)
    cache: LRUCache[object] = LRUCache(cache_size)
    done: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    started = time.monotonic()
    async with _pool(pool_or_dsn) as pool:
        app = ReferenceApp(pool, cache)
        ctx = await fetch_context(pool)
        slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        tasks: set[asyncio.Task[None]] = set()
        names, weights = list(ACTION_MIX), list(ACTION_MIX.values())
        while not stop.is_set():
            await slots.acquire()
            name = rng.choices(names, weights)[0]
            run = _counted(app, ctx, rng, name, done, failed, slots)
            task = asyncio.create_task(run)
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            await _sleep_unless(stop, rng.expovariate(rate_per_second))
        if tasks:
            await asyncio.wait(tasks)
    seconds = time.monotonic() - started
    return WorkloadStats(seconds, dict(done), dict(failed), cache.stats())


async def _counted(
    app: ReferenceApp,
    ctx: WorkloadContext,
    rng: random.Random,
    name: str,
    done: Counter[str],
    failed: Counter[str],
    slots: asyncio.Semaphore,
) -> None:
    try:
        await run_action(app, ctx, rng, name)
        done[name] += 1
    except Exception as exc:
        failed[name] += 1
        logger.warning("action %s failed: %s", name, exc, extra={"action": name})
    finally:
        slots.release()


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


@asynccontextmanager
async def _pool(
    pool_or_dsn: AsyncConnectionPool | str,
) -> AsyncIterator[AsyncConnectionPool]:
    if not isinstance(pool_or_dsn, str):
        yield pool_or_dsn
        return
    pool = AsyncConnectionPool(
        pool_or_dsn,
        min_size=1,
        max_size=4,
        open=False,
        kwargs={"application_name": APPLICATION},
    )
    await pool.open(wait=True)
    try:
        yield pool
    finally:
        await pool.close()
