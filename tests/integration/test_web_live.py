"""The Live page's API on a real blocking situation: the tree, long transactions,
cancel and terminate with their refusals and the audit log, the viewer refused,
the CLI agreeing; a role without pg_read_all_stats told what it misses; a real
standby seen from both sides."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from psycopg.conninfo import make_conninfo

from pgwarden import pg
from pgwarden.config import AlertSettings, Settings
from pgwarden.observe.activity import Session, blocking_tree, read_activity
from pgwarden.observe.signal import refusal, signal
from pgwarden.replica import EmbeddedReplica
from pgwarden.repository.migrate import migrate
from pgwarden.web import create_app
from tests.cli_helpers import pgwarden
from tests.integration.test_observe_metrics import TARGET, TOKEN
from tests.own_server import own_server

pytestmark = pytest.mark.slow
VIEWER = "viewer-token-live-0123456789"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
AS_VIEWER = {"Authorization": f"Bearer {VIEWER}"}
HOLDER, WAITER = "live-test-holder", "live-test-waiter"


def client(dsn: str, target_dsn: str | None) -> TestClient:
    alerts = AlertSettings(long_transaction_minutes=0.01)  # type: ignore[call-arg]
    settings = Settings(alerts=alerts)  # type: ignore[call-arg]  # 0.6 s
    app = create_app(settings, dsn, TARGET, TOKEN, target_dsn=target_dsn,
                     viewer_token=VIEWER)  # fmt: skip
    return TestClient(app)


class Blocked:
    """A session holding an exclusive lock in an open transaction, and one waiting."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.holder = psycopg.connect(dsn, application_name=HOLDER)
        self.holder.execute('LOCK TABLE "Answer" IN ACCESS EXCLUSIVE MODE')
        self.waiter = psycopg.connect(dsn, autocommit=True, application_name=WAITER)
        self.waiter_error: BaseException | None = None
        self.thread = threading.Thread(target=self._wait, daemon=True)
        self.thread.start()
        self._until_waiting()

    def _wait(self) -> None:
        try:
            self.waiter.execute('SELECT count(*) FROM "Answer"')
        except psycopg.Error as exc:
            self.waiter_error = exc

    def _until_waiting(self) -> None:
        query = ("SELECT 1 FROM pg_stat_activity WHERE application_name = %s "
                 "AND wait_event_type = 'Lock'")  # fmt: skip
        with psycopg.connect(self.dsn) as conn:
            for _ in range(200):
                if conn.execute(query, [WAITER]).fetchone():
                    return
                time.sleep(0.05)
        raise AssertionError("the waiter never waited")

    def close(self) -> None:
        for conn in (self.holder, self.waiter):
            conn.close()
        self.thread.join(10)


@contextmanager
def blocked(dsn: str) -> Iterator[Blocked]:
    with pg.connect(dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
    found = Blocked(dsn)
    try:
        yield found
    finally:
        found.close()


def apps(body: dict[str, Any], name: str, state: str) -> int:
    return sum(a["sessions"] for a in body["counts"]["by_application"]
               if a["application_name"] == name and a["state"] == state)  # fmt: skip


def session(body: dict[str, Any], pid: int) -> dict[str, Any]:
    return next(s for s in body["sessions"] if s["pid"] == pid)


def test_blocking_cancel_terminate_audited(demo_dsn: str) -> None:
    with blocked(demo_dsn) as b, client(demo_dsn, demo_dsn) as http:
        holder, waiter = b.holder.info.backend_pid, b.waiter.info.backend_pid
        time.sleep(0.7)  # the holder's transaction is now "long"
        body = http.get("/api/admin/live", headers=ADMIN).json()
        assert body["counts"]["waiting_on_locks"] >= 1
        root = next(t for t in body["blocking"] if t["pid"] == holder)
        assert root["application_name"] == HOLDER and root["lock"] is None
        (child,) = root["blocked"]
        assert child["pid"] == waiter and child["lock"]["mode"] == "AccessShareLock"
        assert child["lock"]["relation"] == '"Answer"'
        assert holder in [s["pid"] for s in body["long_transactions"]]
        assert session(body, waiter)["query"] == 'SELECT count(*) FROM "Answer"'
        assert session(body, holder)["state"] == "idle in transaction"

        cli = pgwarden("--dsn", demo_dsn, "activity", "--format", "json")
        assert cli.returncode == 0, cli.stderr
        printed = json.loads(cli.stdout)
        assert apps(printed, WAITER, "active") == apps(body, WAITER, "active") == 1
        assert [t["pid"] for t in printed["blocking"]] == [holder]

        viewer = http.get("/api/admin/live", headers=AS_VIEWER)
        assert viewer.status_code == 200
        for action in ("cancel", "terminate"):
            refused = http.post(f"/api/admin/live/{waiter}/{action}",
                                json={"by": "eve"}, headers=AS_VIEWER)  # fmt: skip
            assert refused.status_code == 403, refused.text

        _refusals(http, demo_dsn, waiter)

        shown = session(body, waiter)
        cancelled = http.post(
            f"/api/admin/live/{waiter}/cancel", headers=ADMIN,
            json={"by": "alice", "backend_start": shown["backend_start"],
                  "query_start": shown["query_start"]},
        )  # fmt: skip
        assert cancelled.status_code == 200, cancelled.text
        b.thread.join(10)
        assert isinstance(b.waiter_error, psycopg.errors.QueryCanceled)

        ended = http.post(f"/api/admin/live/{holder}/terminate", json={"by": "alice"},
                          headers=ADMIN)  # fmt: skip
        assert ended.status_code == 200, ended.text
        with pytest.raises(psycopg.OperationalError):
            for _ in range(50):
                b.holder.execute("SELECT 1")
                time.sleep(0.1)

        entries = http.get("/api/admin/live/audit", headers=ADMIN).json()
        assert [(e["action"], e["outcome"], e["subject"]) for e in entries[:2]] == [
            ("terminate", "ok", str(holder)),
            ("cancel", "ok", str(waiter)),
        ]
        assert entries[1]["actor"] == "alice" and entries[1]["role"] == "admin"
        assert entries[1]["detail"]["application_name"] == WAITER
        assert "query" not in entries[1]["detail"]
        assert {e["outcome"] for e in entries[2:]} == {"refused"}
        after = http.get("/api/admin/live", headers=ADMIN).json()
        assert not [t for t in after["blocking"] if t["pid"] == holder]


def _refusals(http: TestClient, dsn: str, waiter: int) -> None:
    """What must not be signalled is refused, with a reason, and nothing happens."""
    with pg.connect(dsn) as own:
        own_pid = own.info.backend_pid
        found = own.execute(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'"
        ).fetchone()
    assert found is not None
    with pg.connect(dsn) as own:
        refused = http.post(f"/api/admin/live/{own.info.backend_pid}/terminate",
                            json={"by": "alice"}, headers=ADMIN)  # fmt: skip
        assert refused.status_code == 409 and "pgwarden" in refused.json()["detail"]
    server = http.post(f"/api/admin/live/{found[0]}/terminate", json={"by": "alice"},
                       headers=ADMIN)  # fmt: skip
    assert server.status_code == 409 and "client backend" in server.json()["detail"]
    moved = http.post(f"/api/admin/live/{waiter}/cancel", headers=ADMIN,
                      json={"by": "alice",
                            "backend_start": "2000-01-01T00:00:00+00:00"})  # fmt: skip
    assert moved.status_code == 409 and "another session" in moved.json()["detail"]
    assert http.post(f"/api/admin/live/{own_pid}/cancel", json={"by": "alice"},
                     headers=ADMIN).status_code == 404  # fmt: skip
    for bad in ({"by": ""}, {"by": "x" * 101}, {"by": "a", "backend_start": "noon"}):
        answer = http.post(f"/api/admin/live/{waiter}/cancel", json=bad, headers=ADMIN)
        assert answer.status_code == 422, bad
    assert http.post("/api/admin/live/0/cancel", json={"by": "a"},
                     headers=ADMIN).status_code == 422  # fmt: skip


def test_without_privileges_says_what_to_grant(demo_dsn: str) -> None:
    role = f"live_test_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    with psycopg.connect(demo_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(password)))  # fmt: skip
        plain = make_conninfo(demo_dsn, user=role, password=password)
        try:
            _as_plain_role(plain, admin.info.backend_pid)
            admin.execute(sql.SQL("GRANT pg_read_all_stats TO {}").format(
                sql.Identifier(role)))  # fmt: skip
            with pg.connect(plain) as conn:
                done = signal(conn, admin.info.backend_pid, "cancel")
            assert done.outcome == "failed" and "pg_signal_backend" in done.reason
        finally:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    with client(demo_dsn, None) as http:
        answer = http.get("/api/admin/live", headers=ADMIN)
        assert answer.status_code == 503 and "DSN" in answer.json()["detail"]


def _as_plain_role(dsn: str, superuser_pid: int) -> None:
    with pg.connect(dsn) as conn:
        found = read_activity(conn, 300).as_dict()
        done = signal(conn, superuser_pid, "cancel")
    assert found["counts"]["hidden"] >= 1
    assert not found["privileges"]["read_all_stats"]
    notes = " ".join(found["privileges"]["notes"])
    assert "GRANT pg_read_all_stats TO" in notes
    assert "GRANT pg_signal_backend TO" in notes
    assert all(s["query"] != "<insufficient privilege>" for s in found["sessions"])
    assert done.outcome == "refused" and "pg_read_all_stats" in done.reason


def test_replication_from_both_sides(tmp_path: Path) -> None:
    """A primary lists its streaming standby and the standby's slot; the standby
    reads its own lag."""
    with own_server("embedded", tmp_path / "primary") as primary:
        with EmbeddedReplica.of(primary, tmp_path / "standby") as replica:
            replica.wait_replayed()
            with pg.connect(primary.dsn()) as conn:
                upstream = read_activity(conn, 300).as_dict()
            with pg.connect(replica.dsn()) as conn:
                downstream = read_activity(conn, 300).as_dict()
    (standby,) = upstream["replication"]["replicas"]
    assert standby["application_name"] == replica.name
    assert standby["state"] == "streaming" and standby["lag_bytes"] is not None
    slots = upstream["replication"]["slots"]
    (slot,) = [s for s in slots if s["slot_name"] == replica.slot]
    assert slot["active"] and slot["retained_bytes"] is not None
    assert upstream["replication"]["role"] == "primary"
    assert downstream["standby"] and downstream["replication"]["role"] == "standby"
    assert downstream["replication"]["replicas"] == []
    assert downstream["replication"]["standby"]["lag_bytes"] >= 0


def test_blocking_tree_shapes() -> None:
    """The largest tree first, a blocker that has ended still shown, a cycle
    (before the deadlock detector ends it) last, once, from its lowest pid."""
    sessions = [_row(2, (1,)), _row(3, (2,)), _row(4, (1,)), _row(10, (9,)),
                _row(21, (22,)), _row(22, (21,))]  # fmt: skip
    trees = [t.as_dict() for t in blocking_tree(sessions)]
    assert [t["pid"] for t in trees] == [1, 9, 21]
    below = [(b["pid"], [c["pid"] for c in b["blocked"]]) for b in trees[0]["blocked"]]
    assert below == [(2, [3]), (4, [])]
    assert trees[1]["user"] is None and trees[1]["blocked"][0]["pid"] == 10
    assert trees[2]["blocked"][0]["pid"] == 22 and not trees[2]["blocked"][0]["blocked"]
    refused = {"this_connection": False, "backend_type": "client backend",
               "application_name": "app", "query": "SELECT 1",
               "backend_start": None, "query_start": None}  # fmt: skip
    assert refusal(refused, "cancel", None, None) is None
    assert "own" in str(refusal({**refused, "application_name": "pgwarden-worker"},
                                "terminate", None, None))  # fmt: skip


def _row(pid: int, blockers: tuple[int, ...]) -> Session:
    return Session(pid, "client backend", "db", "u", "app", None, "active", "Lock",
                   "relation", None, None, None, None, None, None, "SELECT 1", False,
                   False, blockers, None)  # fmt: skip
