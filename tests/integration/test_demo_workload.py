"""The light workload runs the application's actions until told to stop."""

from __future__ import annotations

import asyncio
import random
import time

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from pgwarden.demo.app import ReferenceApp
from pgwarden.demo.cache import LRUCache
from pgwarden.demo.context import fetch_context
from pgwarden.demo.schema import PLANTED_PROBLEMS
from pgwarden.demo.workload import (
    ACTION_MIX,
    WorkloadStats,
    run_action,
    run_light_workload,
)

UNUSED = [p.target for p in PLANTED_PROBLEMS if p.kind == "unused_index"]


def _run_for(dsn: str, seconds: float, rate: float) -> WorkloadStats:
    async def main() -> WorkloadStats:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        return await run_light_workload(
            dsn, stop=stop, rate_per_second=rate, cache_size=50, seed=7
        )

    return asyncio.run(main())


def test_light_workload_runs_actions_without_errors(demo_dsn: str) -> None:
    started = time.monotonic()
    stats = _run_for(demo_dsn, 2.0, rate=40.0)
    assert time.monotonic() - started < 10
    assert stats.total_errors == 0, stats.errors
    assert stats.total >= 20
    assert len(stats.actions) >= 5
    assert set(stats.actions) <= set(ACTION_MIX)
    assert stats.cache.hits + stats.cache.misses > 0
    assert "actions in" in str(stats)


def test_every_action_runs_and_planted_unused_indexes_stay_unused(
    demo_dsn: str,
) -> None:
    async def every_action() -> None:
        pool = AsyncConnectionPool(demo_dsn, min_size=1, max_size=2, open=False)
        async with pool:
            app = ReferenceApp(pool, LRUCache(100))
            ctx = await fetch_context(pool)
            rng = random.Random(1)
            for name in ACTION_MIX:
                for _ in range(5):
                    await run_action(app, ctx, rng, name)

    asyncio.run(every_action())
    used = _index_scans(demo_dsn, "Assessment_tenantId_createdAt_id_idx", wait=5)
    assert used > 0  # statistics of the actions' sessions have arrived
    for name in UNUSED:
        assert _index_scans(demo_dsn, name) == 0, name


def _index_scans(dsn: str, index: str, wait: float = 0) -> int:
    """idx_scan of ``index``, waiting up to ``wait`` s for it to be positive."""
    deadline = time.monotonic() + wait
    with psycopg.connect(dsn, autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = %s",
                (index,),
            ).fetchone()
            assert row is not None, index
            if row[0] > 0 or time.monotonic() > deadline:
                return int(row[0])
            time.sleep(0.2)


def test_action_errors_are_counted_not_raised(demo_dsn: str) -> None:
    with psycopg.connect(demo_dsn, autocommit=True) as conn:
        database = sql.Identifier(conn.info.dbname)
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(
                database
            )
        )
    stats = _run_for(demo_dsn, 1.5, rate=40.0)
    assert set(stats.errors) <= {"save_answer", "attach_evidence", "sign_in"}
    assert stats.total_errors > 0  # writes fail in a read-only database
    assert stats.total > 0  # reads still succeed
