"""Per statement shape: does the index advice make the planner use a new index?

Builds one schema holding every shape the advisor must see through (a view, an
inlined CTE, a materialized CTE, ORDER BY position and alias, mixed sort
directions, IS NULL, LIKE with a parameter, UPDATE, DELETE, a partitioned table)
and two where no new index is right (ORDER BY a unique key then another column;
equality on a column an existing hash index serves). It runs the workload so
pg_stat_statements holds it, asks ``indexes advise`` (the library call, hypopg
verified), then for each shape plans the statement with sample values (EXPLAIN,
a custom plan), runs every printed DDL statement for real, each on its own in
autocommit, and plans it again. Printed per shape: the advice's expectation, the
index the plan uses after, the cost before → after and the reduction. The peer is
the same statement's plan without the advice, in the same run.

Then it times ``advise()`` over 1,000 distinct statements (the speed part of
``advisor_quality.py``). Goal: every shape served; <= 60 s.

    python bench/advisor_shapes.py [--rows 200000] [--statements 1000]
                                   [--dsn DSN]

Without ``--dsn`` it starts the system PostgreSQL (hypopg, pg_trgm) in a temporary
directory.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from advisor_quality import scratch, server, speed

from pgwarden import pg
from pgwarden.advise.indexes.run import run
from pgwarden.config import Settings

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL,
    status text NOT NULL, code int NOT NULL, created_at timestamptz NOT NULL);
CREATE INDEX customers_code_hash ON customers USING hash (code);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL,
    ref text NOT NULL, region text NOT NULL, amount numeric NOT NULL,
    created_at timestamptz NOT NULL, shipped_at timestamptz);
CREATE TABLE events (id bigint PRIMARY KEY, entity_id bigint NOT NULL,
    ref text NOT NULL, created_at timestamptz NOT NULL);
CREATE TABLE measurements (sensor_id int NOT NULL, taken date NOT NULL,
    value float8 NOT NULL) PARTITION BY RANGE (taken);
CREATE TABLE measurements_2024 PARTITION OF measurements
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE measurements_2025 PARTITION OF measurements
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE VIEW active_customers AS SELECT * FROM customers WHERE status = 'active';
INSERT INTO customers SELECT g, 'user' || g || '@example.com',
    CASE WHEN g % 20 = 0 THEN 'closed' ELSE 'active' END, g % 50000,
    now() - g * interval '1 minute' FROM generate_series(1, {rows}) g;
INSERT INTO orders SELECT g, 1 + g % ({rows} / 4), md5(g::text),
    (ARRAY['eu','us','apac'])[1 + g % 3], (g % 100000) / 10.0,
    now() - g * interval '10 seconds',
    CASE WHEN g % 200 = 0 THEN NULL ELSE now() END FROM generate_series(1, {rows}) g;
INSERT INTO events SELECT g, 1 + g % ({rows} / 2), md5((g * 7)::text),
    now() - (g % 5000) * interval '1 hour' FROM generate_series(1, {rows}) g;
INSERT INTO measurements SELECT g % 3000, date '2024-01-01' + g % 700, g
    FROM generate_series(1, {rows}) g;
VACUUM ANALYZE;
"""


@dataclass(frozen=True)
class Shape:
    name: str
    text: str  # with %s placeholders
    params: tuple[Any, ...]
    new_index: bool = True  # False: an existing index is the right answer


SHAPES = [
    Shape("view", "SELECT id FROM active_customers WHERE email = %s",
          ("user77@example.com",)),
    Shape("CTE inlined", "WITH o AS (SELECT * FROM orders) SELECT id FROM o "
          "WHERE customer_id = %s", (42,)),
    Shape("CTE materialized", "WITH o AS MATERIALIZED (SELECT * FROM orders "
          "WHERE ref = %s) SELECT id FROM o WHERE amount > %s", ("abc", 1)),
    Shape("ORDER BY position", "SELECT amount, id FROM orders ORDER BY 1 DESC "
          "LIMIT 10", ()),
    Shape("ORDER BY alias", "SELECT id, created_at AS t FROM events ORDER BY t "
          "LIMIT 10", ()),
    Shape("mixed directions", "SELECT id FROM orders ORDER BY region ASC, "
          "created_at DESC LIMIT 10", ()),
    Shape("IS NULL", "SELECT id FROM orders WHERE shipped_at IS NULL", ()),
    Shape("LIKE $1", "SELECT id FROM customers WHERE email LIKE %s",
          ("%user123%",)),
    Shape("UPDATE", "UPDATE events SET created_at = created_at WHERE ref = %s",
          ("abc",)),
    Shape("DELETE", "DELETE FROM orders WHERE ref = %s", ("nothing",)),
    Shape("partitioned table", "SELECT value FROM measurements WHERE "
          "sensor_id = %s", (7,)),
    Shape("unique order", "SELECT id, created_at FROM customers ORDER BY id, "
          "created_at LIMIT 10", (), new_index=False),
    Shape("existing hash index", "SELECT id FROM customers WHERE code = %s",
          (99,), new_index=False),
]  # fmt: skip


def plan(conn: psycopg.Connection[Any], shape: Shape) -> dict[str, Any]:
    row = conn.execute(
        "EXPLAIN (FORMAT JSON) " + shape.text, list(shape.params)
    ).fetchone()
    assert row is not None
    data = row[0] if not isinstance(row[0], str) else json.loads(row[0])
    top: dict[str, Any] = data[0]["Plan"]
    return top


def indexes_used(node: dict[str, Any]) -> set[str]:
    found = {str(node["Index Name"])} if "Index Name" in node else set()
    for child in node.get("Plans", ()):
        found |= indexes_used(child)
    return found


def index_names(conn: psycopg.Connection[Any]) -> set[str]:
    rows = conn.execute(
        "SELECT relname FROM pg_class WHERE relkind IN ('i', 'I') AND "
        "relnamespace = 'public'::regnamespace"
    ).fetchall()
    return {r[0] for r in rows}


def workload(dsn: str, times: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
        for _ in range(times):
            for shape in SHAPES:
                conn.execute(shape.text, list(shape.params))


def shapes(dsn: str, times: int) -> None:
    workload(dsn, times)
    started = time.monotonic()
    advice = run(Settings(), dsn, None).as_dict()
    seconds = time.monotonic() - started
    with psycopg.connect(dsn, autocommit=True) as conn:
        before = {s.name: plan(conn, s) for s in SHAPES}
        existing = index_names(conn)
        failed = []
        for rec in advice["recommendations"]:
            for text in rec["ddl_statements"]:
                try:
                    conn.execute(text)
                except psycopg.Error as exc:
                    failed.append(f"{text}: {str(exc).splitlines()[0]}")
        conn.execute("ANALYZE")
        new = index_names(conn) - existing
        after = {s.name: plan(conn, s) for s in SHAPES}
    print(
        f"advice: {len(advice['recommendations'])} recommendation(s) in {seconds:.1f} s"
        f" ({advice['mode']}); DDL statements that failed: {len(failed)}"
    )
    for line in failed:
        print(f"  FAILED {line}")
    served = 0
    print(f"{'shape':22s} {'served':8s} {'cost before':>12s} {'after':>10s} "
          f"{'cut':>6s}  index used after")  # fmt: skip
    for s in SHAPES:
        b, a = before[s.name]["Total Cost"], after[s.name]["Total Cost"]
        used = indexes_used(after[s.name])
        ok = bool(used & new) if s.new_index else not (used & new) and bool(used)
        served += ok
        cut = 100 * (b - a) / b if b else 0.0
        label = ("yes" if ok else "NOT") + ("" if s.new_index else " (old)")
        print(f"{s.name:22s} {label:8s} {b:12.1f} {a:10.1f} {cut:5.1f}%  "
              f"{', '.join(sorted(used)) or '-'}")  # fmt: skip
    print(f"shapes served: {served} of {len(SHAPES)}; goal: all")
    for note in advice["notes"]:
        print(f"  note: {note[:160]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--times", type=int, default=20)
    parser.add_argument("--statements", type=int, default=1000)
    parser.add_argument("--dsn", help="A superuser DSN of a server with hypopg.")
    args = parser.parse_args()
    with server(args.dsn, None) as (admin, _log_dir):
        dsn = scratch(admin, "pgwarden_bench_advisor_shapes")
        started = time.monotonic()
        with pg.connect(dsn, statement_timeout_ms=None) as conn:
            for statement in SCHEMA.format(rows=args.rows).split(";"):
                if statement.strip():
                    conn.execute(statement)
        print(f"data: {args.rows:,d} rows per table in "
              f"{time.monotonic() - started:.0f} s")  # fmt: skip
        shapes(dsn, args.times)
        speed(admin, args.statements)


if __name__ == "__main__":
    main()
