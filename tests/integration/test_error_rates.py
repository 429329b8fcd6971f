"""Error rates on a real server: errors provoked on it and read from its log, a
written csvlog/jsonlog read through the collector's path, application reports
through the API, the overview's and the CLI's figure, the error_rate alert."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from pgwarden import pg
from pgwarden.alerts import evaluate_once, store
from pgwarden.collect import collect_once
from pgwarden.config import load_settings
from pgwarden.observe.errors import error_rates
from pgwarden.observe.prometheus import error_families, render
from pgwarden.repository import migrate
from pgwarden.slowlog import ensure_target, ingest_server_log, ingest_stream
from pgwarden.slowlog.client import PoolReporter, SlowQueryRecorder
from pgwarden.web import create_app
from tests.cli_helpers import pgwarden_json
from tests.conftest import TestServer

TOKEN = "errors-t0ken-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def repo(empty_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with pg.connect(empty_dsn, statement_timeout_ms=None) as conn:
        migrate(conn)
        yield conn


def _window(conn: psycopg.Connection[Any], target_id: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    since = now - timedelta(minutes=30)
    return error_rates(conn, target_id, since, now + timedelta(minutes=2)).as_dict()


def _app_conn(dsn: str, **options: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(dsn, autocommit=True, application_name="shop", **options)


def _provoke(dsn: str, marker: str) -> None:
    """One error of each kind the application would meet, then a marked one."""
    with _app_conn(dsn) as a, _app_conn(dsn) as b:
        a.execute("CREATE TABLE item (id int PRIMARY KEY, n int)")
        a.execute("INSERT INTO item VALUES (1, 0)")
        with pytest.raises(psycopg.errors.UniqueViolation):
            a.execute("INSERT INTO item VALUES (1, 0)")
        a.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        a.execute("SELECT n FROM item")
        b.execute("UPDATE item SET n = n + 1")
        with pytest.raises(psycopg.errors.SerializationFailure):
            a.execute("UPDATE item SET n = n + 1")
        a.execute("ROLLBACK")
        a.execute("BEGIN")
        a.execute("LOCK item")
        b.execute("SET lock_timeout = '50ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            b.execute("SELECT * FROM item")
        a.execute("ROLLBACK")
        b.execute("SET statement_timeout = '50ms'")
        with pytest.raises(psycopg.errors.QueryCanceled):
            b.execute("SELECT pg_sleep(2)")
        b.execute("RESET statement_timeout")
        threading.Timer(0.3, b.cancel_safe).start()
        with pytest.raises(psycopg.errors.QueryCanceled):
            b.execute("SELECT pg_sleep(5)")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn, user="no_such_role_" + marker, connect_timeout=5)
    with _app_conn(dsn) as a, pytest.raises(psycopg.errors.DivisionByZero):
        a.execute(f"SELECT 1 / 0 AS {marker}")


def _wait_for_log(log_dir: Path, marker: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in [*log_dir.glob("*.json"), *log_dir.glob("*.csv")]:
            if marker in path.read_text(errors="replace"):
                return
        time.sleep(0.1)
    pytest.fail(f"{marker} never reached the server log")


def test_errors_provoked_on_the_server_are_counted_by_class_once(
    pg_server: TestServer, empty_dsn: str, repo: psycopg.Connection[Any]
) -> None:
    if pg_server.embedded is None:
        pytest.skip("needs the server's log directory")
    log_dir = pg_server.embedded.pgdata / "log"
    dbname = str(psycopg.conninfo.conninfo_to_dict(empty_dsn)["dbname"])
    target_id = ensure_target(repo, "provoked")
    assert _window(repo, target_id)["recorded"] is False
    marker = f"m_{uuid.uuid4().hex[:10]}"
    _provoke(empty_dsn, marker)
    _wait_for_log(log_dir, marker)

    first = ingest_server_log(repo, target_id, log_dir, database=dbname)
    again = ingest_server_log(repo, target_id, log_dir, database=dbname)
    assert first.records > 0 and again.records == 0
    found = _window(repo, target_id)
    expected = {
        "serialization_failure": 1, "lock_not_available": 1, "statement_timeout": 1,
        "query_canceled": 1, "unique_violation": 1, "authentication_failure": 1,
        "other_22": 1,
    }  # fmt: skip
    assert found["by_class"] == expected
    [log, app] = found["sources"]
    assert (log["source"], log["recorded"], log["errors"]) == ("server_log", True, 7)
    assert (app["recorded"], app["errors"]) == (False, 0)
    assert found["recorded"] and found["calls"] is None and found["share"] is None
    assert found["per_minute"] == pytest.approx(7 / 32)
    assert sum(m["errors"] for m in found["by_minute"]) == 7

    with pg.connect(empty_dsn) as target:  # pg_stat_statements' calls: the basis
        for _ in range(2):
            collect_once(target, repo, "provoked")
    basis = _window(repo, target_id)
    assert basis["calls_source"] == "statements" and basis["calls"] >= 7
    assert basis["share"] == pytest.approx(7 / basis["calls"])


def _csv(ts: str, severity: str, code: str, message: str, **kw: str) -> str:
    fields = [f"{ts} UTC", "app", kw.get("db", "shopdb"), "42", "", "", "1", "",
              "", "", "", severity, code, message, "", "", "", "", "", "", "", "",
              kw.get("app", "shop"), "client backend", "", "0"]  # fmt: skip
    quoted = ('"' + f.replace('"', '""') + '"' if f else "" for f in fields[1:])
    return ",".join([fields[0], *quoted])  # the timestamp unquoted, as PostgreSQL


def test_a_written_log_is_read_through_the_collector_path_hostile_lines_included(
    repo: psycopg.Connection[Any], tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(second=30, microsecond=0) - timedelta(minutes=5)
    ts = now.strftime("%Y-%m-%d %H:%M:%S")
    log = tmp_path / "log"
    log.mkdir()
    lines = [
        _csv(ts, "ERROR", "40P01", "deadlock detected"),
        _csv(ts, "FATAL", "53300", "sorry, too many clients already"),
        _csv(ts, "ERROR", "57014", "canceling statement due to statement timeout"),
        _csv(ts, "LOG", "00000", "duration: 150.0 ms  statement: SELECT 1"),
        _csv(ts, "ERROR", "23505", "duplicate key", app="pgwarden"),  # its own
        _csv(ts, "ERROR", "23505", "duplicate key", db="otherdb"),  # not this db
        '"not a csvlog record',
        _csv("1999-01-01 00:00:00", "ERROR", "40001", "forged time"),
        _csv(ts, "ERROR", "'; DROP TABLE x", "forged code \x01"),
    ]
    (log / "postgresql.csv").write_text("\n".join(lines) + "\n")
    jsonl = {"timestamp": f"{ts} UTC", "error_severity": "PANIC", "dbname": "shopdb",
             "state_code": "XX000", "message": "could not write"}  # fmt: skip
    (log / "postgresql.json").write_text(json.dumps(jsonl) + "\n[1,2\n")
    target_id = ensure_target(repo, "written")

    read = ingest_server_log(repo, target_id, log, database="shopdb")
    assert read.skipped == 3  # the broken record, the forged time, the bad JSON
    expected = {
        "deadlock_detected": 1,
        "statement_timeout": 1,
        "too_many_connections": 1,
        "other_xx": 1,
        "unclassified": 1,
    }
    assert _window(repo, target_id)["by_class"] == expected  # fmt: skip

    with (log / "postgresql.csv").open("a") as more:
        more.write(_csv(ts, "ERROR", "40P01", "deadlock detected") + "\n")
    ingest_server_log(repo, target_id, log, database="shopdb")
    ingest_server_log(repo, target_id, log, database="shopdb")
    with (log / "postgresql.csv").open("rb") as stream:  # a stream is not counted
        ingest_stream(repo, target_id, stream)
    assert _window(repo, target_id)["by_class"] == {**expected, "deadlock_detected": 2}


def test_application_reports_the_overview_the_cli_and_the_alert(
    empty_dsn: str, repo: psycopg.Connection[Any]
) -> None:
    name = pg.describe(empty_dsn)
    settings = load_settings(overrides={"alerts": {
        "error_rate_pct": 10, "error_rate_min_errors": 5, "wraparound_margin_pct": 0,
    }})  # fmt: skip
    app = create_app(settings, empty_dsn, name, TOKEN, target_dsn=empty_dsn)
    with TestClient(app) as http:
        post = lambda body: http.post("/api/ingest/app-metrics", json=body,  # noqa: E731
                                      headers=AUTH)  # fmt: skip
        for bad in ({"errors": {"bogus": 1}}, {"errors": {"40001": -1}},
                    {"errors": {"40001": 2**31}}, {"calls": -1}, {"pool_size": 5},
                    {}, {"errors": {f"other_{i:02d}": 1 for i in range(65)}},
                    {"calls": 1, "errors": {"other_4": 1}}):  # fmt: skip
            assert post(bad).status_code == 422, bad
        first = {"calls": 40, "errors": {"40001": 2, "unique_violation": 1}}
        assert post(first).json()["errors"] == 3
        answer = post({"source": "api", "calls": 60, "pool_size": 4, "in_use": 1,
                       "errors": {"serialization_failure": 1, "23505": 1}})  # fmt: skip
        assert answer.status_code == 200 and answer.json()["pool_utilisation"] == 0.25
        overview = http.get("/api/admin/overview", headers=AUTH).json()
        huge = {"source": "huge", "calls": 2**63 - 1, "errors": {"40001": 2**31 - 1}}
        assert [post(huge).status_code for _ in range(2)] == [200, 200]  # saturates
    target_id = ensure_target(repo, name)
    huge = repo.execute("SELECT calls FROM pgwarden.error_calls WHERE origin = 'huge'")
    assert huge.fetchone() == (2**63 - 1,)
    repo.execute("DELETE FROM pgwarden.error_calls WHERE origin = 'huge'")
    repo.execute("DELETE FROM pgwarden.error_count WHERE origin = 'huge'")
    found = _window(repo, target_id)
    assert found["by_class"] == {"serialization_failure": 3, "unique_violation": 2}
    assert (found["calls"], found["calls_source"]) == (100, "application")
    assert found["share"] == pytest.approx(0.05)
    [item] = [i for t in overview["tracks"] for i in t["items"]
              if i["label"] == "errors per minute"]  # fmt: skip
    cli = pgwarden_json(empty_dsn, "metrics")["error_rates"]
    # the CLI prints 6 decimal places
    assert item["value"] == pytest.approx(cli["per_minute"], abs=1e-6)
    assert cli["per_minute"] == pytest.approx(5 / 15, abs=1e-6)
    assert cli["by_class"] == found["by_class"] and item["status"] == "ok"
    assert "serialization_failure 3" in item["note"]

    exposed = render(
        error_families(
            error_rates(
                repo,
                target_id,
                datetime.now(UTC) - timedelta(minutes=15),
                datetime.now(UTC),
            )
        )
    )
    assert 'pgwarden_errors{class="serialization_failure"} 3.0' in exposed
    assert "pgwarden_error_share_ratio 0.05" in exposed  # fmt: skip

    def open_alerts(pct: float) -> list[Any]:
        s = load_settings(overrides={"alerts": {
            "error_rate_pct": pct, "error_rate_min_errors": 5,
            "wraparound_margin_pct": 0, "for_minutes": {"error_rate": 0}}})  # fmt: skip
        evaluate_once(repo, name, s, datetime.now(UTC), channels=[])
        since = datetime.now(UTC) - timedelta(hours=1)
        return [a for a in store.list_alerts(repo, "open", since)
                if a.rule == "error_rate"]  # fmt: skip

    assert open_alerts(10) == []  # 5 % of calls: below 10 %
    [alert] = open_alerts(1)  # above 1 %
    assert alert.state == "firing" and alert.value == pytest.approx(5.0)
    assert "5 errors" in alert.description and "serialization_failure 3" in (
        alert.description
    )
    assert alert.runbook.endswith("docs/runbooks/error_rate.md")
    assert open_alerts(10) == []  # resolved below the threshold again

    recorder = SlowQueryRecorder()  # the helper counts a real application's calls
    factory = recorder.cursor_factory()
    with psycopg.connect(empty_dsn, autocommit=True, cursor_factory=factory) as conn:
        conn.execute("CREATE TEMP TABLE seen (id int PRIMARY KEY)")
        conn.execute("INSERT INTO seen VALUES (1)")
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO seen VALUES (1)")
    with TestClient(app) as http:
        sink = lambda doc: http.post("/api/ingest/app-metrics", json=doc,  # noqa: E731
                                     headers=AUTH).raise_for_status()  # fmt: skip
        sent = PoolReporter(None, sink, source="helper", calls=recorder.calls).report()
    assert (sent["calls"], sent["errors"]) == (3, {"23505": 1})
    assert recorder.calls.take() == (0, {})
    app_source = _window(repo, target_id)["sources"][1]
    assert (
        app_source["calls"] == 103 and app_source["by_class"]["unique_violation"] == 3
    )
