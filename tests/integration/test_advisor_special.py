"""Expression, BRIN, GIN and trigram advice on real workloads (pg_stat_statements)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from pgwarden import pg
from pgwarden.advise.indexes.run import run
from pgwarden.config import Settings
from tests.cli_helpers import pgwarden


def _setup(dsn: str, *statements: str, hypopg: bool = False) -> None:
    with pg.connect(dsn, statement_timeout_ms=None) as conn:
        if hypopg:
            conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
        for text in statements:
            conn.execute(text)
        conn.execute("ANALYZE")
        conn.execute("SELECT pg_stat_statements_reset()")


def _run(dsn: str, text: str, params: list[list[Any]]) -> None:
    """The application's workload: statements without pgwarden's marker."""
    with pg.connect(dsn, workload=True) as conn:
        for p in params:
            conn.execute(text, p).fetchall()


def _advice(dsn: str) -> dict[str, Any]:
    return run(Settings(), dsn, None).as_dict()


def _plan(dsn: str, ddl: str, query: str, params: list[Any]) -> str:
    """The plan of ``query`` after the recommended DDL was run for real."""
    with pg.connect(dsn, statement_timeout_ms=None) as conn:
        conn.execute(ddl)
        conn.execute("ANALYZE")
        rows = conn.execute("EXPLAIN (FORMAT JSON) " + query, params).fetchall()
    return json.dumps(rows[0][0])


@pytest.mark.hypopg
def test_lower_email_gets_an_expression_index_verified_by_hypopg(
    empty_dsn: str,
) -> None:
    _setup(
        empty_dsn,
        'CREATE TABLE "Account" (id bigint PRIMARY KEY, email text NOT NULL, '
        '"tenantId" int NOT NULL)',
        "INSERT INTO \"Account\" SELECT g, 'User' || g || '@Example.COM', g % 40 "
        "FROM generate_series(1, 60000) g",
        hypopg=True,
    )
    query = 'SELECT id FROM "Account" WHERE lower(email) = %s'
    _run(empty_dsn, query, [[f"user{n}@example.com"] for n in range(1, 40)])
    data = _advice(empty_dsn)
    assert data["mode"] == "hypopg"
    recs = [r for r in data["recommendations"] if r["expression"] == "lower(email)"]
    assert recs, data
    rec = recs[0]
    assert rec["method"] == "btree" and rec["confidence"] in ("high", "medium")
    assert "((lower(email)))" in rec["ddl"] and rec["ddl"].startswith(
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "Account_lower_email'
    )
    q = rec["affected_queries"][0]
    assert q["cost_after"] < q["cost_before"] / 2 and "lower(email)" in q["text"]
    assert rec["workload_cost_reduction_pct"] > 40
    assert "expression index" in rec["reasoning"]
    plan = _plan(empty_dsn, rec["ddl"], query, ["user7@example.com"])
    assert "Account_lower_email" in plan  # the real index serves the statement


@pytest.mark.hypopg
def test_append_only_time_column_with_range_queries_gets_brin(
    empty_dsn: str,
) -> None:
    _setup(
        empty_dsn,
        'CREATE TABLE "AuditLog" (id bigint PRIMARY KEY, "createdAt" timestamptz '
        "NOT NULL, action text NOT NULL)",
        "INSERT INTO \"AuditLog\" SELECT g, timestamptz '2025-01-01' + g * "
        "interval '10 seconds', 'VIEW' FROM generate_series(1, 300000) g",
        hypopg=True,
    )
    query = (
        'SELECT count(*) FROM "AuditLog" WHERE "createdAt" >= %s::timestamptz '
        'AND "createdAt" < %s::timestamptz'
    )
    days = [[f"2025-01-{d:02d}", f"2025-01-{d + 1:02d}"] for d in range(1, 30)]
    _run(empty_dsn, query, days)
    data = _advice(empty_dsn)
    brin = [r for r in data["recommendations"] if r["method"] == "brin"]
    assert brin, data["recommendations"]
    rec = brin[0]
    assert rec["columns"] == ["createdAt"] and "USING brin" in rec["ddl"]
    assert rec["confidence"] in ("high", "medium")  # verified by hypopg
    assert rec["estimated_size_bytes"] <= 4 * 8192  # tiny next to a B-tree
    assert "correlation" in rec["reasoning"]
    assert rec["affected_queries"][0]["cost_after"] < rec["affected_queries"][0][
        "cost_before"]  # fmt: skip
    btree = [r for r in data["recommendations"] if r["method"] == "btree"]
    assert not [r for r in btree if r["columns"] == ["createdAt"]]


def test_jsonb_containment_gets_a_gin_recommendation_marked_unverified(
    empty_dsn: str,
) -> None:
    _setup(
        empty_dsn,
        "CREATE TABLE event (id bigint PRIMARY KEY, payload jsonb NOT NULL, "
        "title text NOT NULL)",
        "INSERT INTO event SELECT g, jsonb_build_object('kind', 'k' || g % 500, "
        "'n', g), 'event ' || g FROM generate_series(1, 20000) g",
    )
    query = "SELECT id FROM event WHERE payload @> %s"
    _run(empty_dsn, query, [[Jsonb({"kind": f"k{n}"})] for n in range(30)])
    search = "SELECT id FROM event WHERE to_tsvector(title) @@ plainto_tsquery(%s)"
    _run(empty_dsn, search, [["event"]] * 5)
    data = _advice(empty_dsn)
    gin = [r for r in data["recommendations"] if r["method"] == "gin"]
    assert gin, data
    rec = gin[0]
    assert rec["opclass"] == "jsonb_path_ops"  # only @> is used
    assert rec["confidence"] == "unverified"
    assert rec["workload_cost_reduction_pct"] is None
    assert "hypopg cannot simulate GIN/GiST" in rec["reasoning"]
    assert '("payload" jsonb_path_ops)' in rec["ddl"] and "USING gin" in rec["ddl"]
    assert any("payload @>" in q["text"] for q in rec["affected_queries"])
    # one-argument to_tsvector depends on default_text_search_config: refused
    assert any("to_tsvector" in n and "IMMUTABLE" in n for n in data["notes"])
    md = pgwarden("--dsn", empty_dsn, "indexes", "advise", "--format", "md")
    assert md.returncode == 0, md.stderr
    assert "- method: gin (jsonb_path_ops)" in md.stdout
    assert "confidence: unverified" in md.stdout and "not costed" in md.stdout
    plan = _plan(empty_dsn, rec["ddl"], query, [Jsonb({"kind": "k3"})])
    assert "event_payload_gin" in plan


def test_infix_like_needs_pg_trgm_for_a_trigram_index(empty_dsn: str) -> None:
    _setup(
        empty_dsn,
        "CREATE TABLE doc (id bigint PRIMARY KEY, title text NOT NULL)",
        "INSERT INTO doc SELECT g, md5(g::text) FROM generate_series(1, 20000) g",
    )
    query = "SELECT id FROM doc WHERE title LIKE '%%' || %s || '%%'"
    _run(empty_dsn, query, [[f"{n:02x}a"] for n in range(30)])
    data = _advice(empty_dsn)
    assert not [r for r in data["recommendations"] if r["method"] == "gin"]
    assert any("pg_trgm is needed" in n and "doc.title" in n for n in data["notes"])

    with pg.connect(empty_dsn) as conn:
        conn.execute("CREATE EXTENSION pg_trgm")
    trgm = [r for r in _advice(empty_dsn)["recommendations"]
            if r["opclass"] == "gin_trgm_ops"]  # fmt: skip
    assert trgm and trgm[0]["confidence"] == "unverified"
    assert '("title" gin_trgm_ops)' in trgm[0]["ddl"]


def test_range_overlap_gets_gist_and_array_containment_gin(empty_dsn: str) -> None:
    _setup(
        empty_dsn,
        "CREATE TABLE booking (id bigint PRIMARY KEY, during tstzrange NOT NULL, "
        "tags int[] NOT NULL)",
        "INSERT INTO booking SELECT g, tstzrange(timestamptz '2025-01-01' + g * "
        "interval '1 hour', timestamptz '2025-01-01' + (g + 2) * interval '1 hour'), "
        "ARRAY[g % 100, g % 7] FROM generate_series(1, 20000) g",
    )
    overlap = "SELECT id FROM booking WHERE during && tstzrange(%s, %s)"
    _run(empty_dsn, overlap, [["2025-03-01", "2025-03-02"]] * 20)
    _run(empty_dsn, "SELECT id FROM booking WHERE tags @> %s::int[]", [[[5, 3]]] * 20)
    recs = {r["columns"][0]: r for r in _advice(empty_dsn)["recommendations"]}
    assert recs["during"]["method"] == "gist" and recs["tags"]["method"] == "gin"
    assert recs["tags"]["opclass"] is None  # the default array_ops
    assert all(r["confidence"] == "unverified" for r in recs.values())
    plan = _plan(
        empty_dsn, recs["during"]["ddl"], overlap, ["2025-03-01", "2025-03-02"]
    )
    assert "booking_during_gist" in plan
