"""pgwarden's own statements and collection gaps on real collected history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pgwarden import pg
from pgwarden.collect import collect_once
from pgwarden.config import Settings
from pgwarden.observe import performance_metrics, timeseries, top_queries
from tests.integration.test_observe_metrics import TARGET, collect_with_load, load

pytestmark = pytest.mark.slow


def _mentions_pgwarden(text: str) -> bool:
    return "pgwarden." in text.lower() or '"pgwarden".' in text.lower()


def test_own_statements_are_not_the_workload(demo_dsn: str) -> None:
    collected = collect_with_load(demo_dsn)
    with pg.connect(demo_dsn) as target, pg.connect(demo_dsn) as repo:
        collect_once(target, repo, TARGET)
        m = performance_metrics(repo, collected.target_id, datetime.now(UTC),
                                Settings(), target_name=TARGET)  # fmt: skip
        mixed = performance_metrics(repo, collected.target_id, datetime.now(UTC),
                                    Settings(), include_own=True)  # fmt: skip
        by_calls = top_queries(repo, collected.target_id, "calls", 100)
        all_calls = top_queries(repo, collected.target_id, "calls", 100,
                                include_own=True)  # fmt: skip
    assert m.slowest_queries and "pg_sleep" in m.slowest_queries[0].query
    assert not [q.query for q in m.slowest_queries if _mentions_pgwarden(q.query)]
    assert not [q.query for q in by_calls if _mentions_pgwarden(q.query)]
    assert any(_mentions_pgwarden(q.query) for q in all_calls)
    assert m.own_statements.excluded and m.own_statements.statements > 0
    assert m.own_statements.calls > 0 and not mixed.own_statements.excluded
    assert m.queries_per_second is not None and mixed.queries_per_second is not None
    assert m.queries_per_second < mixed.queries_per_second
    assert sum(q.share_of_total_time for q in by_calls) == pytest.approx(1.0)
    assert m.as_dict()["own_statements"]["statements"] == m.own_statements.statements


def test_a_statistics_reset_breaks_the_query_charts(demo_dsn: str) -> None:
    collected = collect_with_load(demo_dsn)
    with pg.connect(demo_dsn) as target, pg.connect(demo_dsn) as repo:
        target.execute("SELECT pg_stat_statements_reset()")
        load(demo_dsn, rounds=5, create=False)
        collect_once(target, repo, TARGET)
        load(demo_dsn, rounds=5, create=False)
        collect_once(target, repo, TARGET)
        until = datetime.now(UTC) + timedelta(seconds=1)
        found = timeseries(repo, collected.target_id, until - timedelta(hours=1),
                           until)  # fmt: skip
    qps = found["charts"]["queries_per_second"]["qps"]
    assert len(qps) == 3 and qps[1] is None, qps
    assert qps[0] and qps[2], qps
    assert [g["part"] for g in found["gaps"]].count("statements") == 1
    assert found["charts"]["connections"]["total"].count(None) == 0
    assert found["own_statements"]["excluded"]
