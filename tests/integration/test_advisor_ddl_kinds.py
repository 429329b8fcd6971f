"""Every DDL statement the advisors print runs, on every kind of relation.

One database holds a plain table, a partitioned table with a sub-partitioned
partition, a partition queried on its own, a materialized view and a foreign
table, all under quoted names (a schema with a quote and a space, mixed case,
a reserved word). The index advice and the index health findings are read, and
each statement they print is run on its own in autocommit, as a user would.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from psycopg import sql

from pgwarden import pg
from pgwarden.advise.findings import Rel, derived_name, index_steps
from pgwarden.advise.health import index_health
from pgwarden.advise.indexes.run import run
from pgwarden.config import Settings

SCHEMA = 'Odd "Sch" ema'
ITEMS, EVENTS, TOTALS, REMOTE = "Order Items", "Events", "Tenant Totals", "Remote"
OLD = "Events 2024"


def _q(*names: str) -> str:
    return sql.Identifier(*names).as_string(None)


def _setup(dsn: str) -> bool:
    """The relations of every kind; True when hypopg verifies the advice."""
    s = _q(SCHEMA)
    statements = [
        "CREATE EXTENSION IF NOT EXISTS file_fdw",
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        "CREATE SERVER files FOREIGN DATA WRAPPER file_fdw",
        f"CREATE SCHEMA {s}",
        f'CREATE TABLE {s}."Accounts" (id int PRIMARY KEY)',
        f'INSERT INTO {s}."Accounts" SELECT generate_series(0, 99)',
        f'CREATE TABLE {s}.{_q(ITEMS)} (id bigint PRIMARY KEY, "Tenant Id" int, '
        '"select" text)',
        f"INSERT INTO {s}.{_q(ITEMS)} SELECT g, g % 2000, 'x' "
        "FROM generate_series(1, 20000) g",
        f'CREATE TABLE {s}.{_q(EVENTS)} (id bigint, "Tenant Id" int, "createdAt" '
        'date, kind text, note text, "accountId" int REFERENCES '
        f'{s}."Accounts") PARTITION BY RANGE ("createdAt")',
        f"CREATE TABLE {s}.{_q(OLD)} PARTITION OF {s}.{_q(EVENTS)} "
        "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
        f'CREATE TABLE {s}."Events 2025" PARTITION OF {s}.{_q(EVENTS)} '
        "FOR VALUES FROM ('2025-01-01') TO ('2026-01-01') PARTITION BY LIST (kind)",
        f'CREATE TABLE {s}."Events 2025 a" PARTITION OF {s}."Events 2025" '
        "FOR VALUES IN ('a')",
        f'CREATE TABLE {s}."Events 2025 rest" PARTITION OF {s}."Events 2025" DEFAULT',
        f"INSERT INTO {s}.{_q(EVENTS)} SELECT g, g % 2000, date '2024-01-01' + "
        "(g % 700), CASE WHEN g % 3 = 0 THEN 'a' ELSE 'b' END, md5(g::text), g % 100 "
        "FROM generate_series(1, 30000) g",
        f'CREATE MATERIALIZED VIEW {s}.{_q(TOTALS)} AS SELECT id, "Tenant Id" '
        f"FROM {s}.{_q(ITEMS)}",
        f'CREATE FOREIGN TABLE {s}.{_q(REMOTE)} ("Tenant Id" int) '
        "SERVER files OPTIONS (program 'seq 0 2999')",
    ]
    with pg.connect(dsn, statement_timeout_ms=None) as conn:
        for text in statements:
            conn.execute(text)
        hypopg = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'"
        ).fetchone()
        if hypopg:  # verified advice where the server has it (PostgreSQL 15 here)
            conn.execute("CREATE EXTENSION hypopg")
        conn.execute("ANALYZE")
        conn.execute("SELECT pg_stat_statements_reset()")
    return hypopg is not None


def _workload(dsn: str) -> None:
    s = _q(SCHEMA)
    queries = [
        f'SELECT * FROM {s}.{_q(ITEMS)} WHERE "Tenant Id" = %s',
        f'SELECT * FROM {s}.{_q(EVENTS)} WHERE "Tenant Id" = %s',
        f"SELECT * FROM {s}.{_q(OLD)} WHERE id = %s",
        f'SELECT * FROM {s}.{_q(TOTALS)} WHERE "Tenant Id" = %s',
        f'SELECT * FROM {s}.{_q(REMOTE)} WHERE "Tenant Id" = %s',
        f"SELECT id FROM {s}.{_q(EVENTS)} WHERE note LIKE %s",
    ]
    with pg.connect(dsn, workload=True) as conn:
        for n in range(30):
            for text in queries:
                value = f"%{n:02d}ab%" if "LIKE" in text else n * 7
                conn.execute(text, [value]).fetchall()


def _run_all(dsn: str, statements: list[str]) -> None:
    """Each statement on its own, outside a transaction block."""
    with pg.connect(dsn, statement_timeout_ms=None, autocommit=True) as conn:
        for text in statements:
            conn.execute(text)


def _indexes(dsn: str) -> dict[str, bool]:
    with pg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c "
            "ON c.oid = i.indexrelid WHERE c.relnamespace = %s::regnamespace",
            [_q(SCHEMA)],
        ).fetchall()
    return {r[0]: r[1] for r in rows}


def _by_table(advice: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The B-tree recommendation of each table."""
    return {r["table"]: r for r in advice["recommendations"] if r["method"] == "btree"}


def test_advice_and_health_ddl_run_on_every_kind(empty_dsn: str) -> None:
    verified = _setup(empty_dsn)
    _workload(empty_dsn)
    locked = run(Settings(), empty_dsn, None, allow_lock=True).as_dict()
    advice = run(Settings(), empty_dsn, None).as_dict()
    assert advice["mode"] == ("hypopg" if verified else "heuristic")
    recs = _by_table(advice)
    assert {ITEMS, EVENTS, OLD, TOTALS} <= set(recs), advice
    assert REMOTE not in recs
    assert any(
        n.startswith("skipped foreign table") and '"Remote"' in n
        for n in advice["notes"]
    ), advice["notes"]
    parent = recs[EVENTS]
    assert parent["table_kind"] == "p"
    steps = parent["ddl_statements"]
    assert " ON ONLY " in steps[0] and "CONCURRENTLY" not in steps[0]
    assert sum("ATTACH PARTITION" in t for t in steps) == 4  # 2 + 2 below "2025"
    assert parent["ddl"] == "\n".join(steps)
    assert "partition" in parent["ddl_note"] and parent["ddl_note"] in parent[
        "reasoning"]  # fmt: skip
    assert "lack it" in recs[OLD]["ddl_note"]
    assert recs[TOTALS]["table_kind"] == "m" and recs[TOTALS]["ddl"].startswith(
        "CREATE INDEX CONCURRENTLY"
    )
    assert recs[ITEMS]["ddl_statements"] == [recs[ITEMS]["ddl"]]
    gin = [r for r in advice["recommendations"] if r["method"] == "gin"]
    assert gin and gin[0]["table"] == EVENTS and gin[0]["table_kind"] == "p"
    assert "USING gin" in gin[0]["ddl_statements"][0] and " ON ONLY " in gin[0]["ddl"]
    plain = _by_table(locked)[EVENTS]["ddl_statements"]
    assert len(plain) == 1 and "CONCURRENTLY" not in plain[0]
    assert " ON ONLY " not in plain[0]

    _run_all(empty_dsn, plain)  # the locking variant runs, then goes again
    name = parent["ddl_statements"][0].split(" IF NOT EXISTS ")[1].split(" ON ")[0]
    _run_all(empty_dsn, [f"DROP INDEX {_q(SCHEMA)}.{name}"])
    for rec in advice["recommendations"]:
        _run_all(empty_dsn, rec["ddl_statements"])
    made = _indexes(empty_dsn)
    assert all(made.values()), made  # the partitioned index is valid: all attached
    assert name.strip('"') in made

    with pg.connect(empty_dsn) as conn:
        health = index_health(conn, None, "t", Settings(), datetime.now(UTC))
    printed = [f for f in health.findings if f.ddl]
    fk = [f for f in health.findings if f.kind == "fk_without_index"]
    assert [f.table for f in fk] == [EVENTS]  # not again for each partition
    assert " ON ONLY " in (fk[0].ddl or "")
    attached = [
        f for f in health.findings if f.index and f.index.startswith(name.strip('"'))
        and f.table != EVENTS and f.kind == "unused"
    ]  # fmt: skip
    assert attached and all(f.ddl is None for f in attached)
    assert all("cannot be dropped alone" in f.recommendation for f in attached)
    for f in printed:
        _run_all(empty_dsn, (f.ddl or "").splitlines())
    assert all(_indexes(empty_dsn).values())


def test_partitioned_tree_with_a_foreign_partition_indexes_the_others(
    empty_dsn: str,
) -> None:
    with pg.connect(empty_dsn, statement_timeout_ms=None) as conn:
        conn.execute("CREATE EXTENSION file_fdw")
        conn.execute("CREATE SERVER f FOREIGN DATA WRAPPER file_fdw")
        conn.execute('CREATE TABLE "P" (n int) PARTITION BY RANGE (n)')
        conn.execute('CREATE TABLE "P1" PARTITION OF "P" FOR VALUES FROM (0) TO (9)')
        conn.execute(
            'CREATE FOREIGN TABLE "P2" PARTITION OF "P" FOR VALUES FROM (9) TO (99) '
            "SERVER f OPTIONS (program 'echo 1')"
        )
    tree = Rel(
        "public", "P", "p",
        (Rel("public", "P1", "r", (), ("public", "P")),
         Rel("public", "P2", "f", (), ("public", "P"))),
    )  # fmt: skip
    steps, note = index_steps(tree, "P_n_idx", '("n")')
    assert len(steps) == 1 and '"P1"' in steps[0] and note and "foreign" in note
    _run_all(empty_dsn, steps)
    locked, why = index_steps(tree, "P_n_idx", '("n")', allow_lock=True)
    assert why and "blocks writes" in why
    _run_all(empty_dsn, locked)
    assert all(_indexes_public(empty_dsn).values())


def _indexes_public(dsn: str) -> dict[str, bool]:
    with pg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c "
            "ON c.oid = i.indexrelid WHERE c.relnamespace = 'public'::regnamespace"
        ).fetchall()
    return {r[0]: r[1] for r in rows}


@given(st.lists(st.text(min_size=1, max_size=80), min_size=1, max_size=4))
def test_derived_names_fit_and_stay_distinct(parts: list[str]) -> None:
    name = derived_name(*parts)
    assert 0 < len(name.encode()) <= 63
    longer = derived_name(*parts, "x" * 70)
    assert longer != derived_name(*parts, "y" * 70)
