"""Query advice from statements and plans, and the optimisation report."""

from __future__ import annotations

import json

from pgwarden.advise.indexes.advisor import Advice
from pgwarden.advise.queries.findings import (
    QueryAdvice,
    plan_findings,
    statement_findings,
)
from pgwarden.advise.queries.n_plus_one import batched, n_plus_one
from pgwarden.advise.queries.report import build, render
from pgwarden.advise.workload import Statement, parse
from pgwarden.config import AdvisorSettings

CAT = {"Answer": ("id", "assessmentId", "value"), "Assessment": ("id", "tenantId")}
TAG = " /*action='open',route='/a'*/"
OTHER = " /*action='list',route='/l'*/"
SETTINGS = AdvisorSettings()


def _n_plus_one(child_calls: int, child_tag: str = TAG) -> list[object]:
    statements = [
        Statement(1, 'SELECT id FROM "Answer" WHERE "assessmentId" = $1' + TAG,
                  calls=10, total_ms=5.0, rows=200),
        Statement(2, 'SELECT * FROM "Answer" WHERE id = $1' + child_tag,
                  calls=child_calls, total_ms=40.0, rows=child_calls),
        Statement(3, 'SELECT * FROM "Assessment" WHERE id = $1' + TAG,
                  calls=10, total_ms=1.0, rows=10),
    ]  # fmt: skip
    parsed = [parse(s.text, CAT) for s in statements]
    return n_plus_one(statements, parsed, SETTINGS)  # type: ignore[return-value]


def test_n_plus_one_needs_the_same_caller_and_a_call_ratio() -> None:
    found = _n_plus_one(200)
    assert len(found) == 1
    f = found[0].as_dict()  # type: ignore[attr-defined]
    assert f["kind"] == "n_plus_one" and f["queryid"] == "2"
    assert f["evidence"]["parent_queryid"] == "1"  # returns ~20 rows per call
    assert f["evidence"]["calls_per_parent_call"] == 20.0
    assert "= ANY($1)" in f["fix"] and f["saved_ms"] == 38.0
    assert f["caller"] == "open /a" and f["evidence"]["confidence"] == "medium"
    assert f["evidence"]["round_trips_removed"] == 190
    assert _n_plus_one(200, OTHER) == []  # another caller
    assert _n_plus_one(30) == []  # 3 calls per parent call


def test_batched_rewrite_drops_comments() -> None:
    assert batched('SELECT * FROM "Answer" WHERE id = $1' + TAG, 1) == (
        'SELECT * FROM "Answer" WHERE id = ANY($1)'
    )


def test_offset_spill_and_planning_findings() -> None:
    text = 'SELECT * FROM "Answer" ORDER BY id LIMIT 20 OFFSET 50000'
    s = Statement(7, text, calls=10, total_ms=100.0, plans=10, total_plan_ms=200.0,
                  temp_blks_written=1280)  # fmt: skip
    kinds = {f.kind for f in statement_findings(s, parse(text, CAT), SETTINGS)}
    assert kinds == {"large_offset", "temp_spill", "planning_time"}
    small = 'SELECT * FROM "Answer" ORDER BY id LIMIT 20 OFFSET 40'
    quiet = Statement(8, small, calls=10, total_ms=100.0, plans=10, total_plan_ms=1.0)
    assert statement_findings(quiet, parse(small, CAT), SETTINGS) == []


def test_nested_loop_over_a_large_outer_with_a_seq_inner_and_estimates() -> None:
    plan = {
        "Node Type": "Nested Loop", "Plan Rows": 5,
        "Plans": [
            {"Node Type": "Seq Scan", "Relation Name": "Assessment", "Plan Rows": 5000},
            {"Node Type": "Materialize", "Plans": [
                {"Node Type": "Seq Scan", "Relation Name": "Answer", "Plan Rows": 9}]},
        ],
    }  # fmt: skip
    text = 'SELECT * FROM "Assessment" a JOIN "Answer" b ON b."assessmentId" = a.id'
    s = Statement(9, text, calls=2, total_ms=80.0, rows=4000)
    found = {f.kind: f for f in plan_findings(s, parse(text, CAT), plan, SETTINGS)}
    assert set(found) == {"nested_loop", "estimate_off"}
    assert found["nested_loop"].evidence["inner_seq_scan"] == "Answer"
    assert found["estimate_off"].evidence["factor"] == 400.0
    plan["Plans"][0]["Plan Rows"] = 50  # type: ignore[index]
    small = plan_findings(s, parse(text, CAT), plan, SETTINGS)
    assert "nested_loop" not in {f.kind for f in small}


def test_optimisation_report_ranks_by_time_and_renders() -> None:
    found = _n_plus_one(200)
    queries = QueryAdvice("h:5432/db", tuple(found), 3, 0, ("a note",))  # type: ignore[arg-type]
    advice = Advice("h:5432/db", "heuristic", (), (), 3, 3, None, None)
    report = build(queries, advice)
    assert report["kind"] == "optimization"
    assert report["summary"]["by_kind"] == {"n_plus_one": 1}
    assert "(unverified)" in report["summary"]["line"]
    md = render(report, "md")
    assert "n_plus_one" in md and "= ANY($1)" in md and "a note" in md
    assert "<table>" in render(report, "html")
    assert json.loads(render(report, "json"))["findings"][0]["queryid"] == "2"
