"""Engine throughput against ``pgbench -S -M prepared`` at equal connections.

Starts an embedded server, runs ``pgbench -i -s 1`` and then, in each round and
for the same number of connections, ``pgbench -S -M prepared`` (single-row
primary-key select; ``-j 1``, the reference, and ``-j 2``) and the load engine on
the same statement from a scenario file (closed model, no think time, pool =
users = connections): the fast path (asyncpg) with 1 and 2 engine workers, and
the psycopg path with 1 worker (what SQL scenarios used before). Prints each
throughput, its ratio to pgbench of the same round, the generator's CPU per
action from the run's report, and the median ratios over the rounds. Then the
distributed mode with 2 local ``pgwarden worker`` processes
(``bench/load_distributed.py``'s ``measure``) next to a pgbench run of its own,
and the reference application's per-action generator CPU on its real
psycopg-pool path (scale ``tiny``), next to the SQL fast path's.

The machine's cores are shared: the server, pgbench (``-j 1``) or the engine's
worker processes all run on them (and, on a shared machine, whatever else runs),
so the ratio measures the generator's CPU cost per query as much as the server's
speed; hence rounds, and pgbench measured in each.

    python bench/load_engine.py [--clients 4] [--seconds 5] [--rounds 3]
                                [--skip-distributed] [--skip-reference]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import psycopg

from pgwarden.embedded import EmbeddedServer
from pgwarden.load import LoadSpec, ScenarioRef, build_report, run_load

SCENARIO = """
[actions.select]
sql = "SELECT abalance FROM pgbench_accounts WHERE aid = %(aid)s"
params.aid = { int_range = [1, 100000] }
"""
ENGINES = (("asyncpg", 1), ("asyncpg", 2), ("psycopg", 1))


def pgbench(server: EmbeddedServer, *args: str) -> str:
    state = server.state()
    assert state is not None
    binary = Path(state.bin_dir) / "pgbench"
    exe = str(binary) if binary.exists() else shutil.which("pgbench") or "pgbench"
    env = {**os.environ, "PGPASSWORD": state.password}
    argv = [exe, "-h", "127.0.0.1", "-p", str(state.port), "-U", "postgres", *args]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def pgbench_rate(
    server: EmbeddedServer, clients: int, seconds: float, threads: int = 1
) -> float:
    out = pgbench(server, "-S", "-M", "prepared", "-c", str(clients),
                  "-j", str(threads), "-T", str(max(1, round(seconds))),
                  "bench")  # fmt: skip
    found = re.search(r"tps = ([\d.]+)", out)
    return float(found.group(1)) if found else 0.0


def engine(
    dsn: str, scenario: str, clients: int, seconds: float, driver: Any, workers: int
) -> tuple[float, dict[str, Any]]:
    spec = LoadSpec(
        dsn, ScenarioRef(scenario), users=clients, duration_s=seconds, think_ms=0,
        warmup_s=1, pool_size=clients, workers=workers, driver=driver,
    )  # fmt: skip
    report = build_report(run_load(spec), "bench")
    return report["throughput_per_s"], report


def distributed(dsn: str, clients: int, seconds: float) -> float | None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        from load_distributed import measure  # type: ignore[import-not-found]
    except ImportError:
        return None
    return float(measure(dsn, SCENARIO, clients, seconds, workers=2))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-distributed", action="store_true")
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()
    n, secs = args.clients, args.seconds
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "pg")
        server.start()
        try:
            with psycopg.connect(server.dsn(), autocommit=True) as conn:
                conn.execute("CREATE DATABASE bench")
            pgbench(server, "-i", "-s", "1", "-q", "bench")
            scenario = Path(tmp) / "select.toml"
            scenario.write_text(SCENARIO)
            print(f"{os.cpu_count()} cores shared by the server, the generator and "
                  f"anything else running; {n} connections; pgbench -j 1; "
                  f"{secs:g} s per measurement")  # fmt: skip
            ratios: dict[tuple[str, int], list[float]] = {e: [] for e in ENGINES}
            ratios_j2: dict[tuple[str, int], list[float]] = {e: [] for e in ENGINES}
            cpu: dict[tuple[str, int], list[float]] = {e: [] for e in ENGINES}
            for round_ in range(1, args.rounds + 1):
                reference = pgbench_rate(server, n, secs)
                two = pgbench_rate(server, n, secs, threads=2)
                print(f"round {round_}: pgbench -S -M prepared {reference:9.0f} q/s "
                      f"(-j 2: {two:.0f} q/s)")  # fmt: skip
                for driver, workers in ENGINES:
                    rate, report = engine(
                        server.dsn("bench"), str(scenario), n, secs, driver, workers
                    )
                    gen = report["generator"]
                    ratio = rate / reference if reference else float("nan")
                    ratios[driver, workers].append(ratio)
                    ratios_j2[driver, workers].append(rate / two if two else ratio)
                    cpu[driver, workers].append(gen["cpu_per_action_ms"] or 0.0)
                    print(f"  engine {driver:7} workers {workers}: {rate:9.0f} q/s  "
                          f"ratio {ratio:5.2f} (to -j 2: {rate / two:4.2f})  "
                          f"generator CPU "
                          f"{(gen['cpu_per_action_ms'] or 0) * 1000:5.1f} µs/action"
                          f"{'  (saturated)' if gen['saturated'] else ''}")  # fmt: skip
            print("median over the rounds (engine / pgbench -j 1 of the same round; "
                  "to pgbench -j 2 in brackets):")  # fmt: skip
            for driver, workers in ENGINES:
                print(f"  {driver:7} workers {workers}: ratio "
                      f"{statistics.median(ratios[driver, workers]):5.2f} "
                      f"({statistics.median(ratios_j2[driver, workers]):4.2f}), "
                      f"{statistics.median(cpu[driver, workers]) * 1000:5.1f} µs "
                      "generator CPU per action")  # fmt: skip
            if not args.skip_distributed:
                reference = pgbench_rate(server, n, secs)
                try:
                    rate_d = distributed(server.dsn("bench"), n, secs)
                except Exception as exc:  # the row is informative, never fatal
                    print(f"distributed: failed: {type(exc).__name__}: {exc}")
                else:
                    if rate_d is None:
                        print("distributed: not available")
                    else:
                        print(f"distributed, 2 local workers: {rate_d:9.0f} q/s, "
                              f"ratio {rate_d / reference:5.2f} "
                              f"(pgbench {reference:.0f} q/s)")  # fmt: skip
            if not args.skip_reference:
                reference_overhead(server, n, secs, str(scenario))
        finally:
            server.stop()


def reference_overhead(
    server: EmbeddedServer, clients: int, seconds: float, scenario: str
) -> None:
    """The reference application's per-action generator CPU (real pool path)."""
    from pgwarden.demo.data import load

    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE demo")
    with psycopg.connect(server.dsn("demo")) as conn:
        load(conn, "tiny")
    rate, report = engine(server.dsn("demo"), "reference", clients, seconds, "auto", 1)
    gen = report["generator"]
    _, fast = engine(server.dsn("bench"), scenario, clients, seconds, "asyncpg", 1)
    print(f"reference application (psycopg pool path, scale tiny): {rate:.0f} "
          f"actions/s, generator CPU {gen['cpu_per_action_ms'] * 1000:.0f} µs per "
          f"action (driver {gen['driver']}); SQL fast path "
          f"{fast['generator']['cpu_per_action_ms'] * 1000:.1f} µs per "
          "query")  # fmt: skip


if __name__ == "__main__":
    main()
