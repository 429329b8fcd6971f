"""Collector cycle against the bare catalog queries through psql, same server.

Creates >= 5,000 distinct statements and >= 2,000 relations in a scratch database on
an embedded server, then times steady-state cycles of a running collector (texts
already stored, previous counters in memory) against ``psql`` running the same
catalog reads with their output discarded. Also prints the first cycle of a
collector that has just started (previous snapshot read back from the repository).

    python bench/collector_cycle.py [--tables 2000] [--cycles 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from pgwarden import pg
from pgwarden.collect import Collector, collect_once
from pgwarden.embedded import EmbeddedServer
from pgwarden.repository import migrate

BARE = ("database", "activity", "settings", "bgwriter", "checkpointer", "tables",
        "indexes")  # fmt: skip


def populate(dsn: str, tables: int) -> None:
    """``tables`` tables (each with a primary key index), three statements each."""
    with psycopg.connect(dsn, autocommit=True) as conn, conn.pipeline():
        for n in range(tables):
            name = sql.Identifier(f"bench_{n}")
            conn.execute(
                sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, v int)").format(name)
            )
            conn.execute(sql.SQL("INSERT INTO {} VALUES (%s, %s)").format(name), [n, n])
            conn.execute(sql.SQL("SELECT v FROM {} WHERE id = %s").format(name), [n])
            conn.execute(
                sql.SQL("UPDATE {} SET v = v + 1 WHERE id = %s").format(name), [n]
            )
            conn.execute(sql.SQL("SELECT count(*) FROM {}").format(name))


def bare_script(version_num: int) -> str:
    parts = [pg.query("collect", name, version_num) for name in BARE]
    for name in ("statements_info", "statements"):
        text = pg.query("collect", name, version_num)
        parts.append(text.replace("{pgss}", "public"))
    return "\n".join(parts) + "\n"


def time_psql(server: EmbeddedServer, dsn: str, script: Path, runs: int) -> list[float]:
    state = server.state()
    assert state is not None
    psql = Path(state.bin_dir) / "psql"
    env = {**os.environ, "PGAPPNAME": "pgwarden-bench"}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([str(psql), "-X", "-q", "-d", dsn, "-f", str(script),
                        "-o", os.devnull], check=True, env=env)  # fmt: skip
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=2000)
    parser.add_argument("--cycles", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pgwarden-bench-") as tmp:
        server = EmbeddedServer(Path(tmp) / "server")
        server.start()
        try:
            run(server, args.tables, args.cycles, Path(tmp))
        finally:
            server.stop()


def run(server: EmbeddedServer, tables: int, cycles: int, tmp: Path) -> None:
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE bench")
    dsn = server.dsn("bench")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")
    populate(dsn, tables)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # no autovacuum burst during the timings
    with pg.connect(dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
        version_num = pg.server_version_num(conn)
    script = tmp / "bare.sql"
    script.write_text(bare_script(version_num))
    cycle_times, psql_times = [], []
    with Collector(dsn, dsn, "bench", statement_timeout_ms=60_000) as collector:
        first = collector.cycle()
        time_psql(server, dsn, script, 1)  # warm both before timing
        collector.cycle()
        for _ in range(cycles):  # alternate, so both see the same background
            start = time.perf_counter()
            result = collector.cycle()
            cycle_times.append(time.perf_counter() - start)
            psql_times += time_psql(server, dsn, script, 1)
    with pg.connect(dsn, statement_timeout_ms=None) as target, pg.connect(dsn) as repo:
        start = time.perf_counter()
        collect_once(target, repo, "bench")
        restarted = time.perf_counter() - start
    cycle, bare = statistics.median(cycle_times), statistics.median(psql_times)
    print(f"statements: {first.statements} (texts stored once: {first.new_texts})")
    print(f"relations: tables={tables} indexes={tables}; last cycle {result.samples}")
    print(f"collector cycle (median of {cycles}): {cycle * 1000:.0f} ms")
    print(f"bare catalog queries via psql (median of {cycles}): {bare * 1000:.0f} ms")
    print(f"ratio collector / psql: {cycle / bare:.2f}")
    print(f"first cycle after a collector start: {restarted * 1000:.0f} ms "
          f"(ratio {restarted / bare:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
