"""``pgwarden worker``: jobs, locks between workers, stalled jobs of killed workers."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from pgwarden import pg
from pgwarden.cli.collect_cmd import prepare_repository
from pgwarden.config import load_settings
from pgwarden.jobs import WorkerContext, install
from pgwarden.jobs.app import SPECS, build_app, lock_name, target_queue
from pgwarden.jobs.worker import queue_now
from tests.cli_helpers import clean_env, pgwarden

#: a worker that notices dead workers fast and schedules no collection itself
FAST = {
    "PGWARDEN_JOBS__HEARTBEAT_SECONDS": "0.5",
    "PGWARDEN_JOBS__STALLED_SECONDS": "2",
    "PGWARDEN_JOBS__COLLECT_CRON": "0 0 1 1 *",
    "PGWARDEN_COLLECT__INTERVAL_SECONDS": "5",
}


def _jobs(dsn: str, task: str | None = None) -> list[dict[str, Any]]:
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT id, task_name, status::text AS status, attempts, lock"
            " FROM pgwarden_jobs.procrastinate_jobs"
            " WHERE %(task)s::text IS NULL OR task_name = %(task)s ORDER BY id",
            {"task": task},
        )
        names = [c.name for c in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _cycles(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM pgwarden.collect_cycle").fetchone()
    return int(row[0]) if row else 0


def _context(dsn: str) -> WorkerContext:
    settings = load_settings(overrides={"dsn": dsn})
    return WorkerContext(settings, dsn, {pg.describe(dsn): dsn}, say=print)


def _queue(dsn: str, task: str, **extra: Any) -> int:
    [job_id] = queue_now(_context(dsn), task, **extra)
    assert job_id is not None
    return job_id


def _wait(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.fixture
def worker_process(empty_dsn: str) -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def _popen(args: list[str], **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        args,
        env=clean_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def _start(dsn: str, started: list[subprocess.Popen[str]]) -> subprocess.Popen[str]:
    process = _popen([sys.executable, "-m", "pgwarden", "--dsn", dsn, "worker"], **FAST)
    started.append(process)
    return process


def test_worker_once_collects_and_lists_its_jobs(empty_dsn: str) -> None:
    result = pgwarden("--dsn", empty_dsn, "worker", "--once")

    assert result.returncode == 0, result.stderr
    assert "installed Procrastinate" in result.stderr
    assert _cycles(empty_dsn) == 1  # the history of one collection cycle
    ran = set(re.findall(r"^job (\w+)\[\d+\]", result.stderr, re.MULTILINE))
    assert ran == {
        "collect", "alerts", "retention", "maintenance", "reports", "reviews",
        "queue_upkeep",
    }  # fmt: skip
    listed = pgwarden("--dsn", empty_dsn, "jobs", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    collect = [j for j in json.loads(listed.stdout) if j["task"] == "collect"]
    assert [(j["status"], j["attempts"]) for j in collect] == [("succeeded", 1)]


def test_a_bad_repository_dsn_is_one_line_and_exit_3() -> None:
    bad = "postgresql://nobody:hunter2@127.0.0.1:1/nothing?connect_timeout=2"
    result = pgwarden("--dsn", bad, "worker", "--once")
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot connect")
    assert "hunter2" not in result.stderr


def test_workers_starting_together_install_the_queue_once(empty_dsn: str) -> None:
    results: list[Any] = []

    def run() -> None:
        results.append(install(empty_dsn))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.previous is None for r in results) == [False, False, True]
    assert install(empty_dsn).changed is False


def _defer_collects(dsn: str, count: int) -> list[int]:
    """Collection jobs of one target, all waiting at once: only the lock parts them."""
    ctx = _context(dsn)
    app = build_app(ctx, periodic=False)
    [target] = ctx.targets
    deferrer = app.configure_task(
        "collect", lock=lock_name(SPECS[0], target),
        queue=target_queue("pgwarden", target),
        task_kwargs={"target": target, "lease": 0},
    )  # fmt: skip

    async def defer() -> list[int]:
        async with app.open_async():
            return [await deferrer.defer_async() for _ in range(count)]

    return asyncio.run(defer())


@pytest.mark.slow
def test_two_workers_never_run_one_task_for_one_target_at_once(
    empty_dsn: str,
) -> None:
    prepare_repository(empty_dsn)
    queued = _defer_collects(empty_dsn, 4)
    args = [sys.executable, "-m", "pgwarden", "--dsn", empty_dsn, "worker", "--once"]
    workers = [_popen([*args, "--concurrency", "3"]) for _ in range(2)]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs

    collect = _jobs(empty_dsn, "collect")
    assert {j["id"] for j in collect} >= set(queued)
    assert {j["status"] for j in collect} == {"succeeded"}
    with psycopg.connect(empty_dsn) as conn:
        spans = conn.execute(
            "SELECT job_id, min(at) FILTER (WHERE type = 'started'),"
            " max(at) FILTER (WHERE type = 'succeeded')"
            " FROM pgwarden_jobs.procrastinate_events WHERE job_id = ANY(%s)"
            " GROUP BY job_id ORDER BY 2",
            [[j["id"] for j in collect]],
        ).fetchall()
    assert len(spans) >= 4
    for (_, _, ended), (_, started, _) in itertools.pairwise(spans):
        assert ended <= started  # one after the other, never overlapping
    assert _cycles(empty_dsn) == len(spans)


@pytest.mark.slow
def test_a_job_of_a_killed_worker_is_retried_and_completes(
    empty_dsn: str, worker_process: list[subprocess.Popen[str]]
) -> None:
    prepare_repository(empty_dsn)
    job_id = _queue(empty_dsn, "collect")  # a lease until next New Year
    process = _start(empty_dsn, worker_process)
    _wait(lambda: _cycles(empty_dsn) >= 1)
    [job] = [j for j in _jobs(empty_dsn, "collect") if j["id"] == job_id]
    assert job["status"] == "doing"

    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    listed: list[dict[str, Any]] = []

    def stalled() -> bool:
        nonlocal listed
        out = pgwarden("--dsn", empty_dsn, "jobs", "list", "--format", "json", **FAST)
        listed = json.loads(out.stdout)
        return any(j["id"] == job_id and j["status"] == "stalled" for j in listed)

    _wait(stalled)
    result = pgwarden("--dsn", empty_dsn, "worker", "--once", **FAST)

    assert result.returncode == 0, result.stderr
    assert f"job collect[{job_id}]" in result.stderr
    assert "stalled (its worker stopped answering); retried" in result.stderr
    [job] = [j for j in _jobs(empty_dsn, "collect") if j["id"] == job_id]
    assert (job["status"], job["attempts"]) == ("succeeded", 2)  # run, rerun
    assert _cycles(empty_dsn) >= 2


def test_sigterm_ends_the_lease_and_stops_gracefully(
    empty_dsn: str, worker_process: list[subprocess.Popen[str]]
) -> None:
    prepare_repository(empty_dsn)
    job_id = _queue(empty_dsn, "collect")
    process = _start(empty_dsn, worker_process)
    _wait(lambda: _cycles(empty_dsn) >= 1)

    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 0, stderr
    assert f"job collect[{job_id}]" in stderr and "worker stopped" in stderr
    [job] = [j for j in _jobs(empty_dsn, "collect") if j["id"] == job_id]
    assert job["status"] == "succeeded"


def test_the_demo_runs_the_worker_in_process(empty_dsn: str) -> None:
    from pgwarden.demo.services import WorkerThread

    prepare_repository(empty_dsn)
    worker = WorkerThread(empty_dsn, load_settings(), 5, None)
    worker.start()
    try:
        _wait(lambda: worker.cycles >= 1)
    finally:
        worker.stop()  # from another thread: the lease ends, the worker leaves

    assert not worker.is_alive() and worker.error is None
    statuses = [j["status"] for j in _jobs(empty_dsn, "collect")]
    assert statuses[0] == "succeeded" and "failed" not in statuses
    assert _cycles(empty_dsn) == worker.cycles
