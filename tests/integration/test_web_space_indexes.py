"""The Space and Indexes pages' API: the same figures as the CLI, stored advice and
reports, and the admin's runs (refused to the viewer, recorded in the audit log)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pgwarden import pg
from pgwarden.config import Settings
from pgwarden.plan import build_baseline, inputs, target_of
from pgwarden.web import create_app
from tests.cli_helpers import pgwarden_json
from tests.integration.test_observe_metrics import TARGET, TOKEN, collect_with_load

pytestmark = pytest.mark.slow
VIEWER = "viewer-token-9876543210"
ADMIN_AUTH = {"Authorization": f"Bearer {TOKEN}"}
VIEWER_AUTH = {"Authorization": f"Bearer {VIEWER}"}


def client(dsn: str, target_dsn: str | None) -> TestClient:
    app = create_app(Settings(), dsn, TARGET, TOKEN, target_dsn=target_dsn,
                     viewer_token=VIEWER)  # fmt: skip
    return TestClient(app)


def audit_rows(dsn: str, action: str) -> list[dict[str, Any]]:
    with pg.connect(dsn) as conn:
        return pg.fetch_all(
            conn, "SELECT actor, role, outcome, detail FROM pgwarden.audit_log "
            "WHERE action = %s ORDER BY id", [action],
        )  # fmt: skip


def which(finding: dict[str, Any]) -> tuple[Any, ...]:
    """What a finding is about and what it says to run (its evidence aside: the
    CLI reaches the database under another target name, without the history)."""
    keys = ("kind", "severity", "schema", "table", "index", "size_bytes", "ddl")
    return tuple(finding[k] for k in keys)


def baseline_tables(dsn: str) -> dict[str, dict[str, Any]]:
    cap = Settings().capacity
    with pg.connect(dsn) as repo, pg.connect(dsn) as target:
        found = target_of(repo, TARGET)
        read = inputs(repo, target, found, TARGET, datetime.now(UTC), cap)
    tables = build_baseline(read, cap).as_dict()["tables"]
    return {f"{t['schema']}.{t['table']}": t for t in tables}


def test_health_and_space_are_the_cli_figures(demo_dsn: str) -> None:
    collect_with_load(demo_dsn)
    health_cli = pgwarden_json(demo_dsn, "indexes", "health")
    usage_cli = pgwarden_json(demo_dsn, "indexes", "usage")
    with client(demo_dsn, demo_dsn) as http:
        health = http.get("/api/admin/indexes/health", headers=VIEWER_AUTH).json()
        space = http.get("/api/admin/space", headers=VIEWER_AUTH).json()
    unused = [f for f in health_cli if f["kind"] == "unused"]
    assert unused and health["efficiency"]["unused"] == len(unused)
    assert [which(f) for f in health["findings"]] == [which(f) for f in health_cli]
    ddl = {f["ddl"] for f in health_cli if f["ddl"]}
    assert ddl and {f["ddl"] for f in health["findings"] if f["ddl"]} == ddl
    assert any("pgstattuple" in note for note in health["notes"])

    sizes = {(u["table"], u["index"]): u["size_bytes"] for u in usage_cli["indexes"]}
    shown = {(i["table"], i["index"]): i["size_bytes"] for i in space["indexes"]}
    assert shown == sizes
    expected = baseline_tables(demo_dsn)
    assert space["tables"] and len(space["tables"]) == len(expected)
    for table in space["tables"]:
        base = expected[f"{table['schema']}.{table['table']}"]
        for column in ("total_bytes", "heap_bytes", "index_bytes", "rows"):
            assert table[column] == base[column], (table, column)
        assert table["size_growth"]["method"] == base["size_growth"]["method"]
        assert table["toast_bytes"] is not None
    assert any(t["bloat"]["estimated_pct"] is not None for t in space["tables"])
    assert space["measured_at"] is None  # no stored index-health report yet


def test_advice_is_served_from_the_store_and_run_by_the_admin(demo_dsn: str) -> None:
    collect_with_load(demo_dsn)
    with client(demo_dsn, demo_dsn) as http:
        none = http.get("/api/admin/indexes/advice", headers=VIEWER_AUTH).json()
        assert none["advice"] is None and none["report_id"] is None
        stored = pgwarden_json(demo_dsn, "report", "optimization", "--store")
        served = http.get("/api/admin/indexes/advice", headers=VIEWER_AUTH).json()
        assert served["advice"] == stored["indexes"]
        assert served["advice"]["verified"] is False  # no hypopg on the test server

        refused = http.post("/api/admin/indexes/advice/run", headers=VIEWER_AUTH,
                            json={"by": "vic"})  # fmt: skip
        assert refused.status_code == 403
        assert not audit_rows(demo_dsn, "indexes.advise")
        ran = http.post("/api/admin/indexes/advice/run", headers=ADMIN_AUTH,
                        json={"by": "ann"})  # fmt: skip
        assert ran.status_code == 200, ran.text
        assert ran.json()["report_id"] > served["report_id"]
        bad = http.post("/api/admin/indexes/advice/run", headers=ADMIN_AUTH,
                        json={"by": ""})  # fmt: skip
        assert bad.status_code == 422
    rows = audit_rows(demo_dsn, "indexes.advise")
    assert [(r["actor"], r["role"], r["outcome"]) for r in rows] == [
        ("ann", "admin", "done")
    ]
    assert rows[0]["detail"]["report_id"] == ran.json()["report_id"]


def test_weekly_report_and_no_target(demo_dsn: str) -> None:
    collect_with_load(demo_dsn)
    with client(demo_dsn, demo_dsn) as http:
        empty = http.get("/api/admin/indexes/report", headers=VIEWER_AUTH).json()
        assert empty["report_id"] is None
        missing = http.get("/api/admin/indexes/report.html", headers=VIEWER_AUTH)
        assert missing.status_code == 404
        built = http.post("/api/admin/indexes/report/run", headers=ADMIN_AUTH,
                          json={"by": "ann"})  # fmt: skip
        assert built.status_code == 200, built.text
        report = http.get("/api/admin/indexes/report", headers=VIEWER_AUTH).json()
        assert report["report_id"] == built.json()["report_id"]
        assert report["summary"]["total"] > 0
        page = http.get("/api/admin/indexes/report.html", headers=VIEWER_AUTH)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "DROP INDEX" in page.text
        space = http.get("/api/admin/space", headers=VIEWER_AUTH).json()
        assert space["measured_at"] == report["generated_at"]
    assert audit_rows(demo_dsn, "indexes.health-report")
    with client(demo_dsn, None) as http:
        answer = http.get("/api/admin/indexes/health", headers=ADMIN_AUTH)
        assert answer.status_code == 503 and "target" in answer.json()["detail"]
