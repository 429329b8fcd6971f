"""The alerts API router behind the admin token, and the on-call CLI."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from pgwarden import pg
from pgwarden.alerts import evaluate_once
from pgwarden.cli.oncall_cmd import app as oncall_app
from pgwarden.cli.runtime import Runtime
from pgwarden.config import load_settings
from pgwarden.repository import migrate
from pgwarden.web import create_app

TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_list_ack_resolve_silence(empty_dsn: str) -> None:
    with pg.connect(empty_dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
        conn.commit()
    settings = load_settings(overrides={"alerts": {"wraparound_margin_pct": 100}})
    with pg.connect(empty_dsn) as repo, pg.connect(empty_dsn) as target:
        evaluate_once(repo, "db", settings, datetime.now(UTC), target_conn=target,
                      channels=[])  # fmt: skip
    app = create_app(settings, empty_dsn, "db", TOKEN)
    client = TestClient(app)
    assert client.get("/api/admin/alerts").status_code == 401
    found = client.get("/api/admin/alerts", headers=AUTH).json()
    alert = next(a for a in found if a["rule"] == "wraparound")
    url = f"/api/admin/alerts/{alert['id']}"
    acked = client.post(f"{url}/ack", json={"by": "ana"}, headers=AUTH).json()
    assert acked["state"] == "acknowledged" and acked["acked_by"] == "ana"
    again = client.post(f"{url}/ack", json={"by": "ana"}, headers=AUTH)
    assert again.status_code == 409
    done = client.post(f"{url}/resolve", json={"by": "ben"}, headers=AUTH).json()
    assert done["state"] == "resolved" and done["resolved_by"] == "ben"
    assert client.get("/api/admin/alerts/999999", headers=AUTH).status_code == 404
    body = {"comment": "vacuum freeze running", "created_by": "ana", "minutes": 30,
            "rule": "wraparound"}  # fmt: skip
    made = client.post("/api/admin/alerts/silences", json=body, headers=AUTH)
    assert made.status_code == 201
    listed = client.get("/api/admin/alerts/silences", headers=AUTH).json()
    assert listed[0]["comment"] == "vacuum freeze running"


def test_oncall_cli(tmp_path: Path) -> None:
    people = ["ana", "ben", "cai", "dee"]
    settings = load_settings(overrides={"oncall": {
        "people": [{"name": p} for p in people],
        "layers": [{"name": "primary", "people": people},
                   {"name": "secondary", "people": people, "offset": 2}],
    }})  # fmt: skip
    rt = Runtime(settings, None, False)
    runner = CliRunner()
    result = runner.invoke(oncall_app, ["check", "--weeks", "8"], obj=rt)
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        oncall_app, ["schedule", "--weeks", "8", "--format", "json"], obj=rt
    )
    assert result.exit_code == 0 and result.stdout.count('"layer"') >= 16
    ics = tmp_path / "oncall.ics"
    result = runner.invoke(oncall_app, ["export-ical", "-o", str(ics)], obj=rt)
    assert ics.read_bytes().startswith(b"BEGIN:VCALENDAR\r\n")
    three = load_settings(overrides={"oncall": {
        "people": [{"name": p} for p in people[:3]],
        "layers": [{"name": "primary", "people": people[:3]}]}})  # fmt: skip
    result = runner.invoke(oncall_app, ["check"], obj=Runtime(three, None, False))
    assert result.exit_code == 1
