"""Workers serving the fleet: two processes share it, one killed, the other goes on."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgwarden.jobs.fleet import SHARES, PlannerShares
from tests.cli_helpers import clean_env, pgwarden
from tests.conftest import TEMPLATE_EMPTY, TestServer

ENV = "FLEET_PASSWORD"
INTERVAL = 2
#: workers that notice a dead one fast
FAST = {
    "PGWARDEN_JOBS__HEARTBEAT_SECONDS": "0.5",
    "PGWARDEN_JOBS__STALLED_SECONDS": "2",
}


@pytest.fixture
def databases(pg_server: Any) -> Iterator[list[str]]:
    tag = uuid.uuid4().hex[:8]
    names = [f"fleet_{tag}_{x}" for x in "abc"]
    template = pg_server.template(TEMPLATE_EMPTY)
    with pg_server.admin() as conn:
        for name in names:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)))  # fmt: skip
    yield names
    for name in names:
        pg_server.drop(name)


def _cycles(repo: str) -> dict[str, list[float]]:
    """Each registered target's cycle times (epoch seconds)."""
    with psycopg.connect(repo) as conn:
        rows = conn.execute(
            "SELECT t.name, extract(epoch FROM c.ts)::float8 FROM pgwarden.target t"
            " JOIN pgwarden.collect_cycle c ON c.target_id = t.id"
            " WHERE t.dsn IS NOT NULL ORDER BY c.ts"
        ).fetchall()
    found: dict[str, list[float]] = {}
    for name, ts in rows:
        found.setdefault(str(name), []).append(float(ts))
    return found


def _wait(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


def test_a_killed_workers_targets_go_on_with_the_other(
    empty_dsn: str, databases: list[str], pg_server: TestServer
) -> None:
    if pg_server.name != "embedded":
        pytest.skip("the workers' take-over: checked on the embedded server only")
    repo = empty_dsn
    password = str(conninfo_to_dict(repo)["password"])
    for name in databases:
        added = pgwarden(
            "--repository-dsn", repo, "targets", "add", name, "--interval",
            str(INTERVAL), "--password-env", ENV,
            "--dsn", make_conninfo(repo, dbname=name),
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
    args = [sys.executable, "-m", "pgwarden", "--repository-dsn", repo, "worker"]
    env = clean_env(**FAST, **{ENV: password})
    workers = [
        subprocess.Popen(
            args,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        _wait(lambda: all(len(_cycles(repo).get(n, [])) >= 2 for n in databases), 60)
        workers[0].kill()  # kill -9: no goodbye, maybe a job left running
        killed = time.time()
        workers[0].communicate(timeout=30)
        # every target collected again, by the survivor, within two intervals of
        # its slot once the dead worker is found silent (jobs.stalled_seconds)
        limit = 2 * INTERVAL + float(FAST["PGWARDEN_JOBS__STALLED_SECONDS"]) + 4
        _wait(
            lambda: all(
                sum(ts > killed for ts in _cycles(repo).get(n, [])) >= 2
                for n in databases
            ),
            limit + INTERVAL,
        )
        after = _cycles(repo)
        for name in databases:
            first = min(ts for ts in after[name] if ts > killed)
            assert first - killed <= limit, (name, first - killed)
        assert workers[1].poll() is None
        _deferred_to_the_fleet(repo, databases, password)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
        outputs = [w.communicate(timeout=60) for w in workers]
    stderr = outputs[1][1]
    assert "worker for the registered targets started" in stderr, stderr
    # no fleet worker left: a job goes to the target's own queue, and says so
    alone = _defer(repo, password, databases[1], "alerts")
    assert "on its own queue: no fleet worker serves it now" in alone.stderr

    assert "job collect[" in stderr and "1 cycle" in stderr, stderr
    with psycopg.connect(repo) as conn:
        status = conn.execute(
            "SELECT array_agg(DISTINCT status) FROM pgwarden.target"
            " WHERE dsn IS NOT NULL"
        ).fetchone()
    assert status is not None and status[0] == ["ok"]


def _defer(
    repo: str, password: str, target: str | None, *args: str
) -> subprocess.CompletedProcess[str]:
    """``pgwarden [--target T] jobs defer ARGS``."""
    named = () if target is None else ("--target", target)
    done = pgwarden("--repository-dsn", repo, *named, "jobs", "defer", *args,
                    **{ENV: password})  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def _deferred_to_the_fleet(repo: str, databases: list[str], password: str) -> None:
    """``jobs defer`` for registered targets queues where the fleet worker takes it."""
    one = _defer(repo, password, databases[0], "reports")
    assert "on pgwarden:fleet, served by 1 fleet worker" in one.stderr, one.stderr
    every = _defer(repo, password, None, "maintenance", "--fleet")
    assert every.stderr.count("queued job maintenance[") == len(databases)

    def ran() -> bool:
        with psycopg.connect(repo) as conn:
            rows = conn.execute(
                "SELECT task_name, args->>'target'"
                " FROM pgwarden_jobs.procrastinate_jobs WHERE status = 'succeeded'"
            ).fetchall()
        done = {(str(task), str(target)) for task, target in rows}
        wanted = {("maintenance", name) for name in databases}
        return ("reports", databases[0]) in done and wanted <= done

    _wait(ran, 60)
    pgwarden("--repository-dsn", repo, "targets", "pause", databases[2])
    paused = pgwarden("--repository-dsn", repo, "--target", databases[2], "jobs",
                      "defer", "alerts", **{ENV: password})  # fmt: skip
    assert paused.returncode == 2
    assert paused.stderr.strip().endswith(f"resume {databases[2]} first")


def test_workers_share_the_planning_and_take_over_a_dead_ones_share(
    demo_dsn: str,
) -> None:
    first = PlannerShares(demo_dsn, "q:fleet")
    second = PlannerShares(demo_dsn, "q:fleet")
    other_group = PlannerShares(demo_dsn, "q:group:eu")
    everything = frozenset(range(SHARES))
    try:
        assert first.held() == everything  # alone: it plans every target
        assert other_group.held() == everything  # shares are per fleet queue
        second.held()  # joins: the first lets half go at its next pass ...
        assert len(first.held()) == SHARES // 2
        mine = second.held()  # ... which the second takes
        assert len(mine) == SHARES // 2 and not mine & first.held()
        targets = [f"db{i}" for i in range(200)]
        planned_by = [first.plans(t) + second.plans(t) for t in targets]
        assert planned_by == [1] * len(targets)  # each target by exactly one
        first.close()  # as when its worker is killed: the server lets its locks go
        deadline = time.monotonic() + 10  # once the backend has ended
        while second.held() != everything and time.monotonic() < deadline:
            time.sleep(0.1)
        assert second.held() == everything
    finally:
        for shares in (first, second, other_group):
            shares.close()
