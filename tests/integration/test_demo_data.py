"""Loading the reference application's data: shape, realism, planted problems."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from pgwarden.demo import PLANTED_PROBLEMS, REFERENCE_TABLES, load
from pgwarden.demo.schema import reference_tables_present
from pgwarden.errors import ConfigurationError, DemoDataExists

# Indexes as (table, index, key columns, unique, has expressions or predicate).
INDEXES = """
SELECT t.relname, i.relname, ARRAY(
        SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY AS k (attnum, n)
        JOIN pg_attribute AS a ON a.attrelid = t.oid AND a.attnum = k.attnum
        ORDER BY k.n)::text[],
    x.indisunique, x.indexprs IS NOT NULL OR x.indpred IS NOT NULL,
    x.indkey::text, x.indclass::text
FROM pg_index AS x
JOIN pg_class AS i ON i.oid = x.indexrelid
JOIN pg_class AS t ON t.oid = x.indrelid
JOIN pg_namespace AS n ON n.oid = t.relnamespace
WHERE n.nspname = %s
"""

# Foreign keys with no index whose leading columns are the key's columns.
UNINDEXED_FKS = """
SELECT t.relname, ARRAY(SELECT a.attname FROM unnest(c.conkey) AS k (attnum)
    JOIN pg_attribute AS a ON a.attrelid = t.oid AND a.attnum = k.attnum)::text[]
FROM pg_constraint AS c
JOIN pg_class AS t ON t.oid = c.conrelid
JOIN pg_namespace AS n ON n.oid = t.relnamespace
WHERE c.contype = 'f' AND n.nspname = 'public' AND NOT EXISTS (
    SELECT 1 FROM pg_index AS x WHERE x.indrelid = c.conrelid
    AND (x.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
    AND (x.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey)
"""


def _indexes(conn: psycopg.Connection[Any], schema: str = "public") -> list[Any]:
    return conn.execute(INDEXES, (schema,)).fetchall()


def _scalar(conn: psycopg.Connection[Any], query: str) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def test_tiny_has_the_reference_tables_and_indexes(demo_dsn: str) -> None:
    with psycopg.connect(demo_dsn) as conn:
        tables = conn.execute(
            "SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n"
            " ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
            " AND c.relkind = 'r' ORDER BY 1"
        ).fetchall()
        assert sorted(t for (t,) in tables) == sorted(REFERENCE_TABLES)
        assert len(_indexes(conn)) == 96
        assert reference_tables_present(conn)
        for table in REFERENCE_TABLES:
            assert _scalar(conn, f'SELECT count(*) FROM "{table}"') > 0, table


def test_planted_duplicate_and_redundant_indexes(demo_dsn: str) -> None:
    with psycopg.connect(demo_dsn) as conn:
        rows = _indexes(conn)
    by_name = {r[1]: r for r in rows}
    duplicates = {
        (a[1], b[1])
        for a in rows
        for b in rows
        if a[1] < b[1] and (a[0], a[5], a[6], a[4]) == (b[0], b[5], b[6], b[4])
    }
    assert duplicates == {("EvidenceFile_assessmentId_idx", "idx_evidence_assessment")}
    prefixes = {
        (a[1], b[1])
        for a in rows
        for b in rows
        if a[0] == b[0] and not a[3] and not a[4] and not b[4]
        and len(a[2]) < len(b[2]) and b[2][: len(a[2])] == a[2]
    }  # fmt: skip
    assert prefixes == {("AuditLog_tenantId_idx", "AuditLog_tenantId_createdAt_idx")}
    for problem in PLANTED_PROBLEMS:
        if problem.kind in {"duplicate_index", "redundant_index", "unused_index"}:
            table, _name, _cols, unique, *_ = by_name[problem.target]
            assert table == problem.table and not unique


def test_planted_missing_index_and_unindexed_foreign_key(demo_dsn: str) -> None:
    with psycopg.connect(demo_dsn) as conn:
        rows = _indexes(conn)
        unindexed = conn.execute(UNINDEXED_FKS).fetchall()
    assert [(t, cols) for t, cols in unindexed] == [("Answer", ["authorId"])]
    audit_columns = {c for r in rows if r[0] == "AuditLog" for c in r[2]}
    assert not audit_columns & {"entityType", "entityId"}
    kinds = {p.kind for p in PLANTED_PROBLEMS}
    assert kinds == {
        "duplicate_index",
        "redundant_index",
        "unused_index",
        "missing_index",
        "unindexed_foreign_key",
    }


def test_statuses_and_tenant_sizes_are_skewed(demo_dsn: str) -> None:
    with psycopg.connect(demo_dsn) as conn:
        shares: dict[str, float] = dict(
            conn.execute(
                "SELECT status, count(*)::float / sum(count(*)) OVER ()"
                ' FROM "Assessment" GROUP BY status'
            ).fetchall()
        )
        top, median = conn.execute(
            "SELECT max(n), percentile_disc(0.5) WITHIN GROUP (ORDER BY n) FROM"
            ' (SELECT count(*) AS n FROM "Assessment" GROUP BY "tenantId") AS s'
        ).fetchone() or (0, 0)
    assert shares["COMPLETED"] > 0.7
    assert 0.005 < shares["IN_PROGRESS"] < 0.1
    assert {"DRAFT", "ARCHIVED"} <= set(shares)
    assert top >= 5 * median


def test_twelve_months_of_growing_history(demo_dsn: str) -> None:
    with psycopg.connect(demo_dsn) as conn:
        oldest = _scalar(conn, 'SELECT now() - min("createdAt") FROM "Assessment"')
        newest = _scalar(conn, 'SELECT now() - max("createdAt") FROM "AuditLog"')
        halves = conn.execute(
            "SELECT \"createdAt\" > now() - interval '6 months', count(*)"
            ' FROM "Answer" GROUP BY 1'
        ).fetchall()
    assert 330 <= oldest.days <= 366
    assert newest.days <= 2
    counts: dict[bool, int] = dict(halves)
    assert counts[True] > 1.5 * counts[False]


def test_refuses_to_load_twice_and_reset_reloads_the_same_data(demo_dsn: str) -> None:
    fingerprint = (
        'SELECT count(*), sum("ownerId"), sum("questionnaireId"),'
        " count(*) FILTER (WHERE status = 'IN_PROGRESS') FROM \"Assessment\""
    )
    with psycopg.connect(demo_dsn, autocommit=True) as conn:
        before = conn.execute(fingerprint).fetchone()
        assert before is not None
        with pytest.raises(DemoDataExists):
            load(conn, "tiny")
        summary = load(conn, "tiny", reset=True)
        assert conn.execute(fingerprint).fetchone() == before
        assert len(_indexes(conn)) == 96
    assert summary.scale == "tiny" and summary.seconds > 0
    assert set(summary.rows) == set(REFERENCE_TABLES)
    assert summary.rows["Assessment"] == before[0]


def test_hostile_schema_name(empty_dsn: str) -> None:
    schema = 'Acme "prod"; DROP TABLE x; --'
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        summary = load(conn, "tiny", schema=schema)
        assert summary.schema == schema
        assert reference_tables_present(conn, schema)
        assert not reference_tables_present(conn)
        assert len(_indexes(conn, schema)) == 96
        with pytest.raises(DemoDataExists):
            load(conn, "tiny", schema=schema)
        load(conn, "tiny", schema=schema, reset=True)
        assert reference_tables_present(conn, schema)


def test_failure_leaves_nothing_behind(empty_dsn: str) -> None:
    def fail_at_indexes(step: str) -> None:
        if step == "indexes":
            raise RuntimeError("interrupted")

    steps: list[str] = []
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        with pytest.raises(RuntimeError):
            load(conn, "tiny", on_step=fail_at_indexes)
        assert not reference_tables_present(conn)
        load(conn, "tiny", on_step=steps.append)
        assert reference_tables_present(conn)
    assert steps[0] == "tables" and steps[-1] == "analyze"


def test_unknown_scale(empty_dsn: str) -> None:
    with psycopg.connect(empty_dsn) as conn, pytest.raises(ConfigurationError):
        load(conn, "huge")


def test_the_load_itself_is_not_recorded_as_workload(empty_dsn: str) -> None:
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        load(conn, "tiny")
        texts = [
            str(row[0])
            for row in conn.execute(
                "SELECT query FROM pg_stat_statements s JOIN pg_database d"
                " ON d.oid = s.dbid WHERE d.datname = current_database()"
            )
        ]
        conn.execute('INSERT INTO "Tenant" (name, slug) VALUES (%s, %s)', ("a", "b"))
        after = conn.execute(
            "SELECT count(*) FROM pg_stat_statements s JOIN pg_database d"
            " ON d.oid = s.dbid WHERE d.datname = current_database()"
            " AND s.query LIKE 'INSERT INTO \"Tenant\" (name, slug)%%'"
        ).fetchone()
    loader = [t for t in texts if "CREATE INDEX" in t or 'INSERT INTO "AuditLog"' in t]
    assert loader == []
    assert after == (1,)  # the session records again once the load is over
