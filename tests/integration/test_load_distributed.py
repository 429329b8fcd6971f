"""``load run --distributed``: shards on two ``pgwarden worker`` processes, merged.

One test, one target and one repository: a run whose two shards finish (the merged
histogram is exactly the shards' together), then a run whose worker is killed
(kill -9) while a shard runs, beside a run whose shard no worker takes (its queue
has none) and one whose shard fails on its worker: each lost or failed shard is
reported with its reason and the command exits 1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgwarden.load.html import render_html
from tests.cli_helpers import clean_env
from tests.conftest import TEMPLATE_DEMO, TEMPLATE_EMPTY, TestServer

SCENARIO = """
name = "tenants"
[actions.count_tenants]
weight = 1
sql = 'SELECT count(*) FROM "Tenant"'
[actions.one_user]
weight = 3
sql = 'SELECT id FROM "User" WHERE id = %(id)s'
params.id = { int_range = [1, 50] }
"""


@pytest.fixture
def target_and_repository(pg_server: TestServer) -> Iterator[tuple[str, str]]:
    target, repository = pg_server.clone(TEMPLATE_DEMO), pg_server.clone(TEMPLATE_EMPTY)
    yield pg_server.dsn(target), pg_server.dsn(repository)
    for name in (target, repository):
        pg_server.drop(name)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "pgwarden", *args]


def _popen(argv: list[str], dsns: dict[str, str], **env: str) -> subprocess.Popen[str]:
    """The DSNs through the environment, never the arguments."""
    return subprocess.Popen(argv, env=clean_env(**dsns, **env), text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip


def _run_args(
    scenario: Path, shards: int, seconds: float, start_in: float
) -> list[str]:
    return ["load", "run", "--scenario", str(scenario), "--distributed", str(shards),
            "--start-in", str(start_in), "--duration", str(seconds), "--warmup", "0",
            "--ramp-up", "0", "--users", "4", "--pool", "2", "--think-ms", "5",
            "--seed", "7", "--no-progress", "--format", "json"]  # fmt: skip


def _report(done: subprocess.Popen[str], timeout: float) -> tuple[int, Any, str]:
    out, err = done.communicate(timeout=timeout)
    assert out.strip(), err
    return done.returncode, json.loads(out), err


def _wait_for_workers(repo: str, count: int, timeout: float) -> None:
    """Until ``count`` workers have registered with the job queue."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(repo, autocommit=True) as conn:
        while time.monotonic() < deadline:
            try:
                row = conn.execute(
                    "SELECT count(*) FROM pgwarden_jobs.procrastinate_workers"
                ).fetchone()
            except psycopg.errors.UndefinedTable:
                row = None
            if row is not None and row[0] >= count:
                return
            time.sleep(0.2)
    raise AssertionError("the workers did not start")


def _running_worker_pid(repo: str, timeout: float) -> int:
    """The pid of a worker running a shard that has measured a second already."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(repo, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT worker FROM pgwarden.load_shard WHERE status = 'running'"
                " AND (progress->>'done')::int > 0 LIMIT 1"
            ).fetchone()
            if row is not None:
                return int(str(row[0]).rpartition("-")[2])
            time.sleep(0.2)
    raise AssertionError("no shard ran")


def _check_merge(report: Any) -> list[Any]:
    """The merged histogram is the shards' together; their figures are there."""
    d = report["distributed"]
    done = [s for s in d["per_shard"] if s["status"] == "done"]
    assert d["merged"] == len(done) and d["lost"] == d["shards"] - len(done)
    assert report["overall"]["count"] == sum(s["actions"] for s in done)
    assert sum(a["count"] for a in report["actions"].values()) == sum(
        s["actions"] for s in done
    )
    if done:
        p99s = [s["p99_ms"] for s in done]
        assert min(p99s) <= report["overall"]["p99_ms"] <= max(p99s)
    return done


def test_shards_on_two_workers_merge_exactly_and_a_dead_shard_is_reported(
    target_and_repository: tuple[str, str], pg_server: TestServer, tmp_path: Path
) -> None:
    if pg_server.name != "embedded":
        pytest.skip("distributed runs: checked on the embedded server only")
    target, repo = target_and_repository
    dsns = {"PGWARDEN_DSN": target, "PGWARDEN_REPOSITORY_DSN": repo}
    scenario = tmp_path / "tenants.toml"
    scenario.write_text(SCENARIO)
    broken = tmp_path / "broken.toml"
    broken.write_text(
        "[actions.a]\nsql = 'SELECT %(id)s'\n"
        "params.id = { sample = 'SELECT id FROM no_such_table' }\n"
    )
    workers = [_popen(_cli("worker", "--concurrency", "3"), dsns) for _ in range(2)]
    try:
        _wait_for_workers(repo, 2, 60)
        run = _popen(_cli(*_run_args(scenario, 2, 2, 3), "--store"), dsns)
        code, report, err = _report(run, 90)
        assert code == 0, err
        assert "stored as report" in err
        done = _check_merge(report)
        assert len(done) == 2 and report["distributed"]["complete"] is True
        assert report["settings"]["workers"] == 2
        for shard in done:
            assert shard["worker"] and shard["actions"] > 0
            assert shard["throughput_per_s"] > 0 and shard["reason"] is None
            assert shard["generator_cpu_s"] and shard["cpu_per_action_ms"] > 0

        with psycopg.connect(repo) as conn:  # --store keeps the merged report
            kept = conn.execute(
                "SELECT data->'distributed'->>'merged', data->'overall'->>'count',"
                " summary FROM pgwarden.report WHERE kind = 'load'"
            ).fetchall()
        assert [k[:2] for k in kept] == [("2", str(report["overall"]["count"]))]
        assert kept[0][2].endswith("; 2 of 2 shards merged")

        killed_run = _popen(_cli(*_run_args(scenario, 2, 3, 3)), dsns)
        # beside it, a run on a queue no worker takes: never picked up
        alone = _popen(
            _cli(*_run_args(scenario, 1, 1, 1)), dsns, PGWARDEN_JOBS__QUEUE="nobody"
        )
        # and one whose shard fails on its worker (a generator's query: no table)
        failing = _popen(_cli(*_run_args(broken, 1, 1, 2)), dsns)
        pid = _running_worker_pid(repo, 30)
        os.kill(pid, signal.SIGKILL)
        code, report, err = _report(killed_run, 90)
        assert code == 1, err
        assert "shards lost" in err
        _check_merge(report)
        lost = [s for s in report["distributed"]["per_shard"] if s["status"] == "lost"]
        assert lost and all("stopped answering" in s["reason"] for s in lost)
        assert all(s["worker"].endswith(f"-{pid}") for s in lost)
        page = render_html(report)  # the HTML report lists the shards, the lost too
        assert f"{len(lost)} lost, not in the figures above" in page
        assert page.count("stopped answering") == len(lost)

        code, report, err = _report(failing, 60)
        assert code == 1, err
        (shard,) = report["distributed"]["per_shard"]
        assert shard["status"] == "failed" and "no_such_table" in shard["reason"]

        code, report, err = _report(alone, 60)
        assert code == 1, err
        (shard,) = report["distributed"]["per_shard"]
        assert shard["status"] == "lost" and "never picked up" in shard["reason"]
        assert report["overall"]["count"] == 0
        with psycopg.connect(repo) as conn:  # the merged runs' rows are gone
            left = conn.execute("SELECT count(*) FROM pgwarden.load_shard").fetchone()
        assert left == (0,)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
        logs = [w.communicate(timeout=60)[1] for w in workers]
    assert any("job load_shard[" in log for log in logs), logs


def test_a_run_that_cannot_be_distributed_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    import typer
    from typer.testing import CliRunner

    from pgwarden.cli import _global, load_cmd
    from pgwarden.errors import ConfigurationError

    app = typer.Typer(pretty_exceptions_enable=False)
    app.callback()(_global)
    app.add_typer(load_cmd.app, name="load")
    module = tmp_path / "checkout.py"
    module.write_text(
        "async def a(conn, rng, params):\n    pass\n\nACTIONS = [(1, a)]\n"
    )
    nowhere = "host=127.0.0.1 port=9 dbname=none connect_timeout=1"
    cases = {
        ("--distributed", "2", "--workers", "2"): "--workers is for local",
        ("--start-in", "5"): "--start-in goes with --distributed",
        ("--distributed", "2", "--start-in", "0"): "--start-in: above 0",
        ("--distributed", "3", "--users", "2"): "more shards than users",
        ("--distributed", "2", "--scenario", str(module)): "install it as a module",
    }
    for args, message in cases.items():
        result = CliRunner().invoke(
            app, ["--dsn", nowhere, "load", "run", "--no-progress", *args]
        )
        assert isinstance(result.exception, ConfigurationError), (args, result)
        assert message in str(result.exception), (args, str(result.exception))
        assert result.exception.exit_code == 2
