"""The Maintenance and Capacity pages' API: the same figures as the CLI's JSON."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pgwarden import pg
from pgwarden.config import Settings
from pgwarden.plan import xlsx
from pgwarden.web import create_app
from tests.cli_helpers import pgwarden_json
from tests.integration.test_observe_metrics import TARGET, TOKEN, collect_with_load

pytestmark = pytest.mark.slow
VIEWER = "viewer-token-9876543210"
ADMIN_AUTH = {"Authorization": f"Bearer {TOKEN}"}
VIEWER_AUTH = {"Authorization": f"Bearer {VIEWER}"}
STAMP = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d")
#: every statement that writes ages every table by one transaction ID
XID_AGE = re.compile(r"age\(relfrozenxid\) [\d,]+")
RATE = re.compile(r"[0-9][0-9,.]* modifications/hour")


def identified(dsn: str) -> None:
    """Collect, and name the database of the collected target, so the CLI (which
    resolves its target by identity) and the app (named ``demo``) read one target."""
    collect_with_load(dsn)
    with pg.connect(dsn) as conn:
        conn.execute(
            "UPDATE pgwarden.target SET database_name = current_database() "
            "WHERE name = %s",
            [TARGET],
        )


def client(dsn: str, **kwargs: Any) -> TestClient:
    settings = Settings()
    kwargs.setdefault("target_dsn", dsn)
    return TestClient(
        create_app(settings, dsn, TARGET, TOKEN, viewer_token=VIEWER, **kwargs)
    )


def same(value: Any) -> Any:
    """JSON as compared: timestamps as instants, whichever way they were written."""
    if isinstance(value, dict):
        return {k: same(v) for k, v in value.items()}
    if isinstance(value, list):
        return [same(v) for v in value]
    if isinstance(value, str) and STAMP.match(value):
        return datetime.fromisoformat(value)
    return value


def get(http: TestClient, path: str, auth: dict[str, str] = ADMIN_AUTH) -> Any:
    response = http.get(path, headers=auth)
    assert response.status_code == 200, (path, response.text)
    return response.json()


def items(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The plan's items, the transaction ID age and the rate of modifications
    (both change with the moment of reading) in their reasons left out."""
    return [i | {"reason": RATE.sub("N modifications/hour",
                                    XID_AGE.sub("age(relfrozenxid) N", i["reason"]))}
            for i in plan["items"]]  # fmt: skip


def plans_agree(http: TestClient, dsn: str) -> tuple[Any, Any]:
    """The page's plan and ``maintain plan --all``; read again once should
    autovacuum have changed the statistics in between."""
    for _ in range(2):
        http.app.state.context.forget("maintenance.plan")  # read now, not reused
        page = get(http, "/api/admin/maintenance/plan?all=true")
        printed = pgwarden_json(dsn, "maintain", "plan", "--all")
        if items(page) == items(printed):
            break
    return page, printed


def test_maintenance_matches_the_cli(demo_dsn: str) -> None:
    identified(demo_dsn)
    ran = pgwarden_json(
        demo_dsn, "maintain", "run", "--table", "Answer", "--operation", "vacuum"
    )
    assert [r["status"] for r in ran["runs"]] == ["ok"]
    with client(demo_dsn) as http:
        page, printed = plans_agree(http, demo_dsn)
        assert items(page) == items(printed) and page["items"]
        assert page["window"] == printed["window"]
        assert page["due"] == sum(i["due"] for i in printed["items"])

        history = get(http, "/api/admin/maintenance/history?since=1d", VIEWER_AUTH)
        runs = pgwarden_json(demo_dsn, "maintain", "history", "--since", "1d")
        assert same(history) == same(runs)
        vacuum = history[-1]
        assert (vacuum["table_name"], vacuum["operation"], vacuum["status"]) == (
            "Answer", "vacuum", "ok")  # fmt: skip
        assert vacuum["duration_ms"] > 0 and vacuum["live_rows_after"] > 0

        status = get(http, "/api/admin/maintenance/status")
        printed_status = pgwarden_json(demo_dsn, "maintain", "status")
        assert status["running"] == printed_status["running"] == []
        assert same(status["stale_tables"]) == same(printed_status["stale_tables"])
        assert status["progress"] == []

        freeze = get(http, "/api/admin/maintenance/wraparound?limit=5")
        planned = {f"{i['schema']}.{i['table']}" for i in page["items"]}
        assert freeze["count"] == len(planned) and len(freeze["tables"]) == 5
        assert {f"{t['schema']}.{t['table']}" for t in freeze["tables"]} <= planned
        oldest = freeze["tables"][0]
        assert 0 < oldest["xid_age"] < oldest["freeze_max_age"] == 200_000_000
        assert freeze["database"]["xid_age"] >= oldest["xid_age"]

        window = get(http, "/api/admin/maintenance/window")
        assert window["span"] == printed["window"]["span"]
        assert window["open"] == printed["window"]["open"]
        assert window["opens_at"] < window["closes_at"] or window["open"]

        for bad in ("history?since=soon", "wraparound?limit=0", "plan?all=maybe"):
            response = http.get(f"/api/admin/maintenance/{bad}", headers=ADMIN_AUTH)
            assert response.status_code == 422, bad
        run_what_is_due(http, demo_dsn, len(history))
    with client(demo_dsn, target_dsn=None) as http:
        for page in (
            "maintenance/status",
            "capacity/baseline",
            "indexes/health",
            "live",
        ):
            response = http.get(f"/api/admin/{page}", headers=ADMIN_AUTH)
            assert response.status_code == 503, page
            detail = response.json()["detail"]
            assert detail.startswith(
                "the dashboard was started without the target's DSN"
            )


def run_what_is_due(http: TestClient, dsn: str, runs_before: int) -> None:
    """The admin runs what is due (as ``maintain run``), audited; the viewer may not."""
    path = "/api/admin/maintenance/run"
    by = {"by": "Ada"}
    assert http.post(path, json=by, headers=VIEWER_AUTH).status_code == 403
    assert http.post(path, json={}, headers=ADMIN_AUTH).status_code == 422
    response = http.post(path, json=by, headers=ADMIN_AUTH)
    assert response.status_code == 200, response.text
    done = response.json()
    assert done["summary"].startswith("maintenance of demo: ")
    assert {r["status"] for r in done["runs"]} <= {"ok"}
    history = get(http, "/api/admin/maintenance/history?since=1d")
    assert len(history) == runs_before + len(done["runs"])
    with pg.connect(dsn) as conn:
        entry = pg.fetch_one(
            conn, "SELECT role, actor, action, outcome, detail FROM pgwarden.audit_log "
            "ORDER BY id DESC LIMIT 1",
        )  # fmt: skip
    assert entry is not None
    assert (entry["role"], entry["actor"], entry["action"], entry["outcome"]) == (
        "admin", "Ada", "maintenance.run", "done")  # fmt: skip
    assert entry["detail"]["summary"] == done["summary"]


def without(found: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in found.items() if k not in keys}


def test_capacity_matches_the_cli(demo_dsn: str) -> None:
    identified(demo_dsn)
    with client(demo_dsn) as http:
        for _ in range(2):  # again once, should the database have grown in between
            http.app.state.context.forget("capacity.baseline")  # read now
            printed = pgwarden_json(demo_dsn, "capacity", "baseline")
            projected = pgwarden_json(
                demo_dsn, "capacity", "project", "--months", "3,12", "--users-x", "5"
            )
            baseline = get(http, "/api/admin/capacity/baseline", VIEWER_AUTH)
            shown = without(baseline, "generated_at", "daily", "keep_seconds")
            if same(shown) == same(without(printed, "generated_at")):
                break
        assert same(shown) == same(without(printed, "generated_at"))
        assert len(baseline["daily"]) == 1 and baseline["daily"][0]["size_bytes"] > 0
        page = get(http, "/api/admin/capacity/projection?months=3,12&users_x=5")
        assert same(without(page, "generated_at")) == same(projected)
        assert page["generated_at"] == baseline["generated_at"]  # computed once

        sheet = http.get("/api/admin/capacity/spreadsheet", headers=VIEWER_AUTH)
        assert sheet.status_code == 200
        assert sheet.headers["content-type"] == xlsx_type()
        assert sheet.headers["content-disposition"] == (
            'attachment; filename="pgwarden-capacity-demo.xlsx"'
        )
        assert (
            "xl/workbook.xml" in zipfile.ZipFile(io.BytesIO(sheet.content)).namelist()
        )
        book = xlsx_book(sheet.content)
        assert tuple(book.sheetnames) == xlsx.SHEETS
        size = book["Inputs"][xlsx.CELLS["database_bytes"]].value
        assert size == baseline["database"]["size_bytes"]

        for bad in ("projection?months=13x", "projection?users_x=0",
                    "spreadsheet?months=0"):  # fmt: skip
            response = http.get(f"/api/admin/capacity/{bad}", headers=ADMIN_AUTH)
            assert response.status_code == 422, bad


def xlsx_type() -> str:
    return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_book(data: bytes) -> Any:
    from openpyxl import load_workbook  # type: ignore[import-untyped, unused-ignore]

    return load_workbook(io.BytesIO(data))


def test_capacity_without_history_says_so(empty_dsn: str) -> None:
    from pgwarden.repository import migrate

    with pg.connect(empty_dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
    with client(empty_dsn) as http:
        for path in ("baseline", "projection", "spreadsheet"):
            response = http.get(f"/api/admin/capacity/{path}", headers=ADMIN_AUTH)
            assert response.status_code == 404, path
            assert "pgwarden collect" in response.json()["detail"]
        plan = http.get("/api/admin/maintenance/plan", headers=ADMIN_AUTH)
        assert plan.status_code == 404


def test_window_opens_and_closes_in_its_zone() -> None:
    from datetime import time
    from zoneinfo import ZoneInfo

    from pgwarden.maintain import Window
    from pgwarden.web.views.maintenance import window_times

    window = Window(time(22), time(3), "Europe/Berlin")
    zone = ZoneInfo("Europe/Berlin")
    night = window_times(window, datetime(2026, 12, 6, 23, 30, tzinfo=zone))
    assert night["open"] and night["span"] == "22:00-03:00 Europe/Berlin"
    assert night["closes_at"] == "2026-12-07T03:00:00+01:00"
    assert night["opens_at"] == "2026-12-07T22:00:00+01:00"
    noon = window_times(window, datetime(2026, 12, 6, 12, 0, tzinfo=zone))
    assert not noon["open"]
    assert (noon["opens_at"], noon["closes_at"]) == (
        "2026-12-06T22:00:00+01:00", "2026-12-07T03:00:00+01:00")  # fmt: skip
