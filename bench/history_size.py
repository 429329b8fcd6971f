"""Bytes per statement sample: pgwarden's packed history against PoWA's, same run.

Starts a PostgreSQL 15 server from the system binaries with ``powa`` preloaded (its
background worker off), feeds ``--statements`` distinct statements, each run once per
interval, and takes ``--snapshots`` intervals: a pgwarden cycle and a
``powa_take_snapshot()`` alternately. Both then pack what they hold (pgwarden its
finished hour into arrays, PoWA its coalesce into record arrays) and the per-statement
history tables are measured with ``pg_total_relation_size`` (heap, TOAST, indexes),
divided by the samples they hold. Without PoWA, pgwarden is measured alone.

Prints bytes per sample of both, their ratio, and the projection of 30 days of
1,000 active statements sampled every 60 s with hourly packing (and the size of
``statement_window``, which holds one row per statement whatever the days).

    python bench/history_size.py [--statements 1000] [--snapshots 60]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from pgwarden import pg
from pgwarden.collect import Collector
from pgwarden.collect.kinds import STATEMENT
from pgwarden.collect.pack import pack
from pgwarden.embedded import EmbeddedServer
from pgwarden.repository import migrate

PG15 = Path("/usr/lib/postgresql/15/bin")
POWA_LIB = Path("/usr/lib/postgresql/15/lib/powa.so")
MB = 1024 * 1024
#: the projection: 30 days of 1,000 active statements every 60 s
DAYS, ACTIVE, INTERVAL_S = 30, 1000, 60
#: collect.raw_retention_days by default
RAW_DAYS = 7

PGWARDEN_SIZE = """
SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'pgwarden' AND c.relkind = 'r' AND c.relname LIKE %s
"""


def wide_table(conn: psycopg.Connection[Any], statements: int) -> None:
    """One column per statement: ``SELECT c<i> FROM wide`` are distinct statements."""
    columns = sql.SQL(", ").join(
        sql.SQL("{} int").format(sql.Identifier(f"c{i}")) for i in range(statements)
    )
    conn.execute(sql.SQL("CREATE TABLE wide (id int PRIMARY KEY, {})").format(columns))
    conn.execute("INSERT INTO wide (id) VALUES (1)")


def workload(dsn: str, statements: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn, conn.pipeline():
        for i in range(statements):
            query = sql.SQL("SELECT {} FROM wide WHERE id = %s")
            conn.execute(query.format(sql.Identifier(f"c{i}")), [1])


def powa_available(server: EmbeddedServer) -> str | None:
    """Why PoWA cannot be measured, if so."""
    if not POWA_LIB.exists():
        return (
            "postgresql-15-powa is not installed (apt-get install postgresql-15-powa)"
        )
    with psycopg.connect(server.dsn()) as conn:
        row = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'btree_gist'"
        ).fetchone()
    return None if row else "btree_gist (needed by powa) is not available"


def powa_bytes(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    """Coalesce PoWA's snapshots, then bytes and samples of its statement history."""
    conn.execute("SELECT powa_statements_aggregate(0)")
    row = conn.execute(
        "SELECT pg_total_relation_size('powa_statements_history'),"
        " (SELECT coalesce(sum(cardinality(records)), 0) FROM powa_statements_history)"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def pgwarden_bytes(
    conn: psycopg.Connection[Any], target_id: int, now: Any
) -> dict[str, Any]:
    """Pack every hour, then bytes and samples of the statement history tables."""
    with conn.transaction():
        pack(conn, target_id, now + timedelta(hours=1))
    figures: dict[str, Any] = {}
    for name, pattern in (("raw", "statement\\_history%"),
                          ("hourly", "statement\\_hourly%"),
                          ("window", "statement\\_window")):  # fmt: skip
        row = conn.execute(PGWARDEN_SIZE, [pattern]).fetchone()
        figures[name] = int(row[0]) if row else 0
    row = conn.execute(
        "SELECT (SELECT coalesce(sum(cardinality(at_ms)), 0)"
        " FROM pgwarden.statement_history),"
        " (SELECT count(*) FROM pgwarden.statement_hourly)"
    ).fetchone()
    assert row is not None
    figures["samples"], figures["hours"] = int(row[0]), int(row[1])
    figures["columns"] = column_bytes(conn)
    return figures


def column_bytes(conn: psycopg.Connection[Any]) -> dict[str, float]:
    """Stored bytes per sample of each packed array column (compressed, inline)."""
    names = ("at_ms", "interval_ms", *STATEMENT.value_names)
    sizes = sql.SQL(", ").join(
        sql.SQL("sum(pg_column_size({}))::float8 / sum(cardinality(at_ms))").format(
            sql.Identifier(n)
        )
        for n in names
    )
    query = sql.SQL("SELECT {} FROM pgwarden.statement_history").format(sizes)
    row = conn.execute(query).fetchone()
    assert row is not None
    return {n: float(v or 0) for n, v in zip(names, row, strict=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=1000)
    parser.add_argument("--snapshots", type=int, default=60)
    args = parser.parse_args()
    if not (PG15 / "pg_ctl").exists():
        raise SystemExit(f"needs PostgreSQL 15 binaries in {PG15} (postgresql-15)")
    libraries = "pg_stat_statements,powa" if POWA_LIB.exists() else "pg_stat_statements"
    overrides = (
        {
            "shared_preload_libraries": f"'{libraries}'",
            "powa.frequency": "-1",  # no background snapshots: the bench takes them
        }
        if POWA_LIB.exists()
        else {"shared_preload_libraries": f"'{libraries}'"}
    )
    with tempfile.TemporaryDirectory(prefix="pgwarden-bench-") as tmp:
        server = EmbeddedServer(Path(tmp) / "server", pg_bin=PG15, overrides=overrides)
        server.start()
        try:
            run(server, args.statements, args.snapshots)
        finally:
            server.stop()


def run(server: EmbeddedServer, statements: int, snapshots: int) -> None:
    skipped = powa_available(server)
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE bench")
    dsn = server.dsn("bench")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")
        if skipped is None:
            conn.execute("CREATE EXTENSION btree_gist")
            conn.execute("CREATE EXTENSION powa")
        wide_table(conn, statements)
    with pg.connect(dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        # both start from the same statements: none left idle from the setup
        conn.execute("SELECT pg_stat_statements_reset()")
    started = time.perf_counter()
    with Collector(dsn, dsn, "bench", statement_timeout_ms=60_000) as collector, \
            psycopg.connect(dsn, autocommit=True) as powa:  # fmt: skip
        last = collector.cycle()  # pgwarden's baseline: deltas start next cycle
        if skipped is None:
            powa.execute("SELECT powa_take_snapshot()")
        for _ in range(snapshots):
            workload(dsn, statements)
            last = collector.cycle()
            if skipped is None:
                powa.execute("SELECT powa_take_snapshot()")
    print(f"PostgreSQL 15; {statements} statements x {snapshots} intervals "
          f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
    with psycopg.connect(dsn, autocommit=True) as conn:
        ours = pgwarden_bytes(conn, last.target_id, last.ts)
        theirs = powa_bytes(conn) if skipped is None else None
    report(ours, theirs, skipped)


def report(
    ours: dict[str, Any], theirs: tuple[int, int] | None, skipped: str | None
) -> None:
    per_sample = ours["raw"] / max(ours["samples"], 1)
    per_hour = ours["hourly"] / max(ours["hours"], 1)
    print(f"pgwarden: {ours['samples']} samples in {ours['raw'] / MB:.2f} MB -> "
          f"{per_sample:.1f} bytes per statement sample (hourly packed arrays); "
          f"roll-up {per_hour:.0f} bytes per statement-hour")  # fmt: skip
    columns = sorted(ours["columns"].items(), key=lambda kv: -kv[1])
    print("  arrays, bytes per sample: " + ", ".join(
        f"{n} {v:.1f}" for n, v in columns if v >= 0.5))  # fmt: skip
    if theirs is None:
        print(f"PoWA: skipped ({skipped})")
    else:
        size, samples = theirs
        powa_sample = size / max(samples, 1)
        print(f"PoWA: {samples} samples in {size / MB:.2f} MB -> "
              f"{powa_sample:.1f} bytes per statement sample "
              "(coalesced records)")  # fmt: skip
        print(f"ratio pgwarden / PoWA bytes per sample: {per_sample / powa_sample:.2f}")
    per_day = 24 * 3600 // INTERVAL_S * ACTIVE
    raw = DAYS * per_day * per_sample / MB
    hourly = DAYS * 24 * ACTIVE * per_hour / MB
    kept = RAW_DAYS * per_day * per_sample / MB + hourly
    print(f"projection, {DAYS} days x {ACTIVE} active statements every {INTERVAL_S} s:"
          f" raw packed {raw:.0f} MB, hourly roll-ups {hourly:.0f} MB"
          " (goal <= 500 MB, plan budget 5 GB)")  # fmt: skip
    print(f"projection with default retention ({RAW_DAYS} days raw + {DAYS} days "
          f"roll-ups): {kept:.0f} MB")  # fmt: skip
    print(f"statements of the last hour (statement_window, rewritten every cycle, "
          f"does not grow with days): {ours['window'] / 1024:.0f} kB")  # fmt: skip
    if theirs is not None:
        powa_raw = DAYS * per_day * powa_sample / MB
        print(f"projection, PoWA at the same sampling: {powa_raw:.0f} MB")


if __name__ == "__main__":
    main()
