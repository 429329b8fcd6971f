"""The change control board end to end on a real repository: requests, risk from
the migration, votes with quorum and veto, deployments, DORA, the decision log
(and its tampering), the agenda and the minutes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner, Result

from pgwarden import pg
from pgwarden.alerts import store
from pgwarden.alerts.model import Alert
from pgwarden.cli.ccb_cmd import app as ccb_app
from pgwarden.cli.runtime import Runtime
from pgwarden.config import load_settings
from pgwarden.ops.ccb.states import TransitionError
from pgwarden.repository import migrate
from pgwarden.slowlog.store import ensure_target
from tests.cli_helpers import pgwarden

BOARD = {
    "binding_voters": ["ana", "ben", "cy"],
    "min_approvals": 2,
    "oncall_veto": True,
}
ONCALL = {
    "people": [{"name": "oli"}],
    "layers": [{"name": "primary", "people": ["oli"]}],
}


@pytest.fixture
def rt(demo_dsn: str, tmp_path: Path) -> Runtime:
    with pg.connect(demo_dsn) as conn:
        migrate(conn)
    board = {**BOARD, "witness_dir": str(tmp_path / "witness")}
    chosen = {"dsn": demo_dsn, "ccb": board, "oncall": ONCALL}
    return Runtime(load_settings(overrides=chosen), None, False)


def ccb(rt: Runtime, *args: str) -> Result:
    return CliRunner().invoke(ccb_app, list(args), obj=rt)


def ok(rt: Runtime, *args: str) -> Any:
    result = ccb(rt, *args)
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout) if "--format" in args else result


def new_request(rt: Runtime, tmp_path: Path, title: str, sql: str) -> dict[str, Any]:
    migration = tmp_path / f"{title.replace(' ', '_')}.sql"
    migration.write_text(sql)
    args = [
        "request",
        "new",
        "--title",
        title,
        "--owner",
        "dana",
        "--rollback",
        "DROP INDEX CONCURRENTLY answer_tenant_idx",
        "--migration",
        str(migration),
    ]
    found: dict[str, Any] = ok(rt, *args, "--format", "json")
    return found


def test_request_votes_deploy_dora_and_tamper_evident_log(
    rt: Runtime, demo_dsn: str, tmp_path: Path
) -> None:
    sql = (
        "SET lock_timeout = '2s';\n"
        'CREATE INDEX answer_tenant_idx ON "Answer" ("tenantId");'
    )
    req = new_request(rt, tmp_path, "index answers by tenant", sql)
    assert req["status"] == "draft" and req["risk_class"] == "C3"
    assert "without CONCURRENTLY" in req["risk_reasons"][0]
    assert req["risk_tables"]["Answer"] > 0

    wrong = ccb(rt, "request", "update", str(req["id"]), "--status", "scheduled")
    assert isinstance(wrong.exception, TransitionError)
    assert str(wrong.exception) == (
        f"request {req['id']} is draft: cannot go to scheduled (allowed: submitted)"
    )
    ok(rt, "request", "update", str(req["id"]), "--status", "submitted")
    ok(rt, "vote", str(req["id"]), "approve", "--voter", "ana")
    assert ok(rt, "request", "show", str(req["id"]), "--format", "json")["status"] == (
        "submitted"
    )
    ok(rt, "vote", str(req["id"]), "approve", "--voter", "ben")
    shown = ok(rt, "request", "show", str(req["id"]), "--format", "json")
    assert shown["status"] == "approved" and len(shown["votes"]) == 2

    vetoed = new_request(
        rt,
        tmp_path,
        "retype answers",
        'ALTER TABLE "Answer" ALTER COLUMN "value" TYPE text;',
    )
    assert vetoed["risk_class"] in ("C3", "C4")
    ok(rt, "request", "update", str(vetoed["id"]), "--status", "submitted")
    result = ok(rt, "vote", str(vetoed["id"]), "reject", "--voter", "oli")
    assert "vetoed by the on-call engineer oli" in result.output
    assert (
        ok(rt, "request", "show", str(vetoed["id"]), "--format", "json")["status"]
        == "rejected"
    )

    ok(rt, "request", "update", str(req["id"]), "--status", "scheduled")
    ok(rt, "deployed", str(req["id"]), "--outcome", "success", "--by", "dana")
    figures = ok(rt, "dora", "--since", "90d", "--format", "json")
    assert figures["deployments"] == 1 and figures["success_pct"] == 100
    assert figures["meets_target"] is True
    assert ok(rt, "request", "list", "--format", "json")[0]["status"] in (
        "rejected",
        "done",
    )

    assert "intact" in ok(rt, "log", "--verify").output
    _tamper(demo_dsn)
    broken = ccb(rt, "log", "--verify")
    assert broken.exit_code == 1
    assert "entry 3 was changed after it was written" in broken.output


def _tamper(dsn: str) -> None:
    """The trigger refuses changes; a superuser bypassing it is caught by verify."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("UPDATE pgwarden.ccb_decision_log SET actor = 'x'")
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("DELETE FROM pgwarden.ccb_decision_log")
        conn.execute("SET session_replication_role = replica")
        conn.execute(
            "UPDATE pgwarden.ccb_decision_log SET actor = 'mallory' WHERE seq = 3"
        )


def test_forbidden_transition_exits_2_in_one_line(rt: Runtime, tmp_path: Path) -> None:
    req = new_request(rt, tmp_path, "add notes", "CREATE TABLE notes (id int);")
    assert req["risk_class"] == "C1"
    dsn = rt.target_dsn()
    result = pgwarden(
        "ccb", "request", "update", str(req["id"]), "--status", "done", PGWARDEN_DSN=dsn
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: request {req['id']} is draft: cannot go to done (allowed: submitted)"
    ]


def test_agenda_and_minutes(rt: Runtime, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with pg.connect(rt.target_dsn()) as conn:
        target_id = ensure_target(conn, "ccb-test")
        store.save(
            conn,
            target_id,
            [
                Alert(
                    target="ccb-test",
                    fingerprint="f1",
                    rule="replication_lag",
                    severity="critical",
                    state="acknowledged",
                    labels={},
                    value=42.0,
                    summary="replica 42 s behind",
                    description="",
                    runbook="",
                    group_key="g",
                    started_at=now - timedelta(minutes=30),
                    last_seen_at=now,
                    fired_at=now - timedelta(minutes=20),
                    acked_at=now - timedelta(minutes=10),
                    acked_by="oli",
                )
            ],
        )
    req = new_request(rt, tmp_path, "partition audit log", "SELECT 1;")
    ok(rt, "request", "update", str(req["id"]), "--status", "submitted")
    ok(
        rt,
        "action",
        "add",
        "write the VACUUM runbook",
        "--owner",
        "cy",
        "--due",
        (now - timedelta(days=3)).date().isoformat(),
    )

    agenda = ok(rt, "agenda").stdout
    assert "## 1. Change requests awaiting the board" in agenda
    assert "partition audit log" in agenda and "| submitted | C1 |" in agenda
    assert "replica 42 s behind" in agenda and "replication_lag" in agenda
    assert "mean time to acknowledge < 15 min | 10.0 min | yes" in agenda
    assert "write the VACUUM runbook" in agenda
    assert "on-call engineer (oli) may veto" in agenda

    minutes = ok(rt, "minutes").stdout
    assert "### Request" in minutes and "partition audit log" in minutes
    assert "Decision: approved / rejected / deferred" in minutes
    assert "| write the VACUUM runbook | cy |" in minutes and "overdue" in minutes
