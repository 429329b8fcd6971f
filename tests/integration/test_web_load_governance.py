"""The Load and Governance pages' API on a real repository: every answer equals
what the matching command prints with ``--format json``; empty states; the viewer
reads and stores nothing; a tampered decision log shows broken."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import typer
from fastapi.testclient import TestClient
from markupsafe import escape
from typer.testing import CliRunner

from pgwarden import pg
from pgwarden.cli import _global, load_cmd
from pgwarden.cli.ccb_cmd import app as ccb_app
from pgwarden.cli.oncall_cmd import app as oncall_app
from pgwarden.cli.rehearse_cmd import app as rehearse_app
from pgwarden.cli.report_cmd import app as report_app
from pgwarden.cli.review_cmd import app as review_app
from pgwarden.cli.runtime import Runtime
from pgwarden.config import Settings, load_settings
from pgwarden.ops.rehearse import store as rehearse_store
from pgwarden.repository import targets
from pgwarden.web import create_app
from pgwarden.web.redact import HIDDEN
from tests.integration.test_observe_metrics import TARGET, TOKEN, collect_with_load

pytestmark = pytest.mark.slow
VIEWER = "viewer-token-9876543210"
ADMIN_AUTH = {"Authorization": f"Bearer {TOKEN}"}
VIEWER_AUTH = {"Authorization": f"Bearer {VIEWER}"}
JSON_POST = ADMIN_AUTH | {"Content-Type": "application/json"}
BOARD = {"binding_voters": ["ana", "ben"], "min_approvals": 2}
ONCALL = {
    "people": [{"name": "oli"}, {"name": "pat"}],
    "layers": [{"name": "primary", "people": ["oli", "pat"]}],
}
QUICK = ["--duration", "1", "--ramp-up", "0", "--warmup", "0", "--users", "4",
         "--pool", "2", "--think-ms", "5", "--seed", "3", "--no-progress"]  # fmt: skip


def settings_for(dsn: str, tmp_path: Path) -> Settings:
    board = {**BOARD, "witness_dir": str(tmp_path / "witness")}
    return load_settings(overrides={"dsn": dsn, "ccb": board, "oncall": ONCALL})


def client(dsn: str, settings: Settings) -> TestClient:
    app = create_app(settings, dsn, TARGET, TOKEN, target_dsn=dsn, viewer_token=VIEWER)
    return TestClient(app)


def cli(app: typer.Typer, rt: Runtime, *args: str) -> Any:
    result = CliRunner().invoke(app, list(args), obj=rt)
    assert result.exit_code == 0, (args, result.output, result.exception)
    json_out = "json" in args and "--output" not in args
    return json.loads(result.stdout) if json_out else result


def load_app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)
    app.callback()(_global)
    app.add_typer(load_cmd.app, name="load")
    return app


def get(http: TestClient, path: str, auth: dict[str, str] = VIEWER_AUTH) -> Any:
    response = http.get("/api/admin" + path, headers=auth)
    assert response.status_code == 200, (path, response.text)
    return response.json()


def test_empty_states_say_what_fills_them(demo_dsn: str, tmp_path: Path) -> None:
    collect_with_load(demo_dsn)
    with client(demo_dsn, Settings()) as http:
        assert get(http, "/load/reports")["reports"] == []
        assert get(http, "/governance/ccb")["requests"] == []
        log = get(http, "/governance/log")
        assert log["total"] == 0 and log["verify"]["status"] == "intact"
        roster = get(http, "/governance/oncall")
        assert roster["configured"] is False and "docs/ONCALL.md" in roster["note"]
        ics = http.get("/api/admin/governance/oncall.ics", headers=VIEWER_AUTH)
        assert ics.status_code == 404 and "docs/ONCALL.md" in ics.json()["detail"]
        reviews = get(http, "/governance/reviews")
        assert reviews["reviews"] == [] and "review launch --date" in reviews["note"]
        assert get(http, "/governance/rehearsals")["rehearsals"] == []
        missing = http.get("/api/admin/load/reports/99999", headers=VIEWER_AUTH)
        assert missing.status_code == 404
        bad = http.post("/api/admin/load/reports", json={"x": 1}, headers=ADMIN_AUTH)
        assert bad.status_code == 422 and "not a report" in bad.json()["detail"]


def test_load_reports_match_the_run_and_report_list(
    demo_dsn: str, tmp_path: Path
) -> None:
    collect_with_load(demo_dsn)
    rt = Runtime(settings_for(demo_dsn, tmp_path), None, False)
    run_file = tmp_path / "run.json"
    cli(load_app(), rt, "--dsn", demo_dsn, "load", "run", *QUICK,
        "--format", "json", "--output", str(run_file))  # fmt: skip
    run = json.loads(run_file.read_text())
    with client(demo_dsn, rt.settings) as http:
        refused = http.post("/api/admin/load/reports", json=run, headers=VIEWER_AUTH)
        assert refused.status_code == 403
        for bad in (
            {k: v for k, v in run.items() if k != "pool"},
            run | {"throughput_per_s": float("nan")},
            run | {"scenario": "a\x00b"},
            run | {"settings": "many"},
            run | {"timeline": [{"t": "x"}]},
        ):
            refused = http.post(
                "/api/admin/load/reports", content=json.dumps(bad), headers=JSON_POST
            )
            assert refused.status_code == 422, refused.text
        stored = http.post("/api/admin/load/reports", json=run, headers=ADMIN_AUTH)
        assert stored.status_code == 201, stored.text
        report_id = stored.json()["id"]
        [row] = get(http, "/load/reports")["reports"]
        one = get(http, f"/load/reports/{report_id}")
        page = http.get(f"/api/admin/load/reports/{report_id}/html", headers=ADMIN_AUTH)
    assert row["id"] == report_id and row["kind"] == "load"
    assert row["throughput_per_s"] == run["throughput_per_s"]
    assert row["p95_ms"] == run["overall"]["p95_ms"]
    assert row["p99_ms"] == run["overall"]["p99_ms"]
    assert row["users"] == run["settings"]["users"] == 4
    assert row["errors"] == run["errors"]["total"]
    assert row["bottleneck"] == run["bottleneck"]["resource"]
    assert one["report"]["overall"] == run["overall"]
    assert "<svg" in one["html"] and "<script" not in one["html"]
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == "sandbox"
    statements = [str(escape(st["query"][:40])) for st in run["server"]["statements"]]
    assert statements and statements[0] in one["html"]
    shown_to_all = rt.settings.dashboard
    hidden = rt.settings.model_copy(
        update={"dashboard": shown_to_all.model_copy(update={"hide_query_text": True})}
    )
    with client(demo_dsn, hidden) as http:
        seen = get(http, f"/load/reports/{report_id}")
        page = http.get(
            f"/api/admin/load/reports/{report_id}/html", headers=VIEWER_AUTH
        )
    assert HIDDEN in seen["html"] and HIDDEN in page.text
    assert not [q for q in statements if q in seen["html"] + page.text]
    listed = cli(report_app, rt, "list", "--kind", "load", "--format", "json")
    assert [(r["id"], r["summary"]) for r in listed] == [(report_id, row["summary"])]
    with pg.connect(demo_dsn) as conn:
        logged = conn.execute(
            "SELECT role, action, outcome FROM pgwarden.audit_log"
        ).fetchall()
    assert logged == [("admin", "load.store", "stored")]
    kept = cli(load_app(), rt, "--dsn", demo_dsn, "load", "run", *QUICK, "--store",
               "--format", "json", "--output", str(tmp_path / "kept.json"))  # fmt: skip
    kept_id = int(kept.stderr.split("stored as report ")[1].split()[0])
    name = targets.name_of(demo_dsn, demo_dsn)  # the target the command resolved
    app = create_app(rt.settings, demo_dsn, name, TOKEN, target_dsn=demo_dsn)
    with TestClient(app) as http:
        newest = get(http, "/load/reports", ADMIN_AUTH)["reports"][0]
    assert newest["id"] == kept_id and newest["kind"] == "load"
    again = cli(report_app, rt, "show", str(kept_id), "--format", "json")
    assert again["throughput_per_s"] == newest["throughput_per_s"]


def seed_governance(rt: Runtime, tmp_path: Path) -> dict[str, Any]:
    """A submitted change request with one vote, a launch three days ago and a
    stored rehearsal; the request as ``ccb request show`` prints it."""
    migration = tmp_path / "m.sql"
    migration.write_text('CREATE INDEX answer_tenant_idx ON "Answer" ("tenantId");')
    req = cli(ccb_app, rt, "request", "new", "--title", "index answers",
              "--migration", str(migration), "--format", "json")  # fmt: skip
    cli(ccb_app, rt, "request", "update", str(req["id"]), "--status", "submitted")
    cli(ccb_app, rt, "vote", str(req["id"]), "approve", "--voter", "ana")
    launch = datetime.now(UTC).date() - timedelta(days=3)
    cli(review_app, rt, "launch", "--date", launch.isoformat())
    with pg.connect(rt.target_dsn()) as conn:
        rehearse_store.save(conn, rehearsal_report())
    shown: dict[str, Any] = cli(
        ccb_app, rt, "request", "show", str(req["id"]), "--format", "json"
    )
    return shown


def test_governance_matches_the_commands(demo_dsn: str, tmp_path: Path) -> None:
    collect_with_load(demo_dsn)
    rt = Runtime(settings_for(demo_dsn, tmp_path), None, False)
    shown = seed_governance(rt, tmp_path)
    log = cli(ccb_app, rt, "log", "--format", "json")
    now = cli(oncall_app, rt, "now", "--format", "json")
    ahead = cli(oncall_app, rt, "schedule", "--weeks", "4", "--format", "json")
    ical = cli(oncall_app, rt, "export-ical", "--weeks", "8").stdout
    reviews = cli(review_app, rt, "schedule", "--format", "json")
    rehearsals = cli(rehearse_app, rt, "list", "--format", "json")
    with client(demo_dsn, rt.settings) as http:
        ccb = get(http, "/governance/ccb")
        entries = get(http, "/governance/log")
        roster = get(http, "/governance/oncall?weeks=4")
        ics = http.get("/api/admin/governance/oncall.ics", headers=VIEWER_AUTH)
        found_reviews = get(http, "/governance/reviews")
        found_rehearsals = get(http, "/governance/rehearsals")["rehearsals"]

    [request] = ccb["requests"]
    assert request["risk_class"] == shown["risk_class"] == "C3"
    assert request["status"] == shown["status"] == "submitted"
    assert request["votes"] == shown["votes"]
    assert request["tally"] == {"approve": 1, "reject": 0, "abstain": 0}
    assert request["quorum"]["decision"] == "pending"
    assert request["quorum"]["reason"] == "1 of 2 binding approvals so far"
    shown_log = reversed(entries["entries"])
    assert [(e["seq"], e["kind"], e["actor"]) for e in shown_log] == [
        (e["seq"], e["kind"], e["actor"]) for e in log
    ]
    assert entries["verify"]["status"] == "intact"
    assert entries["verify"]["entries"] == len(log)

    assert [(s["layer"], s["person"]) for s in roster["now"]] == [
        (r["layer"], r["person"]) for r in now if r["until"]
    ]
    assert [s["person"] for s in roster["schedule"]] == [r["person"] for r in ahead]
    assert roster["now"][0]["end"] == roster["schedule"][0]["end"]  # the handoff
    assert ics.status_code == 200
    assert ics.headers["content-type"].startswith("text/calendar")
    assert ics.text.count("BEGIN:VEVENT") == ical.count("BEGIN:VEVENT") > 0

    assert found_reviews["launch"] == reviews["launch"]
    assert [(r["label"], r["state"]) for r in found_reviews["reviews"]] == [
        (r["label"], r["state"]) for r in reviews["reviews"]
    ]
    assert [(r["id"], r["verdict"], r["title"]) for r in found_rehearsals] == [
        (r["id"], r["verdict"], r["title"]) for r in rehearsals
    ]

    tamper(demo_dsn)
    broken = CliRunner().invoke(ccb_app, ["log", "--verify"], obj=rt)
    assert broken.exit_code == 1 and "entry 2 was changed" in broken.output
    with client(demo_dsn, rt.settings) as http:
        check = get(http, "/governance/log")["verify"]
    assert check["status"] == "broken" and check["broken_seq"] == 2
    assert check["reason"] == "entry 2 was changed after it was written"


def rehearsal_report() -> dict[str, Any]:
    at = datetime.now(UTC)
    return {
        "title": "add the tenant index", "target": TARGET,
        "plan": {"title": "add the tenant index", "window_minutes": 30},
        "started_at": (at - timedelta(minutes=2)).isoformat(),
        "finished_at": at.isoformat(), "verdict": "go",
        "reason": "no blocking problem",
        "durations": {"window_minutes": 30, "release_s": 1.5, "rollback_s": 0.5},
        "summary": {"line": "go: 0 blocking problem(s)"},
    }  # fmt: skip


def tamper(dsn: str) -> None:
    """A superuser bypassing the append-only trigger: verify catches it."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("UPDATE pgwarden.ccb_decision_log SET actor = 'mallory' "
                     "WHERE seq = 2")  # fmt: skip
