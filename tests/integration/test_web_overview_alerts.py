"""The Overview's health summary and the Alerts page's statistics: the API's
figures are the ones the CLI prints with ``--format json``."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pgwarden import pg
from pgwarden.alerts import evaluate_once
from pgwarden.config import Settings, load_settings
from pgwarden.repository import migrate
from pgwarden.web import create_app
from tests.cli_helpers import pgwarden, pgwarden_json
from tests.integration.test_observe_metrics import TOKEN, collect_with_load

pytestmark = pytest.mark.slow
VIEWER = "viewer-token-9876543210"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
VIEWING = {"Authorization": f"Bearer {VIEWER}"}


def client(
    dsn: str, target_dsn: str | None, settings: Settings | None = None
) -> TestClient:
    """The app over the target as the CLI names it (by its address)."""
    app = create_app(settings or Settings(), dsn, pg.describe(dsn), TOKEN,
                     target_dsn=target_dsn, viewer_token=VIEWER)  # fmt: skip
    return TestClient(app)


def fire(dsn: str, target_name: str | None = None) -> None:
    """A firing ``wraparound`` alert (every table is inside a 100 % margin) of
    target ``target_name`` (default: named by its address)."""
    settings = load_settings(overrides={"alerts": {"wraparound_margin_pct": 100}})
    name = target_name or pg.describe(dsn)
    with pg.connect(dsn) as repo, pg.connect(dsn) as target:
        evaluate_once(repo, name, settings, datetime.now(UTC), target_conn=target,
                      channels=[])  # fmt: skip


def only_open(http: TestClient) -> int:
    found = http.get("/api/admin/alerts?state=open", headers=ADMIN).json()
    assert len(found) == 1, [a["rule"] for a in found]
    return int(found[0]["id"])


def act(http: TestClient, path: str) -> None:
    done = http.post(f"/api/admin/alerts/{path}", json={"by": "ana"}, headers=ADMIN)
    assert done.status_code == 200, done.text


def items(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["label"]: i for t in answer["tracks"] for i in t["items"]}


def due_now(http: TestClient, dsn: str) -> tuple[int, int]:
    """``maintain plan``'s due count and the overview's, read one after the other
    (again once, should autovacuum have changed the statistics in between)."""
    for _ in range(2):
        http.app.state.context.forget("maintenance.plan")  # read now, not reused
        answer = http.get("/api/admin/overview", headers=ADMIN).json()
        shown = items(answer)["maintenance operations due"]["value"]
        plan = pgwarden_json(dsn, "maintain", "plan")
        due = sum(1 for i in plan["items"] if i["due"])
        if shown == due:
            break
    return due, shown


def test_the_health_summary_is_the_cli_s(demo_dsn: str) -> None:
    collect_with_load(demo_dsn, pg.describe(demo_dsn))
    fire(demo_dsn)
    launched = pgwarden("--dsn", demo_dsn, "review", "launch", "--date", "2026-01-05")
    assert launched.returncode == 0, launched.stderr
    with client(demo_dsn, demo_dsn) as http:
        http.get("/api/admin/overview", headers=ADMIN)  # the catalog, cached hourly
        started = time.perf_counter()
        response = http.get("/api/admin/overview", headers=ADMIN)
        elapsed_ms = (time.perf_counter() - started) * 1000
        viewed = http.get("/api/admin/overview", headers=VIEWING)
        due, shown = due_now(http, demo_dsn)
    assert response.status_code == 200 and viewed.status_code == 200
    answer = response.json()
    print(f"overview answered in {elapsed_ms:.0f} ms")
    assert [t["track"] for t in answer["tracks"]] == [1, 2, 3, 4]
    found = items(answer)
    for item in found.values():
        assert item["display"] and "None" not in item["display"], item
        assert item["status"] in ("ok", "warning", "critical"), item

    firing = pgwarden_json(demo_dsn, "alerts", "list", "--state", "firing")
    assert firing and found["firing alerts"]["value"] == len(firing)
    assert answer["tracks"][0]["status"] != "ok"

    assert shown == due

    metrics = pgwarden_json(demo_dsn, "metrics")
    unused, total = metrics["unused_indexes"], len(metrics["index_usage"])
    share = found["unused indexes"]
    assert share["value"] == round(100 * unused / total, 1)
    assert share["display"].startswith(f"{unused} of {total} ")
    usage = pgwarden_json(demo_dsn, "indexes", "usage")["efficiency"]
    assert (usage["unused"], usage["indexes"]) == (unused, total)
    ratio = metrics["cache_hit_ratio"]["database"]
    assert found["cache hit ratio"]["value"] == ratio

    assert found["index health findings"]["value"] is None  # no report stored yet
    assert found["on call now"]["display"] == "not set up: no roster"
    schedule = pgwarden_json(demo_dsn, "review", "schedule")
    reviews = found["post-launch reviews due or overdue"]
    assert reviews["value"] == schedule["overdue"] + schedule["due"]
    shown = f"{schedule['overdue']} overdue, {schedule['due']} due"
    assert reviews["display"] == shown

    stored = pgwarden_json(demo_dsn, "report", "index-health", "--store")["summary"]
    with client(demo_dsn, demo_dsn) as http:
        again = items(http.get("/api/admin/overview", headers=ADMIN).json())
    findings = again["index health findings"]
    assert findings["value"] == stored["total"] and findings["as_of"]
    for severity, count in stored["by_severity"].items():
        assert (f"{count} {severity}" in findings["display"]) == (count > 0)


def test_alert_statistics_are_the_cli_s(demo_dsn: str) -> None:
    with pg.connect(demo_dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
    hiding = load_settings(overrides={"dashboard": {"hide_query_text": True}})
    with client(demo_dsn, None, hiding) as http:
        empty = http.get("/api/admin/overview", headers=VIEWING).json()
        for item in items(empty).values():
            assert item["display"] and "None" not in item["display"], item
            assert "hidden" not in item["display"], item
        assert items(empty)["maintenance operations due"]["value"] is None

        fire(demo_dsn)
        first = only_open(http)
        refused = http.post(f"/api/admin/alerts/{first}/ack", json={"by": "eve"},
                            headers=VIEWING)  # fmt: skip
        assert refused.status_code == 403
        act(http, f"{first}/ack")
        act(http, f"{first}/resolve")
        fire(demo_dsn)  # the condition holds: a new alert
        second = only_open(http)
        assert second != first
        act(http, f"{second}/resolve")
        stats = http.get("/api/admin/alert-stats?since_hours=168", headers=VIEWING)
        for bad in ("0", "nan", "inf", "-1", "x", "1e12"):
            answer = http.get(f"/api/admin/alert-stats?since_hours={bad}",
                              headers=ADMIN)  # fmt: skip
            assert answer.status_code == 422, bad
    assert stats.status_code == 200
    body = stats.json()
    assert body["by_severity"] == pgwarden_json(
        demo_dsn, "alerts", "stats", "--since", "7d"
    )
    every = next(s for s in body["by_severity"] if s["severity"] == "all")
    assert every["count"] == 2 and every["ttr_p50_s"] is not None
