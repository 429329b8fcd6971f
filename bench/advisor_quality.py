"""Quality and speed of the index advisor against a per-query greedy baseline.

Builds an order-management schema (customers, orders with a skewed status, events
keyed by entity type and id) in a scratch database on the system PostgreSQL (which
has hypopg), runs a parameterised workload of reads and writes, and measures its
total execution time from pg_stat_statements. Then, for each of:

- **pgwarden**: ``advise()`` over the workload (workload-level greedy by benefit per
  byte, partial and covering candidates, write overhead), and
- **per-query baseline** (Dexter's approach, implemented here): each statement
  alone, every 1- and 2-column btree on the columns it filters, joins or sorts on,
  costed with hypopg; the best one kept when it cuts that statement's cost by
  >= 50 %,

the recommended indexes are created for real, the workload is run again and timed,
and the indexes are dropped. Prints the time reduction, index count and bytes of
both. Goal: at least the baseline's reduction with no more index bytes.

As in a deployment, pgwarden learns the constants the application really uses from
the server log: the run the advisors read is logged in full
(``log_min_duration_statement = 0`` for its session, the bound parameters in each
``execute``'s detail), the log is ingested into a repository database with the
parameter value observer (only pg_stats' most common values of categorical columns
are kept), and ``advise()`` gets those observations.

Then it times ``advise()`` over 1,000 distinct statements (100 tables x 10 shapes).
Goal: <= 60 s on the 2-core reference machine.

    python bench/advisor_quality.py [--orders 300000] [--rounds 2]
                                    [--dsn DSN --log-dir DIR] [--no-observe]

Without ``--dsn`` it starts the system PostgreSQL (from /usr/lib/postgresql) in a
temporary directory; the server needs hypopg and pg_stat_statements. With ``--dsn``,
``--log-dir`` is the server's jsonlog/csvlog directory (without it, no parameter
values are observed).
"""

from __future__ import annotations

import argparse
import itertools
import random
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from pgwarden import pg
from pgwarden.advise.indexes import (
    Budget,
    Candidate,
    Context,
    Options,
    advise,
    gather,
    hypo,
)
from pgwarden.advise.workload import parse
from pgwarden.config import AdvisorSettings
from pgwarden.embedded import EmbeddedServer, system_bin_dir
from pgwarden.embedded_conf import LOG_DIRECTORY
from pgwarden.repository import migrate
from pgwarden.slowlog import ensure_target, ingest_server_log
from pgwarden.slowlog.param_values import Observer

SCHEMA = """
CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL, region text,
    created_at timestamptz NOT NULL);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL,
    status text NOT NULL, region text NOT NULL, amount numeric NOT NULL,
    created_at timestamptz NOT NULL, note text);
CREATE TABLE events (id bigint PRIMARY KEY, entity_type text NOT NULL,
    entity_id bigint NOT NULL, action text NOT NULL, created_at timestamptz NOT NULL,
    payload text);
INSERT INTO customers SELECT g, 'user' || g || '@example.com',
    (ARRAY['eu','us','apac'])[1 + g % 3], now() - g * interval '1 minute'
    FROM generate_series(1, {customers}) g;
INSERT INTO orders SELECT g, 1 + (g::bigint * 7919) % {customers},
    CASE WHEN g % 50 = 0 THEN 'pending' WHEN g % 10 = 0 THEN 'cancelled'
         ELSE 'shipped' END,
    (ARRAY['eu','us','apac'])[1 + g % 3], (g % 1000) / 10.0,
    now() - g * interval '10 seconds', md5(g::text)
    FROM generate_series(1, {orders}) g;
INSERT INTO events SELECT g, CASE WHEN g % 4 = 0 THEN 'customer' ELSE 'order' END,
    1 + (g::bigint * 104729) % {orders}, (ARRAY['create','update','ship'])[1 + g % 3],
    now() - g * interval '5 seconds', repeat('x', 40)
    FROM generate_series(1, {events}) g;
VACUUM ANALYZE;
"""

# (text with %s, parameter maker, executions per round)
WORKLOAD: list[tuple[str, Any, int]] = [
    ("SELECT id, amount, created_at FROM orders WHERE customer_id = %s "
     "ORDER BY created_at DESC LIMIT 20", lambda r, n: [r.randint(1, n["customers"])],
     300),
    ("SELECT count(*) FROM orders WHERE status = %s AND customer_id = %s",
     lambda r, n: ["pending", r.randint(1, n["customers"])], 200),
    ("SELECT id, amount FROM orders WHERE status = %s ORDER BY created_at DESC "
     "LIMIT 50", lambda r, n: ["pending"], 100),
    ("SELECT * FROM events WHERE entity_type = %s AND entity_id = %s "
     "ORDER BY created_at DESC LIMIT 10",
     lambda r, n: ["order", r.randint(1, n["orders"])], 300),
    ("SELECT e.id, e.action FROM events e JOIN orders o ON o.id = e.entity_id "
     "WHERE o.customer_id = %s AND e.entity_type = %s",
     lambda r, n: [r.randint(1, n["customers"]), "order"], 60),
    ("SELECT id, region FROM customers WHERE email = %s",
     lambda r, n: [f"user{r.randint(1, n['customers'])}@example.com"], 300),
    ("UPDATE orders SET amount = amount + 1 WHERE id = %s",
     lambda r, n: [r.randint(1, n["orders"])], 300),
    ("INSERT INTO events (id, entity_type, entity_id, action, created_at) "
     "VALUES (%s, 'order', %s, 'update', now())",
     lambda r, n: [n["next_event"](), r.randint(1, n["orders"])], 300),
]  # fmt: skip


@contextmanager
def server(dsn: str | None, log_dir: Path | None) -> Iterator[tuple[str, Path | None]]:
    if dsn:
        yield dsn, log_dir
        return
    pg_bin = system_bin_dir()
    if pg_bin is None:
        raise SystemExit("no system PostgreSQL (with hypopg) found; pass --dsn")
    with tempfile.TemporaryDirectory(prefix="pgwarden-bench-") as tmp:
        embedded = EmbeddedServer(Path(tmp) / "pg", pg_bin=pg_bin)
        embedded.start()
        try:
            yield embedded.dsn(), embedded.pgdata / LOG_DIRECTORY
        finally:
            embedded.stop()


def scratch(admin_dsn: str, name: str) -> str:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        ident = sql.Identifier(name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    dsn = make_conninfo(admin_dsn, dbname=name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
    return dsn


def run_workload(
    dsn: str, sizes: dict[str, Any], rounds: int, seed: int, logged: bool = False
) -> float:
    """Run the workload; its total execution time (ms) from pg_stat_statements.

    ``logged``: every statement goes to the server log with its parameters.
    """
    rng = random.Random(seed)
    plan = [(text, make) for text, make, times in WORKLOAD for _ in range(times)]
    with psycopg.connect(dsn, autocommit=True) as conn:
        if logged:
            conn.execute("SET log_min_duration_statement = 0")
        conn.execute("SELECT pg_stat_statements_reset()")
        for _ in range(rounds):
            rng.shuffle(plan)
            for text, make in plan:
                conn.execute(text, make(rng, sizes))
        row = conn.execute(
            "SELECT sum(total_exec_time) FROM pg_stat_statements s JOIN pg_database d "
            "ON d.oid = s.dbid WHERE d.datname = current_database() AND query !~* "
            "'pg_stat_statements|hypopg|EXPLAIN|PREPARE|DEALLOCATE|ANALYZE'"
        ).fetchone()
    assert row is not None
    return float(row[0])


def context(conn: psycopg.Connection[Any], repo_dsn: str | None = None) -> Context:
    settings = AdvisorSettings()
    return gather(conn, repo_dsn, "bench", settings)


def observe(admin_dsn: str, dsn: str, log_dir: Path | None) -> str | None:
    """Ingest the server log into a repository with the parameter value observer."""
    if log_dir is None or not log_dir.is_dir():
        print("parameter values: no server log directory, none observed")
        return None
    time.sleep(1.5)  # the logging collector flushes the last lines
    repo_dsn = scratch(admin_dsn, "pgwarden_bench_advisor_repo")
    with (
        pg.connect(repo_dsn, autocommit=False, statement_timeout_ms=None) as repo,
        pg.connect(dsn, statement_timeout_ms=None) as target,
    ):
        migrate(repo)
        repo.commit()
        repo.autocommit = True
        target_id = ensure_target(repo, "bench")
        done = ingest_server_log(repo, target_id, log_dir, observer=Observer(target))
        rows = repo.execute(
            "SELECT attname, value, sum(calls) FROM pgwarden.parameter_value "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
    kept = ", ".join(f"{a}={v!r} x{n}" for a, v, n in rows)
    print(f"parameter values: {done.records:,d} log records read; kept {kept}")
    return repo_dsn


def pgwarden_choice(conn: psycopg.Connection[Any], ctx: Context) -> list[Candidate]:
    options = Options(Budget(max_indexes=10, min_gain_pct=1.0, write_cost=1.0))
    advice = advise(conn, "bench", ctx.workload, ctx.tables, ctx.indexes, options,
                    keys=ctx.keys, observed=ctx.observed)  # fmt: skip
    for r in advice.recommendations:
        if r.candidate.where_column:
            print(f"           reasoning: {r.reasoning}")
    return [r.candidate for r in advice.recommendations]


def per_query_choice(conn: psycopg.Connection[Any], ctx: Context) -> list[Candidate]:
    """Dexter's approach: each statement alone, best 1-2 column index if >= 50 %."""
    columns = {n: t.columns for n, t in ctx.tables.items()}
    chosen: dict[Candidate, None] = {}
    with hypo.session(conn) as costing:
        for n, s in enumerate(ctx.workload.statements):
            p = parse(s.text, columns)
            if not p.parsed or p.command == "insert":
                continue
            base = costing.cost(n, s.text, frozenset())
            if not base:
                continue
            best: tuple[float, Candidate] | None = None
            for c in _per_query_candidates(p, ctx):
                cost = costing.cost(n, s.text, frozenset({c}))
                if cost is not None and (best is None or cost < best[0]):
                    best = (cost, c)
            if best is not None and best[0] <= base * 0.5:
                chosen.setdefault(best[1])
    return list(chosen)


def _per_query_candidates(p: Any, ctx: Context) -> Iterator[Candidate]:
    for name, access in p.tables.items():
        table = ctx.tables[name]
        used = [x.column for x in access.predicates] + list(access.join_keys)
        used += [c for c, _ in access.order_by]
        used = list(dict.fromkeys(used))
        for k in (1, 2):
            for combo in itertools.permutations(used, k):
                yield Candidate(table.schema, name, combo)


def applied(dsn: str, found: Sequence[Candidate]) -> tuple[int, list[str]]:
    """Create the indexes for real; their total bytes and names."""
    names = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for n, c in enumerate(found):
            name = f"bench_idx_{n}"
            stmt = (
                c.statement()
                .as_string(conn)
                .replace("CREATE INDEX ON", f'CREATE INDEX "{name}" ON', 1)
            )
            conn.execute(stmt)
            names.append(name)
        conn.execute("ANALYZE")
        row = conn.execute(
            "SELECT coalesce(sum(pg_relation_size(oid)), 0) FROM pg_class "
            "WHERE relname = ANY(%s)", [names],
        ).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0]), names


def dropped(dsn: str, names: Sequence[str]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))


def quality(
    admin: str, dsn: str, log_dir: Path | None, sizes: dict[str, Any], rounds: int
) -> None:
    run_workload(dsn, sizes, 1, seed=1)  # warm the cache
    base = run_workload(dsn, sizes, rounds, seed=2)
    # the statements the advisors read, logged with their parameters
    run_workload(dsn, sizes, 1, seed=3, logged=True)
    repo_dsn = observe(admin, dsn, log_dir)
    with pg.connect(dsn, statement_timeout_ms=None) as conn:
        ctx = context(conn, repo_dsn)
        started = time.monotonic()
        ours = pgwarden_choice(conn, ctx)
        ours_s = time.monotonic() - started
        started = time.monotonic()
        theirs = per_query_choice(conn, ctx)
        theirs_s = time.monotonic() - started
    print(f"workload: {len(WORKLOAD)} statement shapes, {rounds} round(s); "
          f"baseline time {base:.0f} ms (no new index)")  # fmt: skip
    rows = []
    for label, found, secs in (("pgwarden", ours, ours_s),
                               ("per-query", theirs, theirs_s)):  # fmt: skip
        size, names = applied(dsn, found)
        after = run_workload(dsn, sizes, rounds, seed=2)
        dropped(dsn, names)
        reduction = 100 * (base - after) / base
        rows.append((label, reduction, len(found), size))
        print(
            f"{label:10s} time {after:8.0f} ms  reduction {reduction:5.1f} %  "
            f"indexes {len(found):2d}  bytes {size:>10,d}  advised in {secs:.1f} s"
        )
        for c in found:
            print(f"           {c.ddl()}")
    (_, ours_r, _, ours_b), (_, base_r, _, base_b) = rows
    print(f"goal (reduction >= baseline's, bytes <= baseline's): "
          f"{'met' if ours_r >= base_r - 1 and ours_b <= base_b else 'not met'} "
          f"(reduction {ours_r:.1f} vs {base_r:.1f} %, bytes {ours_b:,d} vs "
          f"{base_b:,d})")  # fmt: skip


def speed(admin_dsn: str, statements: int) -> None:
    dsn = scratch(admin_dsn, "pgwarden_bench_advisor_speed")
    tables = 100
    cols = [f"c{i}" for i in range(10)]
    with psycopg.connect(dsn, autocommit=True) as conn:
        for t in range(tables):
            defs = ", ".join(f"{c} int" for c in cols)
            conn.execute(f"CREATE TABLE t{t} (id int PRIMARY KEY, {defs})")
            values = ", ".join(f"(g * {i + 7}) % {10 + i * 50}" for i in range(10))
            conn.execute(f"INSERT INTO t{t} SELECT g, {values} "
                         "FROM generate_series(1, 2000) g")  # fmt: skip
        conn.execute("ANALYZE")
        conn.execute("SELECT pg_stat_statements_reset()")
        shapes = list(itertools.permutations(cols, 3))
        random.Random(5).shuffle(shapes)
        for n in range(statements):
            a, b, c = shapes[n // tables]
            text = (f"SELECT id FROM t{n % tables} WHERE {a} = %s AND {b} > %s "
                    f"ORDER BY {c} LIMIT 5")  # fmt: skip
            conn.execute(text, [1, 2])
    with pg.connect(dsn, statement_timeout_ms=None) as conn:
        started = time.monotonic()
        ctx = context(conn)
        options = Options(Budget(max_indexes=10), max_statements=statements)
        advice = advise(conn, "bench", ctx.workload, ctx.tables, ctx.indexes, options)
        seconds = time.monotonic() - started
    print(
        f"speed: advised over {advice.statements} distinct statements "
        f"({advice.plans} plans, {len(advice.recommendations)} indexes) in "
        f"{seconds:.1f} s; goal <= 60 s: {'met' if seconds <= 60 else 'not met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--statements", type=int, default=1000)
    parser.add_argument("--dsn", help="A superuser DSN of a server with hypopg.")
    parser.add_argument("--log-dir", type=Path, help="Its server log directory.")
    parser.add_argument(
        "--no-observe", action="store_true",
        help="Give the advisor no observed parameter values (the old behaviour).",
    )  # fmt: skip
    args = parser.parse_args()
    counter = itertools.count(10_000_000)
    sizes: dict[str, Any] = {
        "orders": args.orders, "customers": max(args.orders // 10, 10),
        "events": args.orders * 2, "next_event": lambda: next(counter),
    }  # fmt: skip
    with server(args.dsn, args.log_dir) as (admin, log_dir):
        dsn = scratch(admin, "pgwarden_bench_advisor")
        with psycopg.connect(dsn, autocommit=True) as conn:
            started = time.monotonic()
            for statement in SCHEMA.format(**sizes).split(";"):
                if statement.strip():
                    conn.execute(statement)
            print(f"data: {args.orders:,d} orders, {sizes['events']:,d} events "
                  f"loaded in {time.monotonic() - started:.0f} s")  # fmt: skip
        quality(admin, dsn, None if args.no_observe else log_dir, sizes, args.rounds)
        speed(admin, args.statements)


if __name__ == "__main__":
    main()
