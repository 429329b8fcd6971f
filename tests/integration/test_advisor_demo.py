"""The advisors on the reference app: a workload, the real collector, then advice."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from pgwarden import pg
from pgwarden.advise.indexes import hypo
from pgwarden.advise.indexes.candidates import Candidate
from pgwarden.advise.indexes.run import run
from pgwarden.advise.indexes.verify import run_verify
from pgwarden.advise.queries.report import generate, run_if_due
from pgwarden.advise.queries.run import run as run_queries
from pgwarden.collect import collect_once
from pgwarden.config import Settings
from pgwarden.demo.app import ReferenceApp
from pgwarden.demo.context import fetch_context
from pgwarden.demo.workload import run_action
from pgwarden.repository import migrate

#: the actions that carry the planted problems, and a little of the rest
MIX = {
    "assessment_history": 40, "list_assessments": 40, "open_assessment": 10,
    "open_assessment_n_plus_one": 8, "save_answer": 10, "read_audit_log": 10,
    "dashboard_counts": 10,
}  # fmt: skip


def workload(dsn: str, mix: dict[str, int] = MIX, seed: int = 3) -> None:
    async def main() -> None:
        pool = AsyncConnectionPool(dsn, min_size=1, max_size=2, open=False)
        async with pool:
            app = ReferenceApp(pool, None)
            ctx = await fetch_context(pool)
            rng = random.Random(seed)
            names = [n for n, times in mix.items() for _ in range(times)]
            rng.shuffle(names)
            for name in names:
                await run_action(app, ctx, rng, name)

    asyncio.run(main())


def collected(dsn: str, hypopg: bool) -> str:
    """Repository in the same database, a baseline, the workload, a cycle."""
    with pg.connect(dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
    with pg.connect(dsn) as conn:
        if hypopg:
            conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
        conn.execute("ANALYZE")
    name = pg.describe(dsn)
    with pg.connect(dsn) as target, pg.connect(dsn) as repo:
        collect_once(target, repo, name)
        workload(dsn)
        collect_once(target, repo, name)
    return name


@pytest.mark.hypopg
def test_advisor_finds_the_planted_problems_with_hypopg(demo_dsn: str) -> None:
    collected(demo_dsn, hypopg=True)
    advice = run(Settings(), demo_dsn, demo_dsn)
    data = advice.as_dict()
    assert data["mode"] == "hypopg" and data["verified"]
    assert not any("live" in n for n in data["notes"])  # read from the history
    audit = [r for r in data["recommendations"] if r["table"] == "AuditLog"]
    assert audit and "entityId" in audit[0]["columns"], data["recommendations"]
    rec = audit[0]
    assert rec["ddl"].startswith('CREATE INDEX CONCURRENTLY IF NOT EXISTS "AuditLog_')
    assert rec["estimated_size_bytes"] > 8192 and rec["confidence"] in (
        "high",
        "medium",
    )
    assert rec["workload_cost_reduction_pct"] > 0
    q = rec["affected_queries"][0]
    assert q["cost_after"] < q["cost_before"] and '"entityId"' in q["text"]
    assert 0 < data["workload_cost_after"] < data["workload_cost_before"]
    partial = [r for r in data["partial"] if r["table"] == "Assessment"
               and r["where"] == "\"status\" = 'IN_PROGRESS'"]  # fmt: skip
    assert partial, data["partial"]
    p = partial[0]
    assert 0 < p["estimated_size_bytes"] < p["full_index_size_bytes"]
    assert p["size_savings_bytes"] == p["full_index_size_bytes"] - p[
        "estimated_size_bytes"]  # fmt: skip
    assert any("status" in a["text"] for a in p["affected_queries"])

    queries, _ = run_queries(Settings(), demo_dsn, demo_dsn)
    kinds = {f.kind: f for f in queries.findings}
    assert "missing_index" in kinds
    n1 = kinds["n_plus_one"]
    assert n1.caller is not None and "open_assessment_n_plus_one" in n1.caller
    assert "= ANY($1)" in n1.fix and n1.evidence["calls_per_parent_call"] >= 5

    report, report_id = generate(Settings(), demo_dsn, demo_dsn, save=True)
    with pg.connect(demo_dsn) as conn:
        row = pg.fetch_one(conn, "SELECT kind, data FROM pgwarden.report WHERE id = %s",
                           [report_id])  # fmt: skip
    assert row is not None and row["kind"] == "optimization"
    assert row["data"]["summary"] == report["summary"]


def test_without_hypopg_the_advice_says_unverified(demo_dsn: str) -> None:
    collected(demo_dsn, hypopg=False)
    data = run(Settings(), demo_dsn, demo_dsn).as_dict()
    assert data["mode"] == "heuristic" and not data["verified"]
    assert any("unverified" in n for n in data["notes"])
    assert all(r["confidence"] == "unverified" for r in data["recommendations"])
    assert data["workload_cost_reduction_pct"] is None
    statuses = {r["where"] for r in data["partial"] if r["table"] == "Assessment"}
    assert "\"status\" = 'IN_PROGRESS'" in statuses
    queries, _ = run_queries(Settings(), demo_dsn, demo_dsn)
    assert "n_plus_one" in {f.kind for f in queries.findings}
    assert queries.explained > 0
    first = run_if_due(Settings(), demo_dsn, demo_dsn)
    assert first.startswith("optimisation of ") and "(unverified)" in first
    assert "not due" in run_if_due(Settings(), demo_dsn, demo_dsn)
    later = datetime.now(UTC) + timedelta(days=30)
    assert "not due" not in run_if_due(Settings(), demo_dsn, demo_dsn, later)


def test_generic_plans_with_parameters(demo_dsn: str) -> None:
    with pg.connect(demo_dsn) as conn:
        plan = hypo.explain(
            conn, 'SELECT * FROM "AuditLog" WHERE "tenantId" = $1 AND "entityId" = $2'
        )
        assert plan is not None and plan["Total Cost"] > 0
        assert hypo.explain(conn, "SELECT * FROM no_such_table WHERE a = $1") is None
        # a literal substituted for a parameter: the rest numbered again
        text = hypo.substitute("SELECT $1::int + $2::int + $3::int", {2: "7"})
        assert text == "SELECT $1::int + '7'::int + $2::int"
        assert hypo.explain(conn, text) is not None


@pytest.mark.hypopg
def test_hypothetical_indexes_are_reset_on_every_path(demo_dsn: str) -> None:
    with pg.connect(demo_dsn) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
        c = Candidate("public", "AuditLog", ("entityId",))
        with pytest.raises(RuntimeError), hypo.session(conn) as costing:
            costing.cost(1, 'SELECT 1 FROM "AuditLog" WHERE "entityId" = $1',
                         frozenset({c}))  # fmt: skip
            assert _hypothetical(conn) == 1
            raise RuntimeError("boom")
        assert _hypothetical(conn) == 0


def _hypothetical(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM hypopg_list_indexes").fetchone()
    assert row is not None
    return int(row[0])


def test_verify_compares_before_and_after_from_history(demo_dsn: str) -> None:
    name = collected(demo_dsn, hypopg=False)
    before_create = datetime.now(UTC)
    with pg.connect(demo_dsn) as conn:
        conn.execute(
            'CREATE INDEX "AuditLog_entity_idx" ON "AuditLog" '
            '("entityId", "entityType")'
        )
    with pg.connect(demo_dsn) as target, pg.connect(demo_dsn) as repo:
        collect_once(target, repo, name)  # history sees the index appear
        workload(demo_dsn, {"assessment_history": 30})
        collect_once(target, repo, name)
    result = run_verify(Settings(), demo_dsn, demo_dsn, "AuditLog_entity_idx")
    data = result.as_dict()
    assert result.created_at is not None and result.created_at > before_create
    history = [q for q in data["queries"] if '"entityId"' in q["query"]]
    assert history, data
    q = history[0]
    assert q["calls_before"] > 0 and q["calls_after"] > 0
    assert q["verdict"] in ("improved", "unchanged", "regressed")
    assert q["blks_after"] < q["blks_before"]  # fewer buffers with the index
    too_early = before_create - timedelta(days=30)
    early = run_verify(Settings(), demo_dsn, demo_dsn, "AuditLog_entity_idx", too_early)
    assert all(q["calls_before"] == 0 for q in early.as_dict()["queries"])
