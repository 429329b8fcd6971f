"""Workers serving a fleet: N databases on one embedded server, one worker, then two.

Makes N small databases (default 200) on an embedded PostgreSQL, each with a table
and a trickle of statements (one connection per database runs a few statements
every second), registers them (``pgwarden.fleet.add``) at the given interval, then
runs ``pgwarden worker`` (no ``--dsn``: the fleet) for a few intervals: first one
process, then two. After a warm-up interval it measures, over the same window:

- worker CPU seconds per target-cycle (``/proc/PID/stat``, every process summed);
- cycles per target and interval (1.0: every slot met);
- p95 lateness of collection jobs: the job's start against its slot
  (``procrastinate_events`` against ``scheduled_at``);
- repository bytes per target-day: the growth of the ``pgwarden`` schema (the
  history) and of the queue's schema (finished jobs, kept
  ``jobs.finished_retention_days``) over the window, scaled to a day;
- with two processes, each one's share of the CPU against the single worker's
  (the per-process load ratio; 0.5 is a perfect split).

    python bench/fleet.py [--targets 200] [--interval 60] [--intervals 3]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
from psycopg import sql

from pgwarden import fleet, pg
from pgwarden.cli.collect_cmd import prepare_repository
from pgwarden.embedded import EmbeddedServer

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE TABLE item (id bigint PRIMARY KEY, tenant int NOT NULL, note text);
INSERT INTO item SELECT g, g % 10, 'n' || g FROM generate_series(1, 2000) g;
CREATE INDEX item_tenant_idx ON item (tenant);
ANALYZE item;
"""
TRICKLE = (
    "SELECT count(*) FROM item WHERE tenant = %s",
    "SELECT note FROM item WHERE id = %s",
    "UPDATE item SET note = note WHERE id = %s",
)
SIZE = """
SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind IN ('r', 'm', 't')
"""
LATENESS = """
SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY lateness) AS p95,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY lateness) AS p50, count(*) AS n
FROM (
    SELECT extract(epoch FROM e.at - j.scheduled_at) AS lateness
    FROM pgwarden_jobs.procrastinate_jobs j
    JOIN pgwarden_jobs.procrastinate_events e ON e.job_id = j.id AND e.type = 'started'
    WHERE j.task_name = 'collect' AND j.scheduled_at IS NOT NULL
      AND e.at >= to_timestamp(%s) AND e.at < to_timestamp(%s)
) l
"""
CYCLES = """
SELECT count(*) FROM pgwarden.collect_cycle
WHERE ts >= to_timestamp(%s) AND ts < to_timestamp(%s)
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_fleet(server: EmbeddedServer, count: int, interval: int) -> str:
    admin = server.dsn()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("CREATE DATABASE bench_tpl")
        conn.execute("CREATE DATABASE bench_repo")
    with psycopg.connect(server.dsn("bench_tpl"), autocommit=True) as conn:
        conn.execute(SCHEMA)
    with psycopg.connect(admin, autocommit=True) as conn:
        for n in range(count):
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE bench_tpl").format(
                sql.Identifier(f"t{n:03d}")))  # fmt: skip
    repo = server.dsn("bench_repo")
    prepare_repository(repo)
    with pg.connect(repo) as conn:
        for n in range(count):
            fleet.add(conn, server.dsn(f"t{n:03d}"), name=f"t{n:03d}",
                      interval_s=interval, password_env="BENCH_PASSWORD")  # fmt: skip
    return repo


def trickle(server: EmbeddedServer, count: int, stop: threading.Event) -> None:
    conns = [psycopg.connect(server.dsn(f"t{n:03d}"), autocommit=True)
             for n in range(count)]  # fmt: skip
    k = 0
    while not stop.wait(1.0):
        for conn in conns:
            k += 1
            conn.execute(TRICKLE[k % len(TRICKLE)], [k % 2000 + 1])
    for conn in conns:
        conn.close()


def size(repo: str, schema: str) -> int:
    with psycopg.connect(repo) as conn:
        row = conn.execute(SIZE, [schema]).fetchone()
    return int(row[0]) if row else 0


def run_workers(
    repo: str, password: str, processes: int, interval: int, intervals: int,
    count: int, concurrency: int,
) -> dict[str, float]:  # fmt: skip
    env = {**os.environ, "BENCH_PASSWORD": password}
    args = [sys.executable, "-m", "pgwarden", "--repository-dsn", repo, "worker",
            "--concurrency", str(concurrency)]  # fmt: skip
    quiet = subprocess.DEVNULL
    procs = [
        subprocess.Popen(args, env=env, stderr=quiet, stdout=quiet)
        for _ in range(processes)
    ]
    try:
        time.sleep(interval + 5)  # start-up and the first slots
        start, cpu0 = time.time(), [cpu_seconds(p.pid) for p in procs]
        sizes0 = size(repo, "pgwarden"), size(repo, "pgwarden_jobs")
        time.sleep(interval * intervals)
        end, cpu1 = time.time(), [cpu_seconds(p.pid) for p in procs]
        sizes1 = size(repo, "pgwarden"), size(repo, "pgwarden_jobs")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=120)
    with psycopg.connect(repo) as conn:
        cyc = conn.execute(CYCLES, [start, end]).fetchone()
        late = conn.execute(LATENESS, [start, end]).fetchone()
    cycles = int(cyc[0]) if cyc else 0
    per_day = 86400 / (end - start) / count
    cpus = [b - a for a, b in zip(cpu0, cpu1, strict=True)]
    return {
        "cycles": cycles,
        "cycles_per_slot": cycles / (count * (end - start) / interval),
        "cpu": sum(cpus),
        "cpu_max_process": max(cpus),
        "cpu_per_cycle": sum(cpus) / max(cycles, 1),
        "p50": float(late[1] or 0) if late else 0.0,
        "p95": float(late[0] or 0) if late else 0.0,
        "history_per_target_day": (sizes1[0] - sizes0[0]) * per_day,
        "queue_per_target_day": (sizes1[1] - sizes0[1]) * per_day,
        "seconds": end - start,
    }


def show(label: str, r: dict[str, float], count: int, interval: int) -> None:
    cores = r["cpu"] / r["seconds"]
    print(f"{label}: {int(r['cycles'])} cycles in {r['seconds']:.0f} s "
          f"({r['cycles_per_slot']:.2f} of the slots met)")  # fmt: skip
    print(f"  worker CPU per target-cycle: {r['cpu_per_cycle'] * 1000:.1f} ms "
          f"({cores:.2f} cores for {count} targets at {interval} s)")  # fmt: skip
    print(f"  collection lateness against the slot: p50 {r['p50']:.2f} s, "
          f"p95 {r['p95']:.2f} s")  # fmt: skip
    print(f"  repository bytes per target-day: history "
          f"{r['history_per_target_day'] / 1e6:.2f} MB, queue "
          f"{r['queue_per_target_day'] / 1e6:.2f} MB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--interval", type=int, default=60)
    parser.add_argument("--intervals", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    count = args.targets
    with tempfile.TemporaryDirectory(prefix="pgwarden-bench-fleet-") as tmp:
        limits = {"max_connections": str(count + 150)}
        server = EmbeddedServer(Path(tmp) / "pg", overrides=limits)
        server.start()
        stop = threading.Event()
        try:
            started = time.monotonic()
            repo = make_fleet(server, count, args.interval)
            password = str(psycopg.conninfo.conninfo_to_dict(repo).get("password", ""))
            print(f"{count} databases made and registered in "
                  f"{time.monotonic() - started:.0f} s")  # fmt: skip
            feeder = threading.Thread(target=trickle, args=(server, count, stop))
            feeder.start()
            one = run_workers(repo, password, 1, args.interval, args.intervals,
                              count, args.concurrency)  # fmt: skip
            show("one worker", one, count, args.interval)
            two = run_workers(repo, password, 2, args.interval, args.intervals,
                              count, args.concurrency)  # fmt: skip
            show("two workers", two, count, args.interval)
            share = two["cpu_max_process"] / max(one["cpu"], 1e-9)
            print(
                f"per-process load, two workers against one: {share:.2f} "
                "(the busier process; 0.50 is an even split)"
            )
            print(
                f"CPU per target-cycle, two workers against one: "
                f"{two['cpu_per_cycle'] / max(one['cpu_per_cycle'], 1e-9):.2f}"
            )
        finally:
            stop.set()
            server.stop()


if __name__ == "__main__":
    main()
