"""The dashboard of a fleet: the Fleet page and /metrics at 200 targets.

Builds one collected target (the reference app at scale tiny, two collector
cycles around some load) in a repository on an embedded server, then copies its
history to N-1 more registered targets with SQL (every ``pgwarden`` table with a
``target_id``). Serves the app of the fleet in process and times, against the
single-target Overview's API measured in the same run:

- ``GET /api/admin/fleet`` (one row per target): the first answer (every
  target's figures read) and then N requests (served from the rows kept for a
  refresh interval), p50 and p95; the goal is p95 under 300 ms;
- ``GET /api/admin/performance-metrics?target=NAME`` of one target (the peer);
- the first request for a target not asked for before (its app is built);
- ``GET /metrics`` of every target (the first scrape and the next, within the
  time a target's series are kept), against ``/metrics?target=NAME``.

    python bench/fleet_web.py [--targets 200] [--requests 50]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient
from psycopg import sql

from pgwarden import pg
from pgwarden.collect import collect_once
from pgwarden.config import Settings
from pgwarden.demo.data import load as load_demo
from pgwarden.embedded import EmbeddedServer
from pgwarden.repository import migrate, targets
from pgwarden.web import create_app

TOKEN = "bench-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GOAL_MS = 300.0
TABLES = """
SELECT c.oid::regclass::text AS name,
       array_agg(a.attname::text ORDER BY a.attnum) AS columns
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'pgwarden'
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     AND a.attidentity = '' AND a.attgenerated = ''
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname <> 'target'
GROUP BY c.oid
HAVING bool_or(a.attname = 'target_id')
"""


def one_target(dsn: str) -> int:
    """The reference app, collected twice around some load, as target t000."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        load_demo(conn, "tiny")
    with pg.connect(dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
    with pg.connect(dsn, statement_timeout_ms=None) as conn:
        found = targets.resolve(conn, conn, pg.describe(dsn))
        assert found is not None
        conn.execute("UPDATE pgwarden.target SET name = 't000', dsn = %s, "
                     "group_name = 'g0' WHERE id = %s", [dsn, found.id])  # fmt: skip
        collect_once(conn, conn, "t000")
        for n in range(200):
            conn.execute('SELECT count(*) FROM "Assessment" WHERE id = %s', [n])
        collect_once(conn, conn, "t000")
    return found.id


def copy_history(dsn: str, source: int, count: int) -> None:
    """Targets t001.. registered with t000's DSN and a copy of its history."""
    with pg.connect(dsn, statement_timeout_ms=None) as conn:
        ids = [
            int(row[0])
            for row in conn.execute(
                "INSERT INTO pgwarden.target (name, dsn, group_name) "
                "SELECT format('t%%s', lpad(g::text, 3, '0')), %s, "
                "'g' || (g %% 4) FROM generate_series(1, %s) g RETURNING id",
                [dsn, count],
            )
        ]
        for name, columns in conn.execute(TABLES).fetchall():
            picked = [
                sql.SQL("new.id") if c == "target_id" else sql.Identifier("t", c)
                for c in columns
            ]
            query = sql.SQL(
                "INSERT INTO {} ({}) SELECT {} FROM {} t "
                "CROSS JOIN unnest(%s::bigint[]) AS new(id) WHERE t.target_id = %s"
            ).format(
                sql.SQL(name), sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join(picked), sql.SQL(name),
            )  # fmt: skip
            try:
                with conn.transaction():
                    conn.execute(query, [ids, source])
            except psycopg.Error as exc:
                print(f"  not copied: {name}: {str(exc).splitlines()[0]}")


def timed(http: TestClient, path: str) -> float:
    started = time.perf_counter()
    response = http.get(path, headers=AUTH)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (path, response.status_code, response.text)
    return elapsed


def p95(times: list[float]) -> float:
    return sorted(times)[max(0, int(len(times) * 0.95) - 1)]


def run(dsn: str, args: argparse.Namespace) -> None:
    source = one_target(dsn)
    copy_history(dsn, source, args.targets - 1)
    app = create_app(Settings(), dsn, "t000", TOKEN, target_dsn=dsn, fleet=True)
    with TestClient(app) as http:
        cold = timed(http, "/api/admin/fleet")
        rows = http.get("/api/admin/fleet", headers=AUTH).json()["targets"]
        assert len(rows) == args.targets, len(rows)
        warm = [timed(http, "/api/admin/fleet") for _ in range(args.requests)]
        timed(http, "/api/admin/performance-metrics?target=t001")
        peer = [
            timed(http, "/api/admin/performance-metrics?target=t001")
            for _ in range(args.requests)
        ]
        first = [timed(http, f"/api/admin/session?target=t{n:03d}")
                 for n in range(2, 22)]  # fmt: skip
        scrape_all = timed(http, "/metrics")
        scrape_again = timed(http, "/metrics")
        scrape_one = statistics.median(
            timed(http, "/metrics?target=t001") for _ in range(5)
        )
    print(f"\n{args.targets} targets, {args.requests} requests per resource (ms)")
    print(f"{'resource':52} {'p50':>8} {'p95':>8} {'ratio':>7}")
    peer50, peer95 = statistics.median(peer), p95(peer)
    lines = [
        ("performance-metrics of one target (peer)", peer50, peer95, 1.0),
        ("/api/admin/fleet, every target's row", statistics.median(warm), p95(warm),
         p95(warm) / peer95),
        ("/api/admin/fleet, first answer (rows read)", cold, cold, cold / peer95),
        ("first request for a target (its app built)", statistics.median(first),
         p95(first), p95(first) / peer95),
        ("/metrics?target=NAME, one target", scrape_one, scrape_one, 1.0),
        ("/metrics, every target (first scrape)", scrape_all, scrape_all,
         scrape_all / scrape_one),
        ("/metrics, every target (next scrape)", scrape_again, scrape_again,
         scrape_again / scrape_one),
    ]  # fmt: skip
    for what, p50_ms, p95_ms, ratio in lines:
        print(f"{what:52} {p50_ms:8.1f} {p95_ms:8.1f} {ratio:7.2f}")
    verdict = "met" if p95(warm) < GOAL_MS else "MISSED"
    print(f"\nfleet page p95 {p95(warm):.1f} ms: goal < {GOAL_MS:.0f} ms {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pgwarden-bench-") as tmp:
        server = EmbeddedServer(Path(tmp) / "server")
        server.start()
        try:
            with psycopg.connect(server.dsn(), autocommit=True) as conn:
                conn.execute("CREATE DATABASE fleet_web")
            dsn = psycopg.conninfo.make_conninfo(server.dsn(), dbname="fleet_web")
            run(dsn, args)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
