"""Business measures on a real repository: a CSV import and an API post of each
measure (bad rows rejected with their reason, good rows kept), a daily review showing
error rates, adoption, satisfaction and support with trends, measures not recorded,
the adoption query of the reference application (and one failing), and an action
item following a measure."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from pgwarden import pg
from pgwarden.cli.ccb_cmd import app as ccb_app
from pgwarden.cli.review_cmd import app as review_app
from pgwarden.cli.runtime import Runtime
from pgwarden.config import load_settings
from pgwarden.errors import PgwardenError
from pgwarden.ops.review import report as review_report
from pgwarden.ops.review import run as review_run
from pgwarden.reports import register_target
from pgwarden.repository import migrate
from pgwarden.web import create_app
from tests.cli_helpers import pgwarden

TOKEN = "measures-t0ken"
DAY1 = datetime(2026, 3, 10, tzinfo=UTC)  # the previous period
DAY2 = datetime(2026, 3, 11, tzinfo=UTC)  # the reviewed day
USERS = (
    'SELECT count(DISTINCT "actorId") FROM "AuditLog" '
    'WHERE "createdAt" >= %(start)s AND "createdAt" < %(end)s'
)

CSV = """name,value,at,responses
active_users,100,2026-03-10T12:00:00Z,
active_tenants,10,2026-03-10T12:00:00Z,
csat,4.0,2026-03-10T12:00:00Z,50
nps,20,2026-03-10T12:00:00Z,40
tickets_opened,5,2026-03-10T09:00:00Z,
tickets_opened,7,2026-03-10T18:00:00Z,
tickets_closed,8,2026-03-10T18:00:00Z,
tickets_open,30,2026-03-10T23:00:00Z,
visitors,3,2026-03-10T12:00:00Z,
csat,7,2026-03-10T12:00:00Z,5
tickets_open,1.5,2026-03-10T12:00:00Z,
tickets_open,3,yesterday,
tickets_closed,3,2026-03-10T12:00:00Z,9
tickets_open,3
"""
BAD_CSV = {
    10: "unknown measure 'visitors'",
    11: "csat must be between 1 and 5",
    12: "tickets_open is a count",
    13: "is not an ISO 8601 timestamp",
    14: "responses apply to csat and nps",
    15: "2 fields where the header has 4",
}


def _rt(dsn: str, **reviews: Any) -> Runtime:
    chosen: dict[str, Any] = {"dsn": dsn, "timezone": "UTC"}
    if reviews:
        chosen["reviews"] = reviews
    return Runtime(load_settings(overrides=chosen), None, False)


def _cli(app: Any, rt: Runtime, *args: str) -> Result:
    return CliRunner().invoke(app, list(args), obj=rt)


def _seed_app(dsn: str) -> None:
    """Three actors in 2 tenants on DAY2, two in one tenant on DAY1; error counts
    reported by an application over both days."""
    with pg.connect(dsn, workload=True) as conn:
        conn.execute(  # the reference data's own activity of those days
            'DELETE FROM "AuditLog" WHERE "createdAt" >= %s AND "createdAt" < %s',
            [DAY1 - timedelta(days=1), DAY2 + timedelta(days=3)],
        )
        for actor, tenant, day in ((1, 1, DAY1), (2, 1, DAY1), (1, 1, DAY2),
                                   (2, 2, DAY2), (3, 2, DAY2)):  # fmt: skip
            conn.execute(
                'INSERT INTO "AuditLog" ("tenantId", "actorId", action, "entityType",'
                ' "entityId", "createdAt") VALUES (%s, %s, %s, %s, 1, %s)',
                [tenant, actor, "SEEN", "Test", day + timedelta(hours=actor)],
            )


def _seed_errors(repo: psycopg.Connection[Any], target: int) -> None:
    repo.execute(
        "INSERT INTO pgwarden.error_source VALUES (%s, 'application', 'app', %s, %s)",
        [target, DAY1, DAY2 + timedelta(hours=23)],
    )
    days = {
        DAY1: {"unique_violation": 12},
        DAY2: {"unique_violation": 24, "deadlock_detected": 12},
    }
    for day, counts in days.items():
        at = day + timedelta(hours=6)
        for cls, n in counts.items():
            repo.execute(
                "INSERT INTO pgwarden.error_count VALUES"
                " (%s, %s, 'application', 'app', %s, %s)",
                [target, at, cls, n],
            )
        repo.execute(
            "INSERT INTO pgwarden.error_calls VALUES (%s, %s, 'app', 1000)",
            [target, at],
        )


def _post(http: TestClient, body: Any) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http.post(
        "/api/ingest/measures",
        content=data,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )


def _api(dsn: str, target: str) -> None:
    """DAY2's readings through the API, with bad records rejected alone."""
    at = "2026-03-11T12:00:00Z"
    records = [
        {"name": "active_users", "value": 120, "at": at},
        {"name": "active_tenants", "value": 10, "at": at},
        {"name": "csat", "value": 3.5, "at": at, "responses": 50},
        {"name": "csat", "value": 4.5, "at": "2026-03-11T15:00:00Z", "responses": 150},
        {"name": "nps", "value": 30, "at": at, "responses": 40},
        {"name": "tickets_opened", "value": 20, "at": at},
        {"name": "tickets_closed", "value": 10, "at": at},
        {"name": "tickets_open", "value": 40, "at": at},
        {"name": "nps", "value": 101, "at": at},
        {"name": "csat", "value": "four", "at": at},
        {"name": "tickets_open", "value": "HUGE", "at": at},
        {"name": "tickets_open", "value": 1, "at": at, "by": "me"},
        "tickets_open=3",
    ]
    settings = load_settings(overrides={"dashboard": {"max_body_bytes": 4000}})
    with TestClient(create_app(settings, dsn, target, TOKEN)) as http:
        body = json.dumps({"measures": records}).replace('"HUGE"', "1e400")
        answer = _post(http, body.encode())
        assert answer.status_code == 200, answer.text
        found = answer.json()
        assert (found["accepted"], found["rejected"]) == (8, 5)
        reasons = {r["record"]: r["reason"] for r in found["reasons"]}
        assert "nps must be between -100 and 100" in reasons[9]
        assert "is not a number" in reasons[10]
        assert "finite" in reasons[11]
        assert "unknown field 'by'" in reasons[12]
        assert "an object" in reasons[13]
        assert _post(http, b'[{"name": "nps", "value": NaN}]').status_code == 422
        assert _post(http, b"not json").status_code == 422
        assert _post(http, {"name": "nps"}).status_code == 422
        assert _post(http, [records[0]] * 200).status_code == 413
        viewer = http.post("/api/ingest/measures", content=b"[]")
        assert viewer.status_code == 401


def test_measures_in_and_the_daily_review_with_trends(
    demo_dsn: str, tmp_path: Path
) -> None:
    with pg.connect(demo_dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
        conn.commit()
    _seed_app(demo_dsn)
    rt = _rt(demo_dsn)
    with pg.connect(demo_dsn) as repo:
        target = register_target(repo, demo_dsn)
        _seed_errors(repo, target.id)

    # CSV: DAY1's readings kept, each bad row named with its line and reason
    (tmp_path / "day1.csv").write_text(CSV)
    done = _cli(review_app, rt, "measure", "import", str(tmp_path / "day1.csv"),
                "--format", "json")  # fmt: skip
    assert done.exit_code == 1, done.output
    result = json.loads(done.stdout)
    assert (result["imported"], result["rejected"]) == (8, len(BAD_CSV))
    reasons = {r["line"]: r["reason"] for r in result["reasons"]}
    for line, reason in BAD_CSV.items():
        assert reason in reasons[line], (line, reasons)
    assert "line 10: unknown measure" in done.stderr

    _api(demo_dsn, target.name)
    # the CLI: a negative NPS replaces the API's reading at the same time
    done = _cli(review_app, rt, "measure", "add", "nps", "-20", "--responses", "40",
                "--at", "2026-03-11T12:00:00Z")  # fmt: skip
    assert done.exit_code == 0, done.output
    refused = pgwarden("--dsn", demo_dsn, "review", "measure", "add", "nps", "-101")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "error: nps must be between -100 and 100, not -101"
    ]
    listed = json.loads(
        _cli(
            review_app, rt, "measure", "list", "--name", "nps", "--format", "json"
        ).stdout
    )
    assert [(r["value"], r["source"]) for r in listed] == [(-20, "cli"), (20, "csv")]

    # an action item following the backlog
    done = _cli(ccb_app, rt, "action", "add", "cut the backlog", "--owner", "ana",
                "--due", "2026-03-20", "--measure", "tickets_open")  # fmt: skip
    assert done.exit_code == 0, done.output
    bad = _cli(ccb_app, rt, "action", "add", "x", "--owner", "ana", "--due",
               "2026-03-20", "--measure", "happiness")  # fmt: skip
    assert isinstance(bad.exception, PgwardenError) and bad.exception.exit_code == 2
    assert "unknown measure 'happiness'" in str(bad.exception)

    # the review of DAY2: every figure now, before and its trend
    settings = _rt(demo_dsn, active_users_query=USERS).settings
    now = DAY2 + timedelta(days=1, hours=6)
    made = review_run.generate_period(settings, demo_dsn, demo_dsn, "day", now)
    measures = made.report["measures"]
    got = {f["name"]: f for g in measures["groups"] for f in g["figures"]}
    expected = {  # name: (now, previous, trend, verdict)
        "active_users": (3, 2, "up", "better"),  # the query, not the readings
        "active_tenants": (10, 10, "flat", "same"),
        "csat": (4.25, 4.0, "up", "better"),  # weighted by responses
        "nps": (-20, 20, "down", "worse"),
        "tickets_opened": (20, 12, "up", "worse"),  # summed over the day
        "tickets_closed": (10, 8, "up", "better"),
        "tickets_open": (40, 30, "up", "worse"),
    }
    assert {
        n: (f["now"], f["previous"], f["trend"], f["verdict"]) for n, f in got.items()
    } == expected
    assert got["csat"]["responses"] == 200 and got["active_users"]["sources"] == [
        "query"
    ]
    errors = measures["error_rate"]
    assert errors["now"] == round(36 / 1440, 4) and errors["previous"] == round(
        12 / 1440, 4
    )
    assert (errors["trend"], errors["verdict"]) == ("up", "worse")
    assert errors["by_class"] == {"unique_violation": 24, "deadlock_detected": 12}
    assert measures["not_recorded"] == []
    item = made.report["actions"]["open_items"][0]
    assert item["measure"] == "tickets_open" and item["figure"]["now"] == 40
    md = made.markdown
    assert "| tickets opened | 20 tickets | 12 | up 8: worse (up is bad) |" in md
    assert "| NPS | -20 score -100..100 (40 responses) | 20 |" in md
    assert "#1 cut the backlog: tickets_open 40 (previous 30, up)" in md
    html = review_report.render(made.report, "html")
    assert "<td>active users</td><td>3 users (query)</td>" in html

    # the next day: nothing recorded is "not recorded" with its command, never 0;
    # the adoption queries fail (several statements; a write) and say so
    broken = _rt(
        demo_dsn,
        active_users_query=USERS + '; DELETE FROM "AuditLog"',
        active_tenants_query='WITH gone AS (DELETE FROM "AuditLog" RETURNING 1)'
        " SELECT count(*) FROM gone",
    ).settings
    later = review_run.generate_period(
        broken, demo_dsn, demo_dsn, "day", now + timedelta(days=1)
    )
    m = later.report["measures"]
    got = {f["name"]: f for g in m["groups"] for f in g["figures"]}
    assert set(m["not_recorded"]) == {"error_rate", *got}
    assert all(f["now"] is None and f["trend"] is None for f in got.values())
    assert got["tickets_open"]["previous"] == 40
    assert "must be exactly one SELECT" in got["active_users"]["note"]
    assert "read-only transaction" in got["active_tenants"]["note"]
    notes = " ".join(later.report["notes"])
    assert "active users: adoption query failed:" in notes
    assert "| CSAT | not recorded | 4.25 | n/a |" in later.markdown
    assert "- CSAT: pgwarden review measure add csat SCORE --responses N" in (
        later.markdown
    )
    with pg.connect(demo_dsn) as conn:
        row = conn.execute('SELECT count(*) FROM "AuditLog"').fetchone()
    assert row is not None and row[0] >= 5  # the DELETE never ran
