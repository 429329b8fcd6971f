"""Maintenance in progress mutes what it causes, judged on hand-made facts; and the
application pool part of connection_utilisation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pgwarden.alerts import facts as src
from pgwarden.alerts.app_reports import AppPool
from pgwarden.alerts.facts import Facts, IndexBloat, Session
from pgwarden.alerts.maintenance import Running, caused
from pgwarden.alerts.model import fingerprint
from pgwarden.alerts.rules import active_rules, evaluate_rules
from pgwarden.config import AlertSettings
from pgwarden.slowlog.severity import Thresholds

NOW = datetime(2026, 3, 3, 2, 30, tzinfo=UTC)
S = AlertSettings(blocked_session_seconds=0, long_transaction_minutes=1,
                  index_bloat_min_bytes=0)  # type: ignore[call-arg]  # fmt: skip
T = Thresholds()
VACUUM_FULL = Running("public", "Answer", None, "vacuum_full", 100)


def session(pid: int, **kw: Any) -> Session:
    base: dict[str, Any] = dict(
        datname="d", usename="u", application_name="app", state="active",
        xact_s=5.0, state_s=5.0, blockers=0, query="SELECT 1", blocking_pids=(),
    )  # fmt: skip
    return Session(pid, **{**base, **kw})


def facts(*sessions: Session, **kw: Any) -> Facts:
    sources = frozenset({src.SESSIONS, src.BLOAT, src.APP})
    return Facts(now=NOW, target="db", sources=sources, sessions=sessions, **kw)


def muted(f: Facts, *runs: Running) -> dict[str, str]:
    found, _ = evaluate_rules(active_rules(S), f, S, T)
    reasons = caused(f, found, runs, S, T)
    return {o.rule: reasons[fp] for o in found
            if (fp := fingerprint("db", o.rule, o.labels)) in reasons}  # fmt: skip


def test_sessions_waiting_for_the_maintenance_backend_are_its_doing() -> None:
    backend = session(100, xact_s=400, query='VACUUM FULL public."Answer"')
    waiter = session(7, blockers=1, blocking_pids=(100,), query="SELECT 1")
    named = session(8, blockers=1, blocking_pids=(9,),
                    query='SELECT * FROM "Answer" WHERE "tenantId" = $1')  # fmt: skip
    found = muted(facts(backend, waiter, named), VACUUM_FULL)
    assert found == {
        "blocked_sessions": "maintenance: vacuum_full public.Answer",
        "long_transaction": "maintenance: vacuum_full public.Answer",
    }


def test_a_cause_of_its_own_is_not_muted() -> None:
    backend = session(100, xact_s=400)
    other = session(9, blockers=1, blocking_pids=(55,), query="UPDATE answers_log")
    long_other = session(10, xact_s=900, query="SELECT * FROM evidence")
    found = muted(facts(backend, other, long_other), VACUUM_FULL)
    assert found == {}
    assert muted(facts(backend, other)) == {}  # no run at all


def test_index_being_reindexed() -> None:
    bloat = (IndexBloat("public", "b", "b_id", 100 << 20, 50 << 20),
             IndexBloat("public", "b", "b_v", 100 << 20, 50 << 20))  # fmt: skip
    f = facts(index_bloat=bloat)
    one = Running("public", "b", "b_id", "reindex", None)
    assert muted(f, one) == {"index_bloat": "maintenance: reindex public.b index b_id"}
    table = Running("public", "b", None, "reindex", None)
    found, _ = evaluate_rules(active_rules(S), f, S, T)
    assert len(caused(f, found, [table], S, T)) == 2
    assert muted(f, Running("public", "b", None, "vacuum", None)) == {}


def test_application_pool_above_the_share() -> None:
    pools = (AppPool("app", 10, 9, 0, NOW - timedelta(seconds=30)),
             AppPool("jobs", 10, 10, 4, NOW), AppPool("idle", 10, 8, 0, NOW),
             AppPool("empty", 0, 0, 0, NOW))  # fmt: skip
    found, _ = evaluate_rules(active_rules(S), facts(app_pools=pools), S, T)
    by_pool = {o.labels["pool"]: o for o in found if o.rule == "connection_utilisation"}
    assert set(by_pool) == {"app", "jobs"}
    assert by_pool["app"].severity == "warning" and by_pool["app"].value == 90
    assert "9 of 10 connections in use = 90.0 %" in by_pool["app"].description
    assert "reported 30 s ago" in by_pool["app"].description
    assert by_pool["jobs"].severity == "critical"
