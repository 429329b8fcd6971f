"""Coordinated omission: a 2-second stall, seen by the open model, hidden by a loop.

Starts an embedded server with the tiny reference data, then runs the reference
scenario twice for 6 s while another session holds an ACCESS EXCLUSIVE lock on
"Assessment" for 2 s: once in the open model (50 actions/s, latency from the
scheduled start, as pgbench --rate and wrk2 measure) and once as a naive closed
loop (4 users, no think time). Prints p50/p99/max of both.

    python bench/coordinated_omission.py [--stall 2] [--rate 50]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import psycopg

from pgwarden.demo.data import load
from pgwarden.embedded import EmbeddedServer
from pgwarden.load import LoadSpec, ScenarioRef, Tick, run_load


def stall_once(dsn: str, seconds: float) -> tuple[object, threading.Thread]:
    def hold() -> None:
        with psycopg.connect(dsn) as conn:
            conn.execute('LOCK TABLE "Assessment" IN ACCESS EXCLUSIVE MODE')
            time.sleep(seconds)

    thread = threading.Thread(target=hold)

    def progress(ticks: Mapping[int, Tick]) -> None:
        if thread.ident is None and min(t.elapsed_s for t in ticks.values()) >= 2:
            thread.start()

    return progress, thread


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stall", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "pg")
        server.start()
        try:
            with psycopg.connect(server.dsn(), autocommit=True) as conn:
                conn.execute("CREATE DATABASE bench")
            dsn = server.dsn("bench")
            with psycopg.connect(dsn, autocommit=True) as conn:
                load(conn, "tiny")
            base = LoadSpec(dsn, ScenarioRef("reference"), users=8, duration_s=6,
                            warmup_s=1, pool_size=8, seed=1)  # fmt: skip
            runs = {
                "open model (intended start)": LoadSpec(
                    **{**base.__dict__, "rate": args.rate}
                ),
                "closed loop (naive)": LoadSpec(**{**base.__dict__, "users": 4}),
            }
            print(f"stall {args.stall:.1f} s on a 2-core machine shared by server "
                  "and generator")  # fmt: skip
            for name, spec in runs.items():
                progress, thread = stall_once(dsn, args.stall)
                result = run_load(spec, progress)  # type: ignore[arg-type]
                thread.join()
                s = result.overall.summary()
                print(f"{name:30} n={s.count:6d} p50={s.p50_ms:8.1f} ms "
                      f"p99={s.p99_ms:8.1f} ms max={s.max_ms:8.1f} ms")  # fmt: skip
        finally:
            server.stop()


if __name__ == "__main__":
    main()
