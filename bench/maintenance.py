"""Application latency during a maintenance cycle, against the same load without it.

Starts an embedded server, loads the reference data (``--scale``), installs
pgstattuple and the repository, and keeps that database as a template. Each round
clones it three times, bloats "Answer" and "AuditLog" in each clone with updates and
deletes (a clone starts with empty statistics counters), and runs the
reference scenario in the open model (``--rate`` actions/s, latency from the
intended start, so a stall is not hidden): once with ``pgwarden maintain run``
started two seconds in (a separate process, the window configured to be open now,
so ANALYZE, VACUUM, VACUUM FULL and REINDEX all run), once with the same cycle
without VACUUM FULL ("online only": ANALYZE, VACUUM, REINDEX CONCURRENTLY), and once
without maintenance. Prints p50/p99 of each, each cycle's summary and duration, and
the ratios of the p99s.

    python bench/maintenance.py [--scale small] [--rate 40] [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from pgwarden.demo.data import load
from pgwarden.embedded import EmbeddedServer
from pgwarden.load import LoadSpec, ScenarioRef, Tick, run_load
from pgwarden.repository import migrate

BLOAT = (
    'UPDATE "Answer" SET "updatedAt" = now() WHERE id % 3 <> 0',
    'UPDATE "Answer" SET "updatedAt" = now() WHERE id % 3 <> 1',
    'DELETE FROM "AuditLog" WHERE id % 4 <> 0',
)


def prepare(server: EmbeddedServer, scale: str) -> str:
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE bench_base")
    with psycopg.connect(server.dsn("bench_base"), autocommit=True) as conn:
        load(conn, scale)
        conn.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
        migrate(conn)
    return "bench_base"


def clone(server: EmbeddedServer, template: str, name: str) -> str:
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))  # fmt: skip
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)))  # fmt: skip
    # after cloning: a clone starts with empty statistics counters
    with psycopg.connect(server.dsn(name), autocommit=True) as conn:
        for statement in BLOAT:
            conn.execute(statement)
    return server.dsn(name)


def window_env(**extra: str) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        **os.environ,
        **extra,
        "PGWARDEN_TIMEZONE": "UTC",
        "PGWARDEN_MAINTENANCE__WINDOW_START": f"{now - timedelta(hours=1):%H:%M}",
        "PGWARDEN_MAINTENANCE__WINDOW_END": f"{now + timedelta(hours=1):%H:%M}",
        "PGWARDEN_MAINTENANCE__VACUUM_FULL_MIN_BYTES": "0",
        "PGWARDEN_MAINTENANCE__REINDEX_MIN_BYTES": "0",
    }


class Cycle:
    """``pgwarden maintain run`` in its own process, ``after`` s into the load."""

    def __init__(self, dsn: str, after: float, **env: str) -> None:
        self.dsn, self.after, self.env = dsn, after, env
        self.result: dict[str, Any] = {}
        self.seconds = 0.0
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "pgwarden", "--dsn", self.dsn, "maintain", "run",
             "--format", "json"],
            capture_output=True, text=True, env=window_env(**self.env), check=False,
        )  # fmt: skip
        self.seconds = time.monotonic() - started
        self.result = json.loads(done.stdout) if done.stdout.strip() else {
            "summary": f"failed: {done.stderr.strip()[-300:]}", "runs": []}  # fmt: skip

    def progress(self, ticks: Mapping[int, Tick]) -> None:
        if self.thread.ident is None and min(t.elapsed_s for t in ticks.values()) >= (
            self.after
        ):
            self.thread.start()


VARIANTS = {
    "full cycle": {},
    "online only": {"PGWARDEN_MAINTENANCE__VACUUM_FULL_SCHEDULE": "never"},
}


def line(name: str, s: Any) -> None:
    print(f"  {name:22} n={s.count:6d} p50={s.p50_ms:8.1f} ms "
          f"p99={s.p99_ms:8.1f} ms max={s.max_ms:8.1f} ms")  # fmt: skip


def measure(dsn: str, args: argparse.Namespace, cycle: Cycle | None) -> Any:
    spec = LoadSpec(dsn, ScenarioRef("reference"), users=16, duration_s=args.seconds,
                    warmup_s=1, pool_size=8, seed=1, rate=args.rate)  # fmt: skip
    result = run_load(spec, cycle.progress if cycle else None)  # type: ignore[arg-type]
    if cycle is not None and cycle.thread.ident is not None:
        cycle.thread.join()
    return result.overall.summary()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="small")
    parser.add_argument("--rate", type=float, default=40.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "pg")
        server.start()
        try:
            template = prepare(server, args.scale)
            print(f"scale {args.scale}, open model {args.rate:g} actions/s, "
                  f"{args.seconds:g} s per run, 2-core machine shared by server, "
                  "load generator and maintenance")  # fmt: skip
            for n in range(args.rounds):
                quiet = measure(clone(server, template, "bench_quiet"), args, None)
                print(f"round {n + 1}:")
                line("without maintenance", quiet)
                for name, env in VARIANTS.items():
                    dsn = clone(server, template, "bench_maint")
                    cycle = Cycle(dsn, 2.0, **env)
                    busy = measure(dsn, args, cycle)
                    print(f"  {name}: {cycle.seconds:.1f} s, "
                          f"{cycle.result.get('summary')}")  # fmt: skip
                    ops = [" ".join(filter(None, (r["operation"], r["table"],
                                                  r["index"], r["status"])))
                           for r in cycle.result.get("runs", [])
                           if r["operation"] != "analyze"]  # fmt: skip
                    print("    not ANALYZE: " + "; ".join(ops))
                    line(name, busy)
                    print(f"    ratio p99 {name} / without: "
                          f"{busy.p99_ms / quiet.p99_ms:.2f}")  # fmt: skip
        finally:
            server.stop()


if __name__ == "__main__":
    main()
