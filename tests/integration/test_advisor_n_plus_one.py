"""N+1 findings from pg_stat_statements, caller tags and the server log, for real.

The application's connections log every statement (``log_min_duration_statement =
0``, as one would for an investigation) and the log is read into the slow query
log with a threshold of 0 ms, so the advisor sees each backend's statements in
order.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from pgwarden import pg
from pgwarden.advise.queries.findings import QueryFinding
from pgwarden.advise.queries.run import run as run_queries
from pgwarden.config import Settings
from pgwarden.demo.sqlcommenter import tag
from pgwarden.repository import migrate
from pgwarden.slowlog import ensure_target, ingest_server_log
from pgwarden.slowlog.severity import Thresholds
from tests.conftest import TestServer
from tests.integration.test_advisor_demo import workload

EVERYTHING = Thresholds(warning_ms=0.0, critical_ms=500.0, emergency_ms=1000.0)
CHILD = 'SELECT id, value FROM "Answer" WHERE id = %s'


@pytest.fixture
def log_dir(pg_server: TestServer) -> Path:
    if pg_server.embedded is None:
        pytest.skip("needs the server's log directory")
    return pg_server.embedded.pgdata / "log"


def _logged(dsn: str) -> str:
    """``dsn`` with every statement of its sessions logged."""
    return make_conninfo(dsn, options="-c log_min_duration_statement=0")


def _ingest(dsn: str, log_dir: Path) -> None:
    """Wait for the log to hold this moment, then read it into the slow query log."""
    marker = f"m_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_logged(dsn), autocommit=True) as conn:
        conn.execute(f"SELECT 1 AS {marker}")
    deadline = time.monotonic() + 20
    while marker not in "".join(
        p.read_text(errors="replace") for p in log_dir.iterdir() if p.is_file()
    ):
        assert time.monotonic() < deadline, f"{marker} never reached the server log"
        time.sleep(0.2)
    with pg.connect(dsn, statement_timeout_ms=None) as repo:
        target = ensure_target(repo, pg.describe(dsn))
        ingest_server_log(repo, target, log_dir, thresholds=EVERYTHING)


def _repository(dsn: str) -> None:
    with pg.connect(dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)


def _n_plus_one(dsn: str) -> list[QueryFinding]:
    advice, _ = run_queries(Settings(), dsn, dsn)
    return [f for f in advice.findings if f.kind == "n_plus_one"]


def test_the_planted_n_plus_one_is_found_with_its_caller_and_sequence(
    demo_dsn: str, log_dir: Path
) -> None:
    _repository(demo_dsn)
    workload(_logged(demo_dsn))
    _ingest(demo_dsn, log_dir)

    found = _n_plus_one(demo_dsn)

    planted = [f for f in found if "open_assessment_n_plus_one" in (f.caller or "")]
    assert len(planted) == 1, [f.as_dict() for f in found]
    f = planted[0]
    assert f.evidence["confidence"] == "high" and f.severity == "warning"
    assert 'FROM "Answer" AS an' in f.query and "an.id = $1" in f.query
    assert 'SELECT id FROM "Answer"' in f.evidence["parent_query"]  # get_answer_ids
    assert f.evidence["calls_per_parent_call"] >= 5
    seq = f.evidence["sources"]["sequence"]
    assert seq["sources"].get("server_log", 0) > 0
    assert seq["children_after_parent"] > seq["children_elsewhere"]
    assert "an.id = ANY($1)" in f.fix
    assert f.evidence["round_trips_removed"] > 0 and f.saved_ms > 0
    # open_assessment loads the same assessment row with two queries: no loop there
    assert all("open_assessment /" not in (f.caller or "") for f in found)


def _request(conn: psycopg.Connection[Any], action: str, parent: str) -> None:
    """One request: the parent's ids, then one lookup per id (the N+1)."""
    ids = conn.execute(tag(parent, action=action, route=f"/{action}")).fetchall()
    for (answer_id,) in ids:
        conn.execute(tag(CHILD, action=action, route=f"/{action}"), [answer_id])


def _shared_and_unrelated(dsn: str) -> None:
    first = 'SELECT id FROM "Answer" WHERE id > 0 ORDER BY id LIMIT 12'
    second = 'SELECT id FROM "Answer" WHERE id > 100 ORDER BY id DESC LIMIT 8'
    with psycopg.connect(_logged(dsn), autocommit=True) as conn:
        for n in range(4):  # one pooled connection serving both callers in turn
            _request(conn, "review_answers", first)
            if n < 3:
                _request(conn, "export_answers", second)
    sweep = 'SELECT id FROM "Task" WHERE id = %s'
    totals = 'SELECT count(*) FROM "Task" WHERE "tenantId" = %s'
    with psycopg.connect(_logged(dsn), autocommit=True) as counts:
        for tenant in range(1, 6):
            counts.execute(tag(totals, action="sweep", route="/sweep"), [tenant])
    with psycopg.connect(_logged(dsn), autocommit=True) as lookups:
        for task in range(1, 61):  # many calls, but never after the count
            lookups.execute(tag(sweep, action="sweep", route="/sweep"), [task])


def test_a_shared_child_is_split_and_unrelated_repetition_cleared_by_the_log(
    demo_dsn: str, log_dir: Path
) -> None:
    _repository(demo_dsn)
    _shared_and_unrelated(demo_dsn)

    # pg_stat_statements alone: the shared lookup goes to the caller seen first,
    # and the sweep's lookups look like a loop by their ratio and caller tag
    before = {f.caller: f for f in _n_plus_one(demo_dsn)}
    assert set(before) == {"review_answers /review_answers", "sweep /sweep"}
    assert before["sweep /sweep"].evidence["confidence"] == "medium"

    _ingest(demo_dsn, log_dir)
    after = {f.caller: f for f in _n_plus_one(demo_dsn)}

    assert set(after) == {
        "review_answers /review_answers",
        "export_answers /export_answers",
    }
    review = after["review_answers /review_answers"]
    export = after["export_answers /export_answers"]
    assert review.queryid == export.queryid  # one child statement, two loops
    callers = {c["caller"]: c for c in review.evidence["callers"]}
    assert review.evidence["callers"] == export.evidence["callers"]
    assert callers["review_answers /review_answers"]["calls"] == 48  # 4 x 12
    assert callers["export_answers /export_answers"]["calls"] == 24  # 3 x 8
    assert review.evidence["calls_per_parent_call"] == 12.0
    assert export.evidence["calls_per_parent_call"] == 8.0
    assert "DESC" not in review.evidence["parent_query"]
    assert "DESC" in export.evidence["parent_query"]
    assert {review.evidence["confidence"], export.evidence["confidence"]} == {"high"}
