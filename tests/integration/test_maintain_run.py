"""Maintenance on a real server: bloat found, VACUUM FULL in and out of the window,
privileges, hostile names, the CLI and the scheduled entry point."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from pgwarden import pg
from pgwarden.config import Settings, load_settings
from pgwarden.maintain import run_cycle, run_scheduled
from pgwarden.maintain.cycle import plan_now, stale_tables
from pgwarden.maintain.store import history, target_id
from pgwarden.repository import migrate
from tests.cli_helpers import pgwarden
from tests.conftest import TestServer

HOSTILE = 'Bloat "Q" t'


def settings(inside: bool = True, **maintenance: Any) -> Settings:
    """Settings whose maintenance window is open now (or closed now)."""
    now = datetime.now(UTC)
    start = now - timedelta(hours=1) if inside else now + timedelta(hours=2)
    m = {"window_start": f"{start:%H:%M}",
         "window_end": f"{start + timedelta(hours=2):%H:%M}",
         "vacuum_full_min_bytes": 0, "reindex_min_bytes": 0, **maintenance}  # fmt: skip
    return load_settings(overrides={"timezone": "UTC", "maintenance": m})


def window_env(inside: bool = True, **extra: str) -> dict[str, str]:
    s = settings(inside).maintenance
    env = {"PGWARDEN_TIMEZONE": "UTC",
           "PGWARDEN_MAINTENANCE__WINDOW_START": s.window_start,
           "PGWARDEN_MAINTENANCE__WINDOW_END": s.window_end,
           "PGWARDEN_MAINTENANCE__VACUUM_FULL_MIN_BYTES": "0"}  # fmt: skip
    return {**env, **extra}


def bloated(dsn: str, name: str = HOSTILE, rows: int = 40_000) -> None:
    """A table whose updates and deletes left most of it dead or free."""
    table = sql.Identifier(name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrate(conn)
        conn.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
        # autovacuum off: the test decides what is due, not autovacuum's timing
        conn.execute(sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, payload text) "
                             "WITH (autovacuum_enabled = false)")
                     .format(table))  # fmt: skip
        fill = sql.SQL("INSERT INTO {} SELECT g, repeat(md5(g::text), 3) "
                       "FROM generate_series(1, %s) g").format(table)  # fmt: skip
        conn.execute(fill, [rows])
        conn.execute(sql.SQL("ANALYZE {}").format(table))
        conn.execute(sql.SQL("UPDATE {} SET payload = payload || 'x' "
                             "WHERE id % 4 <> 0").format(table))  # fmt: skip
        conn.execute(sql.SQL("DELETE FROM {} WHERE id % 2 = 0").format(table))


def size(dsn: str, name: str = HOSTILE) -> int:
    with psycopg.connect(dsn) as conn:
        quoted = sql.Identifier(name).as_string(conn)
        row = conn.execute("SELECT pg_relation_size(%s::regclass)", [quoted]).fetchone()
    assert row is not None
    return int(row[0])


def runs(dsn: str) -> list[Any]:
    with pg.connect(dsn) as conn:
        found = target_id(conn, pg.describe(dsn), create=False)
        assert found is not None
        return history(conn, found, datetime.now(UTC) - timedelta(days=1))


def test_real_bloat_is_found_and_vacuum_full_in_the_window_shrinks_it(
    empty_dsn: str,
) -> None:
    bloated(empty_dsn)
    s = settings(inside=True)
    with pg.connect(empty_dsn) as conn:
        found = target_id(conn, pg.describe(empty_dsn))
        assert found is not None
        items, _ = plan_now(s, conn, conn, found, datetime.now(UTC))
    full = next(i for i in items if i.table == HOSTILE and i.operation == "vacuum_full")
    assert full.due, full.reason
    assert "heavily updated" in full.reason and "(pgstattuple" in full.reason
    before = size(empty_dsn)
    cycle = run_cycle(s, empty_dsn, empty_dsn, tables=[HOSTILE])
    done = {o.item.operation: o for o in cycle.outcomes}
    assert done["vacuum_full"].status == "ok", done["vacuum_full"].error
    assert size(empty_dsn) < before / 2
    assert "vacuum" not in done  # covered by VACUUM FULL
    assert done["analyze"].status == "ok"
    recorded = {r.operation: r for r in runs(empty_dsn)}
    full_run = recorded["vacuum_full"]
    assert (full_run.status, full_run.trigger) == ("ok", "manual")
    assert full_run.size_after is not None and full_run.size_before is not None
    assert full_run.size_after < full_run.size_before
    assert full_run.live_rows_before is not None and full_run.finished_at is not None
    assert cycle.stale == []


def test_vacuum_full_outside_the_window_is_refused(empty_dsn: str) -> None:
    bloated(empty_dsn)
    s = settings(inside=False)
    before = size(empty_dsn)
    cycle = run_cycle(s, empty_dsn, empty_dsn, tables=[HOSTILE])
    assert "vacuum_full" not in {o.item.operation for o in cycle.outcomes}
    forced = run_cycle(s, empty_dsn, empty_dsn, tables=[HOSTILE],
                       operations=["vacuum_full"])  # fmt: skip
    [refused] = forced.outcomes
    assert refused.status == "skipped"
    assert refused.reason.startswith("refused: outside the maintenance window")
    assert size(empty_dsn) == before
    anyway = run_cycle(s, empty_dsn, empty_dsn, tables=[HOSTILE],
                       operations=["vacuum_full"], force_window=True)  # fmt: skip
    assert anyway.outcomes[0].status == "ok"
    assert size(empty_dsn) < before


def test_scheduled_cycle_leaves_no_stale_statistics(demo_dsn: str) -> None:
    with psycopg.connect(demo_dsn, autocommit=True) as conn:
        migrate(conn)
        conn.execute('UPDATE "User" SET "updatedAt" = now()')
    summary = run_scheduled(settings(inside=False), demo_dsn, demo_dsn)
    assert summary.startswith(f"maintenance of {pg.describe(demo_dsn)}: ")
    assert summary.endswith("stale statistics: 0 table(s)")
    recorded = runs(demo_dsn)
    assert {r.trigger for r in recorded} == {"schedule"}
    assert any(r.table_name == "User" and r.operation == "analyze" for r in recorded)
    with pg.connect(demo_dsn) as conn:
        assert stale_tables(conn, settings()) == []


@pytest.mark.slow
def test_cli_plan_run_history_with_a_hostile_name(empty_dsn: str) -> None:
    bloated(empty_dsn)
    env = window_env(inside=True)
    planned = pgwarden(
        "--dsn", empty_dsn, "maintain", "plan", "--format", "json", **env
    )
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    assert plan["window"]["open"] is True
    assert any(i["table"] == HOSTILE and i["operation"] == "vacuum_full"
               for i in plan["items"])  # fmt: skip
    dry = pgwarden("--dsn", empty_dsn, "maintain", "run", "--dry-run", "--format",
                   "json", **env)  # fmt: skip
    assert dry.returncode == 0 and json.loads(dry.stdout)["would_run"]
    assert runs(empty_dsn) == []
    done = pgwarden("--dsn", empty_dsn, "maintain", "run", "--table", HOSTILE,
                    "--format", "json", **env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    statuses = {r["operation"]: r["status"] for r in json.loads(done.stdout)["runs"]}
    assert statuses["vacuum_full"] == "ok"
    shown = pgwarden("--dsn", empty_dsn, "maintain", "history", "--since", "1h",
                     "--format", "json")  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert {r["table_name"] for r in json.loads(shown.stdout)} == {HOSTILE}


@pytest.mark.slow
def test_cli_usage_and_unreachable_target(empty_dsn: str) -> None:
    bad = pgwarden("--dsn", empty_dsn, "maintain", "run", "--operation", "defrag")
    assert bad.returncode == 2 and "--operation: 'defrag'" in bad.stderr
    gone = pgwarden("--dsn", "host=127.0.0.1 port=1 dbname=x connect_timeout=2",
                    "maintain", "plan")  # fmt: skip
    assert gone.returncode == 3 and "cannot connect" in gone.stderr
    bare = pgwarden("--dsn", empty_dsn, "maintain", "plan")
    assert bare.returncode == 3 and "pgwarden init" in bare.stderr


@pytest.mark.slow
def test_table_the_role_may_not_maintain_fails_and_the_next_one_runs(
    empty_dsn: str, pg_server: TestServer
) -> None:
    role = f"maint_{pg_server.name}"
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        migrate(conn)
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw'").format(
            sql.Identifier(role)))  # fmt: skip
        off = "WITH (autovacuum_enabled = false)"  # nothing covers them but us
        conn.execute(f'CREATE TABLE "Theirs" (id int) {off}')
        conn.execute('INSERT INTO "Theirs" SELECT generate_series(1, 500)')
        conn.execute(sql.SQL(f'CREATE TABLE "Mine" (id int) {off}; ALTER TABLE "Mine" '
                             "OWNER TO {}").format(sql.Identifier(role)))  # fmt: skip
        conn.execute('INSERT INTO "Mine" SELECT generate_series(1, 500)')
    as_role = make_conninfo(empty_dsn, user=role, password="pw")
    try:
        result = pgwarden("--dsn", as_role, "--repository-dsn", empty_dsn, "maintain",
                          "run", "--format", "json")  # fmt: skip
        assert result.returncode == 3, result.stderr
        rows = {r["table"]: r for r in json.loads(result.stdout)["runs"]}
        assert rows["Theirs"]["status"] == "failed"
        assert "is not the owner of public.Theirs" in rows["Theirs"]["reason"]
        assert rows["Mine"]["status"] == "ok"
    finally:
        with psycopg.connect(pg_server.admin_dsn, autocommit=True) as conn:
            pg_server.drop(str(psycopg.conninfo.conninfo_to_dict(empty_dsn)["dbname"]))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_reindex_concurrently_of_a_bloated_index(empty_dsn: str) -> None:
    bloated(empty_dsn, "Idx", rows=40_000)
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute('CREATE INDEX "Idx payload" ON "Idx" (payload)')
        conn.execute('DELETE FROM "Idx" WHERE id % 8 <> 1')
        conn.execute('VACUUM "Idx"')
    s = settings(reindex_bloat_pct=20)
    cycle = run_cycle(s, empty_dsn, empty_dsn, tables=["Idx"], operations=["reindex"])
    done = {o.item.index: o for o in cycle.outcomes}
    assert done["Idx payload"].status == "ok", done["Idx payload"].error
    assert done["Idx payload"].reason.startswith("REINDEX INDEX CONCURRENTLY: ")
    assert "bloat (pgstatindex)" in done["Idx payload"].reason
    assert (
        done["Idx payload"].after["size_bytes"]
        < done["Idx payload"].before["size_bytes"]
    )


def test_table_detected_hot_from_collected_history(empty_dsn: str) -> None:
    with pg.connect(empty_dsn) as conn:
        migrate(conn)
        conn.execute('CREATE TABLE "Busy" (id int)')
        conn.execute('INSERT INTO "Busy" SELECT generate_series(1, 100)')
        conn.execute('ANALYZE "Busy"')
        found = target_id(conn, pg.describe(empty_dsn))
        conn.execute(
            "INSERT INTO pgwarden.table_current (target_id, ts, interval_s, relid, "
            "n_tup_ins, n_tup_upd, n_tup_del) VALUES (%s, now() - interval '1 minute',"
            " 60, '\"Busy\"'::regclass::oid, 1000, 400, 100)",
            [found],
        )
        assert found is not None
        items, _ = plan_now(settings(), conn, conn, found, datetime.now(UTC))
    [analyze] = [i for i in items if i.table == "Busy" and i.operation == "analyze"]
    assert "hot table (detected: 90,000 modifications/hour)" in analyze.reason
