"""The index advisor with observed parameter values, planned by a real server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from pgwarden import pg
from pgwarden.advise.gather import gather_catalog
from pgwarden.advise.indexes import hypo
from pgwarden.advise.indexes import observed as ov
from pgwarden.advise.indexes.advisor import Advice, Options, advise, items_for
from pgwarden.advise.indexes.run import observed_of
from pgwarden.advise.workload import Statement, Workload, weighted
from pgwarden.advise.workload import gather as wg
from pgwarden.repository import migrate
from pgwarden.slowlog import ensure_target
from pgwarden.slowlog.param_values import Observation, record

COUNT = "SELECT count(*) FROM orders WHERE status = $1 AND customer_id = $2"
LATEST = "SELECT id FROM orders WHERE status = $1 ORDER BY created_at DESC LIMIT 50"
SCHEMA = """
CREATE EXTENSION IF NOT EXISTS hypopg;
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL,
    status text NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO orders SELECT g, 1 + (g * 7919) % 5000,
    CASE WHEN g % 50 = 0 THEN 'pending' WHEN g % 10 = 0 THEN 'cancelled'
         ELSE 'shipped' END,
    now() - g * interval '1 minute'
    FROM generate_series(1, 100000) g;
ANALYZE orders;
"""


@pytest.fixture
def target(empty_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with pg.connect(empty_dsn, statement_timeout_ms=None) as conn:
        migrate(conn)
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        yield conn


def _workload() -> Workload:
    return weighted(
        [
            Statement(11, COUNT, calls=500, total_ms=5000.0),
            Statement(12, LATEST, calls=200, total_ms=3000.0),
        ]
    )


def _observe(conn: psycopg.Connection[Any], dsn: str, name: str) -> ov.Observed:
    """The capture saw both statements ask for 'pending', every time."""
    target_id = ensure_target(conn, name)
    now = datetime.now(UTC)
    seen = [
        Observation(now, ov.fingerprint(text), qid, "public", "orders", "status", v)
        for qid, text, v, n in ((11, COUNT, "pending", 40), (12, LATEST, "pending", 9))
        for _ in range(n)
    ]
    record(conn, target_id, seen)
    observed, notes = observed_of(dsn, name, 30)
    assert notes == [] and observed is not None
    return observed


def _advise(conn: psycopg.Connection[Any], observed: ov.Observed | None) -> Advice:
    return advise(
        conn, "test", _workload(), wg.tables(conn), gather_catalog(conn).indexes,
        Options(), observed=observed,
    )  # fmt: skip


def _partial_values(advice: Advice) -> set[str | None]:
    recs = (*advice.recommendations, *advice.partial)
    return {r.candidate.where_value for r in recs if r.candidate.where_column}


@pytest.mark.hypopg
def test_the_advisor_prefers_the_observed_value(
    target: psycopg.Connection[Any], empty_dsn: str
) -> None:
    assumed = _advise(target, None)
    assert "cancelled" in _partial_values(assumed)  # never asked for, yet proposed
    assert all(
        "value assumed from pg_stats" in r.reasoning
        for r in assumed.partial
        if r.candidate.where_column
    )

    advice = _advise(target, _observe(target, empty_dsn, "observed"))

    assert _partial_values(advice) == {"pending"}
    partial = [r for r in advice.recommendations if r.candidate.where_column]
    assert partial, advice.as_dict()["recommendations"]
    assert "value observed 49 times (100 % of 49 observed calls" in (
        partial[0].reasoning
    )
    assert any("parameter values observed for 2 of 2" in n for n in advice.notes)


@pytest.mark.hypopg
def test_custom_plans_use_the_real_constant(
    target: psycopg.Connection[Any], empty_dsn: str
) -> None:
    observed = _observe(target, empty_dsn, "custom")
    tables = wg.tables(target)
    items, _ = items_for(_workload(), tables, (), observed=observed)
    texts = {i.text for i in items}
    assert texts == {
        "SELECT count(*) FROM orders WHERE status = 'pending' AND customer_id = $1",
        "SELECT id FROM orders WHERE status = 'pending' ORDER BY created_at DESC "
        "LIMIT 50",
    }
    advice = _advise(target, observed)
    [partial] = [
        r.candidate
        for r in advice.recommendations
        if r.candidate.where_column and r.candidate.columns == ("customer_id",)
    ]
    custom = COUNT.replace("$1", "'pending'").replace("$2", "$1")
    assert custom in texts
    with hypo.session(target) as costing:
        plan = costing.plan(custom, frozenset({partial}))
        assert plan is not None
        name = costing.hypothetical_name(partial)
        assert name and any(n.startswith(name) for n in hypo.used_indexes(plan))
        generic = costing.plan(COUNT, frozenset({partial}))
        assert generic is not None
        assert not hypo.used_indexes(generic)  # $1 cannot prove status = 'pending'
