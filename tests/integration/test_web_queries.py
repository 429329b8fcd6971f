"""The Queries page's API: the statement list, one statement's page, EXPLAIN."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pgwarden import pg, reports
from pgwarden.config import Settings
from pgwarden.observe import explain
from pgwarden.slowlog.partitions import ensure_partitions
from pgwarden.web import audit, create_app
from pgwarden.web.redact import HIDDEN
from tests.cli_helpers import pgwarden
from tests.integration.test_observe_metrics import (
    MARKER,
    TARGET,
    TOKEN,
    Collected,
    collect_with_load,
)

pytestmark = pytest.mark.slow
VIEWER = "viewer-token-9876543210"
ADMIN_AUTH = {"Authorization": f"Bearer {TOKEN}"}
VIEWER_AUTH = {"Authorization": f"Bearer {VIEWER}"}
HOSTILE = {
    -101: 'SELECT 1; DROP TABLE "Answer"',
    -102: 'VACUUM "Answer"',
    -103: 'SELECT * INTO "Stolen" FROM "Answer"',
    -104: "SELEKT nothing",
}


def client(dsn: str, settings: Settings | None = None) -> TestClient:
    app = create_app(
        settings or Settings(), dsn, TARGET, TOKEN, target_dsn=dsn, viewer_token=VIEWER
    )
    return TestClient(app)


def listed(http: TestClient, **params: Any) -> dict[str, Any]:
    response = http.get("/api/admin/queries", params=params, headers=ADMIN_AUTH)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def marker_id(http: TestClient) -> str:
    items = listed(http, search=MARKER)["items"]
    assert len(items) == 1, items
    return str(items[0]["queryid"])


def test_explainable_statements_only() -> None:
    assert explain.refusal('SELECT * FROM "Answer" WHERE id = $1') is None
    assert explain.refusal("VALUES (1), (2)") is None
    assert explain.refusal('DELETE FROM "Answer" WHERE id = $1') is None
    for text in HOSTILE.values():
        assert explain.refusal(text) is not None, text
    text = 'SELECT * FROM "Answer" WHERE status = $1 AND id > $2'
    assert explain.compared_columns(text) == {1: "status"}
    assert explain.observed_text(text, {"status": "open", "id": "3"}) is None
    text = 'SELECT * FROM "Answer" WHERE status = $1 AND $2 = "tenantId"'
    assert explain.observed_text(text, {"status": "o'pen", "tenantId": "3"}) == (
        "SELECT * FROM \"Answer\" WHERE status = 'o''pen' AND '3' = \"tenantId\""
    )


def test_list_matches_queries_top_and_filters(demo_dsn: str) -> None:
    collect_with_load(demo_dsn)
    cli = pgwarden("--dsn", demo_dsn, "queries", "top", "--limit", "100",
                   "--format", "json")  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    top = {q["queryid"]: q for q in json.loads(cli.stdout)}
    with client(demo_dsn) as http:
        hour = listed(http, range="1h", limit=500)
        assert hour["own_statements_left_out"] > 0
        assert hour["statements"] == len(top) and top
        for item in hour["items"]:
            cli_row = top[item["queryid"]]
            for key in ("calls", "total_ms", "mean_ms", "rows", "caller", "query"):
                assert item[key] == cli_row[key], (key, item, cli_row)
        # the whole history is in the last hour: the day's sums are the same
        day = {i["queryid"]: i for i in listed(http, range="24h", limit=500)["items"]}
        for item in hour["items"]:
            assert day[item["queryid"]]["calls"] == item["calls"]
            assert day[item["queryid"]]["total_ms"] == pytest.approx(
                item["total_ms"], rel=1e-4
            )
        found = listed(http, search="assessment")["items"]
        assert found and all("assessment" in i["query"].lower() for i in found)
        assert len(found) < len(hour["items"])
        assert listed(http, search="no such statement text")["items"] == []
        assert listed(http, caller="no-such-caller")["items"] == []
        for by, key in (("calls", "calls"), ("rows", "rows"), ("mean", "mean_ms"),
                        ("blks_hit", "shared_blks_hit")):  # fmt: skip
            values = [i[key] or 0 for i in listed(http, by=by, limit=500)["items"]]
            assert values == sorted(values, reverse=True), by
        two = listed(http, limit=2)
        assert len(two["items"]) == 2 and two["matched"] == hour["statements"]
        assert listed(http, search="assessment")["matched"] == len(found)
        for bad in ({"by": "bogus"}, {"range": "2h"}, {"limit": 0},
                    {"search": "x" * 201}):  # fmt: skip
            response = http.get("/api/admin/queries", params=bad, headers=ADMIN_AUTH)
            assert response.status_code == 422, bad
        viewer = http.get("/api/admin/queries", headers=VIEWER_AUTH)
        assert viewer.status_code == 200


def generic_plans(dsn: str) -> bool:
    """Whether the server plans a statement with parameters (PostgreSQL 16+)."""
    with pg.connect(dsn) as conn:
        return pg.server_version_num(conn) >= explain.GENERIC_PLAN_VERSION


def observed(dsn: str, target_id: int, queryid: int) -> None:
    """A value observed for the ``id = $1`` of the marked statement."""
    with pg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO pgwarden.parameter_value (target_id, day, fingerprint, "
            "queryid, schema_name, relname, attname, value, calls, first_seen, "
            "last_seen) VALUES (%s, current_date, 'f', %s, 'public', 'Assessment', "
            "'id', '3', 5, now(), now())",
            [target_id, queryid],
        )


PLAN = 'Index Only Scan using "Assessment_pkey" on "Assessment"'


def logged_and_advised(dsn: str, target_id: int, queryid: int) -> None:
    """A slow execution with its plan, and a stored optimisation report about it."""
    now = datetime.now(UTC)
    row = {"target_id": target_id, "ts": now, "started_at": now, "database": None,
           "username": None, "query": "SELECT 1", "queryid": queryid,
           "fingerprint": "f", "duration_ms": 900.0, "severity": "warning",
           "caller": "app/assessments.py:7", "application_name": None,
           "source": "server_log", "plan": PLAN, "pid": None,
           "backend_start": None}  # fmt: skip
    other = {"queryid": "1", "query": "SELECT 2", "kind": "n_plus_one"}
    finding = {
        **other,
        "queryid": str(queryid),
        "severity": "warning",
        "evidence": {"executions": 12},
        "fix": "batch",
        "saved_ms": 5.0,
    }
    index = {
        "ddl": "CREATE INDEX ...;",
        "affected_queries": [{"queryid": str(queryid)}],
    }
    report = {
        "generated_at": now.isoformat(),
        "summary": {"line": "1 finding"},
        "findings": [finding, other],
        "indexes": {"recommendations": [index, {"affected_queries": []}]},
    }
    with pg.connect(dsn) as conn:
        ensure_partitions(conn, now)
        pg.named_rows(conn, "slowlog", "insert", row)
        reports.store.store(conn, target_id, "optimization", report)


def test_statement_page_and_explain(demo_dsn: str) -> None:
    collected: Collected = collect_with_load(demo_dsn)
    with pg.connect(demo_dsn) as conn:
        for queryid, text in HOSTILE.items():
            conn.execute(
                "INSERT INTO pgwarden.statement_text (target_id, dbid, userid, "
                "queryid, toplevel, query, query_length) VALUES (%s, 1, 1, %s, true, "
                "%s, %s)",
                [collected.target_id, queryid, text, len(text)],
            )
    with client(demo_dsn) as http:
        queryid = marker_id(http)
        page = http.get(f"/api/admin/queries/{queryid}/detail?range=1h",
                        headers=ADMIN_AUTH).json()  # fmt: skip
        charts = page["charts"]
        assert sum(charts["calls"]) == 40 and len(charts["p95_ms"]) == len(charts["t"])
        assert all(p >= m for p, m in zip(charts["p95_ms"], charts["mean_ms"],
                                          strict=True) if m)  # fmt: skip
        week = http.get(f"/api/admin/queries/{queryid}/detail?range=7d",
                        headers=ADMIN_AUTH).json()  # fmt: skip
        assert sum(week["charts"]["calls"]) == 40  # hourly: the hour being collected
        assert page["plans"] == [] and "auto_explain" in page["plans_note"]
        assert page["advice"]["note"] and page["advice"]["findings"] == []
        assert page["p95_basis"]["source"] == "pg_stat_statements"
        logged_and_advised(demo_dsn, collected.target_id, int(queryid))
        page = http.get(f"/api/admin/queries/{queryid}/detail?range=1h",
                        headers=ADMIN_AUTH).json()  # fmt: skip
        (plan,) = page["plans"]
        assert plan["plan"] == PLAN and plan["caller"] == "app/assessments.py:7"
        assert page["plans_note"] is None and page["advice"]["note"] is None
        assert [f["kind"] for f in page["advice"]["findings"]] == ["n_plus_one"]
        assert len(page["advice"]["indexes"]) == 1
        (called,) = listed(http, caller="ASSESSMENTS.py")["items"]
        assert called["queryid"] == queryid and called["caller"] == plan["caller"]
        missing = http.get("/api/admin/queries/42/detail", headers=ADMIN_AUTH)
        assert missing.status_code == 404
        path = f"/api/admin/queries/{queryid}/explain"
        refused = http.post(path, json={"by": "vic"}, headers=VIEWER_AUTH)
        assert refused.status_code == 403
        assert http.post(path, json={}, headers=ADMIN_AUTH).status_code == 422
        too_long = http.post(path, json={"by": "x" * 101}, headers=ADMIN_AUTH)
        assert too_long.status_code == 422
        outcomes = {(queryid, "ok", "ana")}
        method = "generic_plan"
        if not generic_plans(demo_dsn):
            needs = http.post(path, json={"by": "ana"}, headers=ADMIN_AUTH)
            assert needs.status_code == 409 and "16" in needs.json()["detail"]
            outcomes.add((queryid, "refused", "ana"))
            observed(demo_dsn, collected.target_id, int(queryid))
            method = "observed_values"
        ok = http.post(path, json={"by": "ana"}, headers=ADMIN_AUTH)
        assert ok.status_code == 200, ok.text
        assert ok.json()["method"] == method and "Scan" in ok.json()["plan"]
        for hostile in HOSTILE:
            response = http.post(f"/api/admin/queries/{hostile}/explain",
                                 json={"by": "ana"}, headers=ADMIN_AUTH)  # fmt: skip
            assert response.status_code == 422, response.text
    hiding = Settings(dashboard={"hide_query_text": True})  # type: ignore[arg-type]
    with client(demo_dsn, hiding) as http:
        path = f"/api/admin/queries/{queryid}/detail?range=1h"
        page = http.get(path, headers=VIEWER_AUTH).json()
        assert MARKER not in json.dumps(page) and PLAN not in json.dumps(page)
        (finding,) = page["advice"]["findings"]
        assert finding["fix"] == HIDDEN
        found = http.get("/api/admin/queries", headers=VIEWER_AUTH).json()
        assert found["items"] and MARKER not in json.dumps(found)
        searched = http.get("/api/admin/queries", params={"search": "Assess"},
                            headers=VIEWER_AUTH)  # fmt: skip
        assert searched.status_code == 403
    with pg.connect(demo_dsn) as conn:
        entries = [e for e in audit.recent(conn, collected.target_id)
                   if e["action"] == "explain"]  # fmt: skip
        count = conn.execute('SELECT count(*) FROM "Answer"').fetchone()
    assert count is not None and count[0] > 0
    assert {(e["subject"], e["outcome"], e["actor"]) for e in entries} == {
        *outcomes,
        *((str(h), "refused", "ana") for h in HOSTILE),
    }
    assert all(e["role"] == "admin" for e in entries)
