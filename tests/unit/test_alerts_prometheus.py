"""Prometheus equivalents: every rule exported, valid YAML, inputs from the rules'
own measures."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from pgwarden.alerts import facts as src
from pgwarden.alerts.app_reports import AppPool
from pgwarden.alerts.exported import NAMES, families
from pgwarden.alerts.facts import Facts, IndexBloat, Replica, Session
from pgwarden.alerts.prometheus_rules import EXPRESSIONS, export
from pgwarden.alerts.rules import BUILTIN, active_rules, evaluate_rules
from pgwarden.config import AlertSettings, load_settings
from pgwarden.observe.prometheus import render
from pgwarden.slowlog.severity import Thresholds

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
S = AlertSettings(index_bloat_min_bytes=1 << 20)  # type: ignore[call-arg]
#: families of pgwarden.observe.prometheus the expressions use
OBSERVED = {"pgwarden_connection_utilisation_ratio", "pgwarden_cache_hit_ratio",
            "pgwarden_slow_queries_per_minute",
            "pgwarden_interval_end_timestamp_seconds"}  # fmt: skip


def _facts() -> Facts:
    idle = Session(7, "d", "u", "app", "idle in transaction", 400.0, 390.0, 0, "q")
    waiting = Session(8, "d", "u", "app", "active", 50.0, 45.0, 1, "UPDATE t")
    return Facts(
        now=NOW, target="db",
        sources=frozenset({src.SESSIONS, src.REPLICATION, src.XID, src.BLOAT,
                           src.APP, src.HISTORY}),
        sessions=(idle, waiting), replicas=(Replica("r1", 90.0, 4096),),
        xid_age=1_500_000_000, xid_database="app", evictions_last_hour=3,
        index_bloat=(IndexBloat("public", "t", "t_pkey", 50 << 20, 30 << 20),
                     IndexBloat("public", "t", "tiny", 8192, 8000)),
        app_pools=(AppPool("app", 10, 9, 2, NOW - timedelta(seconds=20)),),
    )  # fmt: skip


def test_every_builtin_rule_has_an_expression_and_the_file_parses() -> None:
    assert set(EXPRESSIONS) == {r.name for r in BUILTIN}
    text = export(load_settings().alerts, "https://git.example/pgwarden/")
    rules = yaml.safe_load(text)["groups"][0]["rules"]
    assert len(rules) == len(BUILTIN) == 13
    for rule in rules:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}
        assert re.fullmatch(r"\d+(\.\d+)?m", rule["for"])
        assert rule["labels"]["rule"] in EXPRESSIONS
        assert rule["annotations"]["runbook_url"].endswith(".md")


def test_expressions_use_only_exported_metrics() -> None:
    used = set()
    for expr in EXPRESSIONS.values():
        used |= set(re.findall(r"pgwarden_[a-z_]+", expr(S)))
    assert used - OBSERVED <= set(NAMES)
    informative = {"pgwarden_replication_lag_bytes", "pgwarden_error_rate_per_minute"}
    assert set(NAMES) - informative <= used


def test_exported_inputs_are_the_values_the_rules_judge() -> None:
    f = _facts()
    text = render(families(f, S))
    found, _ = evaluate_rules(active_rules(S), f, S, Thresholds())
    by_rule = {(o.rule, tuple(o.labels.items())): o.value for o in found}
    assert by_rule[("replication_lag", (("replica", "r1"),))] == 90.0
    assert 'pgwarden_replication_lag_seconds{replica="r1"} 90.0' in text
    assert 'pgwarden_replication_lag_bytes{replica="r1"} 4096.0' in text
    assert by_rule[("connection_utilisation", (("pool", "app"),))] == 90.0
    assert 'pgwarden_app_pool_utilisation_ratio{pool="app"} 0.9' in text
    assert by_rule[("idle_in_transaction", ())] == 390.0
    assert "pgwarden_idle_in_transaction_seconds 390.0" in text
    assert by_rule[("long_transaction", ())] == 400.0
    assert "pgwarden_longest_transaction_seconds 400.0" in text
    assert by_rule[("blocked_sessions", ())] == 1
    assert "pgwarden_blocked_sessions 1.0" in text
    margin = by_rule[("wraparound", ())]
    ratio = float(re.search(r'pgwarden_xid_age_ratio\{database="app"\} (\S+)', text)[1])  # type: ignore[index]
    assert abs(margin - 100 * (1 - ratio)) < 1e-9
    assert "pgwarden_statement_evictions_last_hour 3.0" in text
    assert 'index="t_pkey"} 0.6' in text and 'index="tiny"' not in text


def test_unknown_inputs_are_left_out() -> None:
    bare = Facts(now=NOW, target="db", sources=frozenset())
    assert render(families(bare, S)).strip() == ""


def test_shipped_rule_file_is_the_generated_one() -> None:
    shipped = (ROOT / "docs" / "prometheus-alerts.yml").read_text()
    assert shipped == export(load_settings().alerts)
