"""Accuracy of pgwarden's catalog bloat estimate against pgstattuple / pgstatindex.

Builds tables and btree indexes with known bloat in a scratch database — fresh; 20,
50 and 80 % of rows deleted (then VACUUM); narrow and wide rows; NULL-heavy columns;
TOASTed text; deduplicated btrees on low-cardinality keys — runs ``ANALYZE``, then
compares pgwarden's estimate (``pgwarden.advise.health.bloat``) with the exact
figure read by pgstattuple (tables) and pgstatindex (indexes), put through the same
definition (the share a rebuild would give back).

Goal: mean absolute error <= 5 percentage points; no fresh relation flagged (estimate
above ``index_health.bloat_pct``, 20 %).

    python bench/bloat_accuracy.py [--rows 100000] [--dsn DSN]

Without ``--dsn`` it starts an embedded PostgreSQL 18 in a temporary directory.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from pgwarden import pg
from pgwarden.advise.health import bloat
from pgwarden.embedded import EmbeddedServer

THRESHOLD = 20.0

SHAPES = {
    "narrow": (
        "id int PRIMARY KEY, v int NOT NULL, at timestamptz NOT NULL",
        "SELECT g, (g * 7919) % 100003, now() - g * interval '1 s' "
        "FROM generate_series(1, {rows}) g",
        ["v"],
    ),
    "wide": (
        "id bigint PRIMARY KEY, name text NOT NULL, email text, score float8, "
        "flag bool, note varchar(200), created timestamptz",
        "SELECT g, 'name-' || md5(g::text), md5(g::text) || '@example.com', g / 3.0, "
        "g % 2 = 0, repeat(md5((g * 3)::text), 4), now() "
        "FROM generate_series(1, {rows}) g",
        ["email", "created, score"],
    ),
    "nulls": (
        "id int PRIMARY KEY, a int, b text, c bigint, d timestamptz",
        "SELECT g, CASE WHEN g % 10 = 0 THEN g END, "
        "CASE WHEN g % 5 = 0 THEN md5(g::text) END, "
        "CASE WHEN g % 4 = 0 THEN g END, CASE WHEN g % 3 = 0 THEN now() END "
        "FROM generate_series(1, {rows}) g",
        ["a", "b"],
    ),
    "toast": (
        "id int PRIMARY KEY, title text NOT NULL, body text NOT NULL",
        "SELECT g, 'title ' || g, (SELECT string_agg(md5((g * 100 + k)::text), '') "
        "FROM generate_series(1, 80) k) FROM generate_series(1, {rows} / 10) g",
        ["title"],
    ),
    "dedup": (
        "id int PRIMARY KEY, tenant int NOT NULL, status text NOT NULL",
        "SELECT g, g % 97, (ARRAY['open','closed','draft'])[1 + g % 3] "
        "FROM generate_series(1, {rows}) g",
        ["tenant", "status", "tenant, status"],
    ),
}
DELETED = (0, 20, 50, 80)


def build(conn: psycopg.Connection[object], rows: int) -> list[tuple[str, int]]:
    """Every shape at every deleted share; returns (table name, deleted %)."""
    made = []
    for shape, (columns, fill, indexes) in SHAPES.items():
        for pct in DELETED:
            name = f"{shape}_{pct}"
            table = sql.Identifier(name)
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
            conn.execute(sql.SQL(f"CREATE TABLE {{}} ({columns})").format(table))
            conn.execute(
                sql.SQL("INSERT INTO {} ").format(table)
                + sql.SQL(fill).format(rows=sql.Literal(rows))
            )
            for n, cols in enumerate(indexes):
                idx = sql.Identifier(f"{name}_i{n}")
                conn.execute(
                    sql.SQL(f"CREATE INDEX {{}} ON {{}} ({cols})").format(idx, table)
                )
            if pct:
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE (id * 7919) %% 100 < %s").format(
                        table
                    ),
                    [pct],
                )
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(table))
            made.append((name, pct))
    return made


def compare(conn: psycopg.Connection[object], made: list[tuple[str, int]]) -> None:
    names = {name: pct for name, pct in made}
    found = [e for e in bloat.gather_bloat(conn) if e.table in names]
    rows = []
    for estimate in found:
        confirmed = bloat.confirm(conn, estimate, 60.0)
        rows.append((confirmed, names[estimate.table]))
    header = f"{'relation':<22} {'kind':<6} {'deleted':>7} {'estimated':>9} "
    header += f"{'measured':>9} {'error':>6}"
    print(header)
    print("-" * len(header))
    errors, flagged = [], []
    for e, pct in sorted(rows, key=lambda r: (r[0].table, r[0].kind, r[0].relation)):
        est, meas = e.bloat_pct, e.measured_pct
        if est is None or meas is None:
            print(f"{e.relation:<22} {e.kind:<6} {pct:>6}% {'-':>9} {'-':>9}  {e.note}")
            continue
        errors.append(abs(est - meas))
        if pct == 0 and est > THRESHOLD:
            flagged.append(e.relation)
        print(f"{e.relation:<22} {e.kind:<6} {pct:>6}% {est:>8.1f}% {meas:>8.1f}% "
              f"{est - meas:>+6.1f}")  # fmt: skip
    print()
    mae = statistics.fmean(errors) if errors else float("nan")
    worst = max(errors) if errors else float("nan")
    print(f"relations compared: {len(errors)}")
    print(f"mean absolute error: {mae:.2f} percentage points (goal <= 5); "
          f"largest {worst:.1f}")  # fmt: skip
    print(f"fresh relations flagged above {THRESHOLD:g} %: {len(flagged)} "
          f"{', '.join(flagged)}")  # fmt: skip


@contextmanager
def server(dsn: str | None) -> Iterator[str]:
    if dsn is not None:
        yield dsn
        return
    with tempfile.TemporaryDirectory() as tmp:
        embedded = EmbeddedServer(Path(tmp) / "server")
        embedded.start()
        try:
            yield embedded.dsn()
        finally:
            embedded.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dsn", help="an existing server (superuser)")
    args = parser.parse_args()
    with server(args.dsn) as admin:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS bloat_bench")
            conn.execute("CREATE DATABASE bloat_bench")
        dsn = psycopg.conninfo.make_conninfo(admin, dbname="bloat_bench")
        with pg.connect(dsn, statement_timeout_ms=None) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
            print(f"PostgreSQL {pg.server_version_num(conn)}, {args.rows} rows a table")
            made = build(conn, args.rows)
            compare(conn, made)


if __name__ == "__main__":
    main()
