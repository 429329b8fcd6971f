"""Prometheus text, the JSON shape and the token check, without a server."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from pgwarden.observe.model import (
    CacheHit,
    Connections,
    IndexUsage,
    PerformanceMetrics,
    SlowRate,
    TableSize,
    TopQuery,
)
from pgwarden.observe.prometheus import escape_label, exposition
from pgwarden.web.auth import bearer, token_matches

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def sample() -> PerformanceMetrics:
    return PerformanceMetrics(
        generated_at=NOW, target="db", refresh_seconds=60, source="history",
        interval_end=NOW, interval_seconds=60.0,
        active_connections=Connections(10, 4, 5, 1, 0, 0, 100, 3),
        queries_per_second=12.5, transactions_per_second=3.0, mean_latency_ms=0.25,
        cache_hit_ratio=CacheHit(0.99, None),
        index_usage=(IndexUsage("public", 'we"ird\\t', "idx\nnew", 0, 0, 0, 8192,
                                True),),
        index_window_days=30,
        slowest_queries=(TopQuery(2**63 - 1, "SELECT 1", 3, 1.5, 2.0, 4.5, 1.0, 3,
                                  None),),
        table_sizes=(TableSize("public", "t", 8192, 16384, 10, None),),
        slow_queries_per_minute=SlowRate(warning=2, emergency=1),
    )  # fmt: skip


def test_exposition_parses_with_escaped_labels() -> None:
    text = exposition(sample())
    families = {f.name: f for f in text_string_to_metric_families(text)}
    index = families["pgwarden_index_unused"].samples[0]
    assert index.labels == {"schema": "public", "table": 'we"ird\\t',
                            "index": "idx\nnew"}  # fmt: skip
    assert index.value == 1.0
    slow = {s.labels["severity"]: s.value
            for s in families["pgwarden_slow_queries_per_minute"].samples}  # fmt: skip
    assert slow == {"warning": 2, "critical": 0, "emergency": 1}
    assert families["pgwarden_connection_utilisation_ratio"].samples[0].value == 10 / 97
    assert "pgwarden_app_cache_hit_ratio" not in families
    assert "pgwarden_table_growth_bytes_per_day" not in families
    assert "pgwarden_unused_indexes" not in families  # unknown: left out


def test_unused_indexes_exported_as_counted() -> None:
    from dataclasses import replace

    known = replace(sample(), unused_indexes=1)
    families = {f.name: f for f in text_string_to_metric_families(exposition(known))}
    assert families["pgwarden_unused_indexes"].samples[0].value == 1
    unknown = replace(sample(), index_usage=(replace(sample().index_usage[0],
                                                     unused=None),))  # fmt: skip
    text = exposition(unknown)
    assert "pgwarden_index_unused" not in text and "pgwarden_index_scans{" in text


def test_escape_label() -> None:
    assert escape_label('a\\b"c\nd') == 'a\\\\b\\"c\\nd'


def test_as_dict_is_json_ready() -> None:
    data = sample().as_dict()
    assert data["generated_at"] == NOW.isoformat()
    assert data["slowest_queries"][0]["queryid"] == str(2**63 - 1)
    assert data["slow_queries_per_minute"]["total"] == 3
    assert data["active_connections"]["utilisation"] == 0.103093
    assert data["cache_hit_ratio"] == {"database": 0.99, "application": None}


def test_bearer_token_parsing_and_comparison() -> None:
    assert bearer("Bearer abc") == "abc" and bearer("bearer  abc ") == "abc"
    assert bearer("Basic abc") is None and bearer("abc") is None
    assert bearer(None) is None and bearer("Bearer ") is None
    assert token_matches("abc", "abc") and not token_matches("abd", "abc")
    assert not token_matches(None, "abc")
