"""The built-in rules on hand-made facts: thresholds, severities, descriptions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pgwarden.alerts import facts as src
from pgwarden.alerts.facts import Facts, IndexBloat, Replica, Session, SlowStatement
from pgwarden.alerts.prometheus_rules import export
from pgwarden.alerts.rules import BUILTIN, RULES, active_rules, evaluate_rules
from pgwarden.alerts.stats import percentile, summarise
from pgwarden.config import AlertSettings, load_settings
from pgwarden.slowlog.severity import Thresholds

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
S = AlertSettings()  # type: ignore[call-arg]
T = Thresholds()
ALL = frozenset(
    {src.HISTORY, src.COLLECTOR, src.SLOWLOG, src.SESSIONS, src.REPLICATION,
     src.XID, src.BLOAT}
)  # fmt: skip


def facts(**kw: Any) -> Facts:
    base: dict[str, Any] = {"now": NOW, "target": "db", "sources": ALL,
                            "last_collect_at": NOW}  # fmt: skip
    return Facts(**{**base, **kw})


def fired(f: Facts, settings: AlertSettings = S) -> dict[str, Any]:
    found, _ = evaluate_rules(active_rules(settings), f, settings, T)
    return {o.rule: o for o in found}


def session(**kw: Any) -> Session:
    base = dict(
        pid=1, datname="d", usename="u", application_name="app",
        state="active", xact_s=0.0, state_s=0.0, blockers=0, query="q",
    )  # fmt: skip
    return Session(**{**base, **kw})


def test_every_rule_has_a_runbook_file() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for rule in BUILTIN:
        assert (root / rule.runbook).is_file(), rule.runbook


def test_quiet_facts_fire_nothing() -> None:
    db = {"connections": 10, "max_connections": 100, "reserved_connections": 3}
    assert fired(facts(database=db, cache_hits=990, cache_reads=10)) == {}


def test_connection_utilisation_uses_max_minus_reserved() -> None:
    db = {"connections": 16, "max_connections": 20, "reserved_connections": 3}
    o = fired(facts(database=db))["connection_utilisation"]
    assert round(o.value) == 94 and o.severity == "warning"
    assert "16 client connections of 17 available" in o.description


def test_cache_hit_ratio_needs_enough_reads() -> None:
    assert "cache_hit_ratio" not in fired(facts(cache_hits=1, cache_reads=9))
    o = fired(facts(cache_hits=300, cache_reads=700))["cache_hit_ratio"]
    assert o.value == 30.0 and "30.0 % of 1000 block reads" in o.description


def test_slow_queries_by_severity_and_spike() -> None:
    slow = (SlowStatement("a", "SELECT pg_sleep($1)", 3, 1200.0),
            SlowStatement("b", "SELECT 2", 1, 600.0))  # fmt: skip
    found, _ = evaluate_rules(active_rules(S), facts(slow_statements=slow), S, T)
    assert sorted(o.severity for o in found) == ["critical", "emergency"]
    assert fired(facts(slow_per_minute=11))["slow_query_spike"].value == 11
    assert "slow_query_spike" not in fired(facts(slow_per_minute=10))


def test_sessions_rules() -> None:
    sessions = (
        session(pid=7, state="idle in transaction", state_s=400, xact_s=400),
        session(pid=8, blockers=1, state_s=45, query="UPDATE t SET v = 1"),
    )
    found = fired(facts(sessions=sessions))
    assert "pid 7" in found["idle_in_transaction"].description
    assert found["blocked_sessions"].value == 1
    assert found["long_transaction"].value == 400


def test_replication_wraparound_evictions_bloat_silence() -> None:
    f = facts(
        replicas=(Replica("r1", 90.0),), xid_age=1_500_000_000, xid_database="app",
        evictions_last_hour=3, last_collect_at=NOW - timedelta(minutes=6),
        index_bloat=(IndexBloat("public", "t", "t_pkey", 50 << 20, 30 << 20),),
    )  # fmt: skip
    found = fired(f)
    assert found["replication_lag"].labels == {"replica": "r1"}
    assert found["wraparound"].severity == "critical"
    assert found["statement_evictions"].value == 3
    assert found["index_bloat"].labels == {"index": "public.t_pkey"}
    assert found["collector_silent"].severity == "critical"


def test_a_target_never_collected_gets_the_grace_from_its_registration() -> None:
    just = facts(last_collect_at=None, watched_since=NOW - timedelta(minutes=1))
    long_ago = facts(last_collect_at=None, watched_since=NOW - timedelta(minutes=6))
    assert "collector_silent" not in fired(just)
    silent = fired(long_ago)["collector_silent"]
    assert silent.value == -1 and "was never" in silent.description


def test_missing_source_skips_the_rule() -> None:
    _, evaluated = evaluate_rules(
        active_rules(S), facts(sources=frozenset({src.HISTORY})), S, T
    )
    assert "replication_lag" not in evaluated and "cache_hit_ratio" in evaluated


def test_disabled_rules_and_for_overrides() -> None:
    settings = AlertSettings(
        disabled_rules=["wraparound"], for_minutes={"slow_query": 3}
    )  # type: ignore[call-arg]
    names = {r.name: r for r in active_rules(settings)}
    assert "wraparound" not in names
    assert names["slow_query"].for_ == timedelta(minutes=3)
    assert RULES["connection_utilisation"].for_ == timedelta(minutes=5)


def test_prometheus_export_covers_every_rule() -> None:
    text = export(load_settings().alerts, "https://git.example/pgwarden/")
    assert "alert: PgwardenConnectionUtilisation" in text
    assert "pgwarden_connection_utilisation_ratio > 0.8 or " in text
    assert "https://git.example/pgwarden/docs/runbooks/cache_hit_ratio.md" in text
    assert '"pgwarden_xid_age_ratio > 0.5"' in text
    assert "# Not exported" not in text
    disabled = AlertSettings(disabled_rules=["wraparound"])  # type: ignore[call-arg]
    assert "wraparound" not in export(disabled)


def test_stats_mtta_mttr_percentiles() -> None:
    def row(sev: str, ack_min: float | None, res_min: float) -> dict[str, Any]:
        ack = NOW + timedelta(minutes=ack_min) if ack_min is not None else None
        return {"severity": sev, "fired_at": NOW, "acked_at": ack,
                "resolved_at": NOW + timedelta(minutes=res_min)}  # fmt: skip

    rows = [row("warning", 5, 30), row("warning", 20, 60), row("critical", None, 10)]
    stats = {s.severity: s for s in summarise(rows, timedelta(minutes=15))}
    assert stats["warning"].count == 2 and stats["warning"].ack.mean_s == 750
    assert stats["warning"].acked_within_target_pct == 50
    assert stats["critical"].ack.count == 0
    assert stats["all"].count == 3 and stats["all"].resolve.p90_s == 3600
    assert percentile([1, 2, 3, 4], 50) == 2
