"""Callers from sqlcommenter and marginalia comments, severities, plans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pgwarden.config import SlowQuerySettings
from pgwarden.demo.sqlcommenter import sqlcomment
from pgwarden.slowlog.partitions import expired, partition_day, partition_name
from pgwarden.slowlog.plan import split_plan
from pgwarden.slowlog.report import parse_since
from pgwarden.slowlog.severity import Thresholds
from pgwarden.slowlog.store import merge
from pgwarden.sqltext.caller import comment_tags, resolve_caller


def test_sqlcommenter() -> None:
    comment = sqlcomment(action="list_assessments", route="/assessments/:id")
    assert comment_tags(comment)["route"] == "/assessments/:id"
    assert resolve_caller([comment]) == "list_assessments /assessments/:id"
    assert resolve_caller(["/*route='%2Fhealth'*/"]) == "/health"


def test_marginalia() -> None:
    comment = "/*application:Shop,controller:orders,action:index*/"
    assert comment_tags(comment) == {
        "application": "Shop", "controller": "orders", "action": "index",
    }  # fmt: skip
    assert resolve_caller([comment]) == "orders#index"
    line = "/*application:Shop,line:app/models/order.rb:12*/"
    assert resolve_caller([line]) == "app/models/order.rb:12"


def test_no_caller_comment() -> None:
    assert resolve_caller(["/* just a note */"]) is None
    assert resolve_caller(["-- hint"], application_name="billing") == "billing"
    assert resolve_caller([], "app.views:index:12", "billing") == "app.views:index:12"
    assert resolve_caller([], None, "") is None


@pytest.mark.parametrize(
    ("ms", "severity"),
    [(99.9, None), (100, "warning"), (499.9, "warning"), (500, "critical"),
     (999, "critical"), (1000, "emergency"), (60_000, "emergency")],
)  # fmt: skip
def test_default_thresholds(ms: float, severity: str | None) -> None:
    assert Thresholds().classify(ms) == severity


def test_thresholds_from_settings() -> None:
    settings = SlowQuerySettings(
        warning_ms=10, critical_ms=20, emergency_ms=30, retention_days=30
    )
    thresholds = Thresholds.from_settings(settings)
    assert [thresholds.classify(ms) for ms in (9, 10, 25, 30)] == [
        None, "warning", "critical", "emergency",
    ]  # fmt: skip


def test_text_plan_loses_query_text_and_literals() -> None:
    query, plan = split_plan(
        "Query Text: SELECT * FROM t\n  WHERE a = 'secret-123' AND n > 42\n"
        "Query Parameters: $1 = 'secret-param'\n"
        "Seq Scan on t  (cost=0.00..35.50 rows=10 width=36)\n"
        "  Filter: ((n > 42) AND (a = 'secret-123'::text))\n"
        "  Rows Removed by Filter: 990"
    )
    assert query == "SELECT * FROM t\n  WHERE a = 'secret-123' AND n > 42"
    assert "secret" not in plan and "42" not in plan
    assert "Seq Scan on t  (cost=0.00..35.50 rows=10 width=36)" in plan
    assert "Rows Removed by Filter: 990" in plan


def test_json_plan_loses_query_text_and_literals() -> None:
    query, plan = split_plan(
        '{"Query Text": "SELECT 1", "Plan": {"Node Type": "Seq Scan",'
        ' "Filter": "(a = \'secret-123\'::text)", "Plan Rows": 10}}'
    )
    assert query == "SELECT 1"
    assert "secret" not in plan and '"Plan Rows": 10' in plan


def test_partition_names_and_retention() -> None:
    day = datetime(2024, 3, 1, tzinfo=UTC).date()
    assert partition_name(day) == "slow_query_log_p20240301"
    assert partition_day("slow_query_log_p20240301") == day
    assert partition_day("something_else") is None
    names = [partition_name(day + timedelta(days=n)) for n in range(5)]
    now = datetime(2024, 3, 4, 12, tzinfo=UTC)
    # kept: everything since 2024-03-02 12:00, so from the 2 March partition on
    assert expired([*names, "other"], now, 2) == names[:1]


def test_merge_prefers_log_duration_and_richer_caller() -> None:
    sampled = {
        "id": 1, "ts": datetime(2024, 1, 1, tzinfo=UTC), "source": "activity",
        "started_at": datetime(2024, 1, 1, tzinfo=UTC), "duration_ms": 900.0,
        "caller": "list_assessments /assessments", "application_name": "web",
        "plan": None, "queryid": 7, "username": "app", "pid": 10,
        "backend_start": datetime(2023, 12, 31, tzinfo=UTC),
    }  # fmt: skip
    logged = {**sampled, "source": "server_log", "duration_ms": 1234.5,
              "caller": "web", "plan": "Seq Scan", "backend_start": None}  # fmt: skip
    merged = merge(sampled, logged)
    assert merged["duration_ms"] == 1234.5 and merged["source"] == "server_log"
    assert merged["caller"] == "list_assessments /assessments"
    assert merged["plan"] == "Seq Scan" and merged["backend_start"] is not None


def test_parse_since() -> None:
    assert parse_since("90s") == timedelta(seconds=90)
    assert parse_since("1h") == timedelta(hours=1)
    assert parse_since("2d") == timedelta(days=2)
    for bad in ("", "h", "-1h", "5x", "abc"):
        with pytest.raises(ValueError):
            parse_since(bad)
