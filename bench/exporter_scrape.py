"""A scrape of prometheus-postgres-exporter against a pgwarden cycle, same database.

Runs Debian's ``prometheus-postgres-exporter`` binary on a loopback port (never its
service) against a scratch database holding ``--tables`` tables with their indexes
and three statements each, then alternates timed scrapes of its ``/metrics`` with
timed cycles of a running pgwarden collector. The exporter is timed twice: as
shipped (database-wide metrics only) and with a query file that reads what pgwarden
reads (every table, index and pg_stat_statements entry). pgwarden also writes the
deltas to its history, which the exporter leaves to Prometheus.

    python bench/exporter_scrape.py [--tables 2000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from collector_cycle import populate
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgwarden import pg
from pgwarden.collect import Collector
from pgwarden.embedded import EmbeddedServer, free_port, system_bin_dir
from pgwarden.repository import migrate

EXPORTER = "prometheus-postgres-exporter"

#: what pgwarden reads, in the exporter's query-file format (PostgreSQL 13+ columns)
QUERIES = """\
pg_stat_user_tables:
  query: |
    SELECT t.schemaname, t.relname, t.seq_scan, t.seq_tup_read, t.idx_scan,
           t.idx_tup_fetch, t.n_tup_ins, t.n_tup_upd, t.n_tup_del, t.n_tup_hot_upd,
           t.n_live_tup, t.n_dead_tup, t.n_mod_since_analyze, t.vacuum_count,
           t.autovacuum_count, t.analyze_count, t.autoanalyze_count,
           io.heap_blks_read, io.heap_blks_hit, io.idx_blks_read, io.idx_blks_hit,
           pg_total_relation_size(t.relid) AS total_size_bytes
    FROM pg_stat_user_tables t JOIN pg_statio_user_tables io USING (relid)
  metrics:
{tables}
pg_stat_user_indexes:
  query: |
    SELECT i.schemaname, i.relname, i.indexrelname, i.idx_scan, i.idx_tup_read,
           i.idx_tup_fetch, io.idx_blks_read, io.idx_blks_hit,
           pg_relation_size(i.indexrelid) AS size_bytes
    FROM pg_stat_user_indexes i JOIN pg_statio_user_indexes io USING (indexrelid)
  metrics:
{indexes}
pg_stat_statements:
  query: |
    SELECT s.userid::text AS userid, s.queryid::text AS queryid,
           s.toplevel::text AS toplevel, s.calls, s.rows,
           s.total_exec_time / 1000 AS exec_seconds,
           s.total_plan_time / 1000 AS plan_seconds,
           s.shared_blks_hit, s.shared_blks_read, s.shared_blks_dirtied,
           s.shared_blks_written, s.temp_blks_read, s.temp_blks_written,
           s.wal_records, s.wal_bytes
    FROM pg_stat_statements s
    WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  metrics:
{statements}
"""


def _metrics(labels: tuple[str, ...], counters: tuple[str, ...],
             gauges: tuple[str, ...] = ()) -> str:  # fmt: skip
    lines = [f"    - {name}:\n        usage: LABEL\n        description: {name}"
             for name in labels]  # fmt: skip
    lines += [f"    - {name}:\n        usage: COUNTER\n        description: {name}"
              for name in counters]  # fmt: skip
    lines += [f"    - {name}:\n        usage: GAUGE\n        description: {name}"
              for name in gauges]  # fmt: skip
    return "\n".join(lines)


def query_file() -> str:
    tables = _metrics(
        ("schemaname", "relname"),
        ("seq_scan", "seq_tup_read", "idx_scan", "idx_tup_fetch", "n_tup_ins",
         "n_tup_upd", "n_tup_del", "n_tup_hot_upd", "vacuum_count",
         "autovacuum_count", "analyze_count", "autoanalyze_count", "heap_blks_read",
         "heap_blks_hit", "idx_blks_read", "idx_blks_hit"),
        ("n_live_tup", "n_dead_tup", "n_mod_since_analyze", "total_size_bytes"),
    )  # fmt: skip
    indexes = _metrics(
        ("schemaname", "relname", "indexrelname"),
        ("idx_scan", "idx_tup_read", "idx_tup_fetch", "idx_blks_read",
         "idx_blks_hit"),
        ("size_bytes",),
    )  # fmt: skip
    statements = _metrics(
        ("userid", "queryid", "toplevel"),
        ("calls", "rows", "exec_seconds", "plan_seconds", "shared_blks_hit",
         "shared_blks_read", "shared_blks_dirtied", "shared_blks_written",
         "temp_blks_read", "temp_blks_written", "wal_records", "wal_bytes"),
    )  # fmt: skip
    return QUERIES.format(tables=tables, indexes=indexes, statements=statements)


def data_source(dsn: str) -> str:
    """The DSN as a URL the exporter's driver accepts (no TLS on loopback)."""
    params = conninfo_to_dict(dsn)
    return (
        f"postgresql://{params['user']}:{params['password']}@{params['host']}:"
        f"{params['port']}/{params['dbname']}?sslmode=disable"
    )


@contextmanager
def exporter(binary: str, dsn: str, queries: Path | None) -> Iterator[str]:
    """The exporter on a free loopback port; yields its /metrics URL."""
    port = free_port()
    argv = [binary, f"--web.listen-address=127.0.0.1:{port}", "--log.level=error"]
    if queries is not None:
        argv.append(f"--extend.query-path={queries}")
    env = {**os.environ, "DATA_SOURCE_NAME": data_source(dsn)}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        _wait(url, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{EXPORTER} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{EXPORTER} did not answer on {url}")


def scrape(url: str) -> tuple[float, int]:
    """Seconds for one full scrape, and the number of samples it returned."""
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        body = response.read()
    elapsed = time.perf_counter() - start
    samples = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    return elapsed, samples


def compare(collector: Collector, url: str, runs: int) -> tuple[float, float, int]:
    """Medians of scrapes and cycles, alternated; samples of the last scrape."""
    scrape(url)  # warm the exporter's connection and caches
    scrapes, cycles, samples = [], [], 0
    for _ in range(runs):
        elapsed, samples = scrape(url)
        scrapes.append(elapsed)
        start = time.perf_counter()
        collector.cycle()
        cycles.append(time.perf_counter() - start)
    return statistics.median(scrapes), statistics.median(cycles), samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    binary = shutil.which(EXPORTER)
    if binary is None:
        print(f"{EXPORTER} is not installed (apt-get install -y {EXPORTER}); "
              "skipping the exporter comparison")  # fmt: skip
        return
    # the exporter's version predates PostgreSQL 17's statistics views: prefer the
    # system server (PostgreSQL 15 on Debian 12) so every default query succeeds
    pg_bin = system_bin_dir()
    with tempfile.TemporaryDirectory(prefix="pgwarden-bench-") as tmp:
        server = EmbeddedServer(Path(tmp) / "server", pg_bin=pg_bin)
        server.start()
        try:
            run(server, args.tables, args.runs, Path(tmp), binary)
        finally:
            server.stop()


def run(server: EmbeddedServer, tables: int, runs: int, tmp: Path, binary: str) -> None:
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE bench")
    dsn = server.dsn("bench")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")
        version = conn.info.server_version
    populate(dsn, tables)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    with pg.connect(dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
    queries = tmp / "queries.yaml"
    queries.write_text(query_file())
    target = make_conninfo(dsn, application_name="pgwarden-bench")
    print(f"server: PostgreSQL {version // 10000}; tables={tables} indexes={tables}")
    with Collector(target, dsn, "bench", statement_timeout_ms=60_000) as collector:
        first = collector.cycle()
        collector.cycle()
        print(f"statements: {first.statements}")
        for label, extra in (("as shipped", None), ("same data as pgwarden", queries)):
            with exporter(binary, dsn, extra) as url:
                scraped, cycle, samples = compare(collector, url, runs)
            print(f"exporter scrape, {label} (median of {runs}): "
                  f"{scraped * 1000:.0f} ms, {samples} samples")  # fmt: skip
            print(f"pgwarden cycle, alternated (median of {runs}): "
                  f"{cycle * 1000:.0f} ms")  # fmt: skip
            print(f"ratio pgwarden cycle / exporter scrape ({label}): "
                  f"{cycle / scraped:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
