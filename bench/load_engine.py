"""Engine throughput against ``pgbench -S -M prepared`` at equal connections.

Starts an embedded server, runs ``pgbench -i -s 1`` and then, for the same number
of connections, ``pgbench -S -M prepared`` (single-row primary-key select) and the
load engine on the same statement from a scenario file (closed model, no think
time, pool = users = connections). Prints both throughputs and the ratio.

The machine's cores are shared: the server, pgbench (``-j 1``) or the engine's
worker processes all run on them, so the ratio measures the generator's CPU cost
per query as much as the server's speed.

    python bench/load_engine.py [--clients 4] [--seconds 10] [--workers 1]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from pgwarden.embedded import EmbeddedServer
from pgwarden.load import LoadSpec, ScenarioRef, run_load

SCENARIO = """
[actions.select]
sql = "SELECT abalance FROM pgbench_accounts WHERE aid = %(aid)s"
params.aid = { int_range = [1, 100000] }
"""


def pgbench(server: EmbeddedServer, *args: str) -> str:
    state = server.state()
    assert state is not None
    binary = Path(state.bin_dir) / "pgbench"
    exe = str(binary) if binary.exists() else shutil.which("pgbench") or "pgbench"
    env = {**os.environ, "PGPASSWORD": state.password}
    argv = [exe, "-h", "127.0.0.1", "-p", str(state.port), "-U", "postgres", *args]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "pg")
        server.start()
        try:
            with psycopg.connect(server.dsn(), autocommit=True) as conn:
                conn.execute("CREATE DATABASE bench")
            pgbench(server, "-i", "-s", "1", "-q", "bench")
            out = pgbench(server, "-S", "-M", "prepared", "-c", str(args.clients),
                          "-j", "1", "-T", str(int(args.seconds)), "bench")  # fmt: skip
            found = re.search(r"tps = ([\d.]+)", out)
            reference = float(found.group(1)) if found else 0.0
            scenario = Path(tmp) / "select.toml"
            scenario.write_text(SCENARIO)
            spec = LoadSpec(
                server.dsn("bench"), ScenarioRef(str(scenario)), users=args.clients,
                duration_s=args.seconds, think_ms=0, warmup_s=1,
                pool_size=args.clients, workers=args.workers,
            )  # fmt: skip
            run = run_load(spec)
            engine = run.overall.count / args.seconds
            cores = os.cpu_count()
            print(f"{cores} cores shared by the server and the generator; "
                  f"{args.clients} connections; engine workers {args.workers}, "
                  "pgbench -j 1")  # fmt: skip
            print(f"pgbench -S -M prepared : {reference:10.0f} queries/s")
            print(f"pgwarden load engine   : {engine:10.0f} queries/s "
                  f"(p50 {run.overall.percentile_ms(50):.2f} ms)")  # fmt: skip
            ratio = engine / reference if reference else float("nan")
            print(f"ratio engine / pgbench : {ratio:10.2f}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
