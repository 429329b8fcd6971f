"""Distributed load generation: actions per second with local ``pgwarden worker``s.

:func:`measure` runs a scenario as ``pgwarden load run --distributed N`` with N
local ``pgwarden worker`` processes against a scratch repository on the same
server (created, then dropped), and returns the merged run's actions per second.
``bench/load_engine.py`` prints it next to pgbench; run alone, this script starts
an embedded server with a pgbench-like table and prints the distributed figure
next to a local run with as many engine worker processes, measured in the same
run (the peer), and their ratio: the cost of going through the queue.

    python bench/load_distributed.py [--clients 4] [--seconds 10] [--workers 2]

The DSNs reach the processes through PGWARDEN_DSN / PGWARDEN_REPOSITORY_DSN, never
their arguments. The machine's cores are shared by the server, the workers' shard
processes and the coordinator, so on a small machine more workers add contention,
not capacity: the figure says what the path costs, not what N hosts would give.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

#: seconds between queueing the shards and their start: the workers start first
START_IN_S = 6.0
SCENARIO = """
[actions.select]
sql = "SELECT abalance FROM pgbench_accounts WHERE aid = %(aid)s"
params.aid = { int_range = [1, 100000] }
"""


def measure(
    server_dsn: str, scenario_text: str, clients: int, seconds: float, workers: int = 2
) -> float:
    """Actions per second of ``scenario_text`` run with ``--distributed workers`` on
    ``workers`` local ``pgwarden worker`` processes, ``clients`` users in all
    (closed model, no think time, one connection per user)."""
    repo_db = f"pgwarden_bench_repo_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(repo_db)))
    repo = make_conninfo(server_dsn, dbname=repo_db)
    env = {"PGWARDEN_DSN": server_dsn, "PGWARDEN_REPOSITORY_DSN": repo}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            scenario = Path(tmp) / "bench.toml"
            scenario.write_text(scenario_text)
            return _distributed(env, scenario, clients, seconds, workers)
    finally:
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(repo_db)))  # fmt: skip


def _distributed(
    env: dict[str, str], scenario: Path, clients: int, seconds: float, workers: int
) -> float:
    base = [sys.executable, "-m", "pgwarden"]
    full = {**_environ(), **env}
    quiet = subprocess.DEVNULL
    # only the repository-wide queue (the shards'): no collection of the target
    worker = [*base, "worker", "--queues", "pgwarden"]
    # the first worker installs the repository; the others start once it is there
    procs = [subprocess.Popen(worker, env=full, stdout=quiet, stderr=quiet)]
    time.sleep(2.0)
    procs += [
        subprocess.Popen(worker, env=full, stdout=quiet, stderr=quiet)
        for _ in range(workers - 1)
    ]
    try:
        args = ["load", "run", "--scenario", str(scenario), "--distributed",
                str(workers), "--start-in", str(START_IN_S), "--users", str(clients),
                "--pool", str(clients), "--think-ms", "0", "--ramp-up", "0",
                "--warmup", "1", "--duration", str(seconds), "--no-progress",
                "--format", "json"]  # fmt: skip
        done = subprocess.run([*base, *args], env=full, capture_output=True, text=True,
                              timeout=seconds + 120, check=False)  # fmt: skip
        if not done.stdout.strip():
            raise RuntimeError(f"distributed run failed: {done.stderr.strip()}")
        report = json.loads(done.stdout)
        return float(report["throughput_per_s"])
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(60)


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PGWARDEN_")}


def main() -> None:
    from pgwarden.embedded import EmbeddedServer
    from pgwarden.load import LoadSpec, ScenarioRef, run_load

    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "pg")
        server.start()
        try:
            with psycopg.connect(server.dsn(), autocommit=True) as conn:
                conn.execute("CREATE DATABASE bench")
            dsn = server.dsn("bench")
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(
                    "CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, abalance int)"
                )
                conn.execute("INSERT INTO pgbench_accounts SELECT g, 0"
                             " FROM generate_series(1, 100000) g")  # fmt: skip
                conn.execute("VACUUM ANALYZE pgbench_accounts")
            scenario = Path(tmp) / "select.toml"
            scenario.write_text(SCENARIO)
            spec = LoadSpec(dsn, ScenarioRef(str(scenario)), users=args.clients,
                            duration_s=args.seconds, think_ms=0, warmup_s=1,
                            pool_size=args.clients, workers=args.workers)  # fmt: skip
            local = run_load(spec).overall.count / args.seconds
            distributed = measure(dsn, SCENARIO, args.clients, args.seconds,
                                  args.workers)  # fmt: skip
        finally:
            server.stop()
    print(f"{args.clients} connections, {args.workers} generator processes, "
          f"{args.seconds:g} s measured; the machine's cores are shared")  # fmt: skip
    print(f"local engine workers        : {local:10.0f} actions/s")
    print(f"distributed (local workers) : {distributed:10.0f} actions/s")
    ratio = distributed / local if local else float("nan")
    print(f"ratio distributed / local   : {ratio:10.2f}")


if __name__ == "__main__":
    main()
