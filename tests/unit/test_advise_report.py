"""The index health report and usage metric, built from findings without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pgwarden.advise.findings import Finding, drop_ddl
from pgwarden.advise.health.assess import HealthResult
from pgwarden.advise.health.report import build, render, trend
from pgwarden.advise.health.usage import IndexUsage, efficiency
from pgwarden.reports.store import is_due

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def finding(kind: str, index: str, severity: str = "warning") -> Finding:
    return Finding(kind, "public", "Answer", index, 1_048_576, severity,
                   {"scans": 0}, "drop it", drop_ddl("public", index))  # fmt: skip


def usage(name: str, unused: bool) -> IndexUsage:
    return IndexUsage("public", "Answer", name, 8192, 0, 0, 0, None, 0, unused)


def result(*findings: Finding) -> HealthResult:
    rows = [usage("a", True), usage("b", False)]
    eff = efficiency(rows, 5.0, 90, 12.0)
    return HealthResult("db:5432/app", NOW, 180000, findings, tuple(rows), eff, (),
                        ("a note",))  # fmt: skip


def test_efficiency_waits_for_enough_history() -> None:
    rows = [usage("a", True), *(usage(str(n), False) for n in range(39))]
    assert efficiency(rows, 5.0, 90, 12.0).meets_target is None
    eff = efficiency(rows, 5.0, 90, 120.0)
    assert eff.unused_pct == 2.5 and eff.meets_target is True


def test_report_sections_and_trend() -> None:
    last = build(result(finding("unused", "old_idx"), finding("redundant", "a")))
    now = build(result(finding("redundant", "a"), finding("invalid", "b", "critical")),
                last)  # fmt: skip
    assert now["trend"]["new"] == ["invalid: public.Answer/b"]
    assert now["trend"]["resolved"] == ["unused: public.Answer/old_idx"]
    assert now["trend"]["by_severity_delta"]["critical"] == 1
    assert now["summary"]["reclaimable_bytes"] == 2 * 1_048_576
    md = render(now, "md")
    for heading in (
        "## Summary",
        "## Trend against the previous report",
        "## Findings by severity",
        "### critical (1)",
        "## DDL to act on",
    ):
        assert heading in md  # fmt: skip
    assert 'DROP INDEX CONCURRENTLY IF EXISTS "public"."b";' in md
    html = render(now, "html")
    assert "<h2>DDL to act on</h2>" in html and "&#34;public&#34;" in html
    assert trend(now, None) == {"previous_at": None}


def test_a_report_is_due_by_its_schedule() -> None:
    now = datetime(2026, 6, 8, 6, 0, 5, tzinfo=UTC)
    week_ago = datetime(2026, 6, 1, 6, 0, 9, tzinfo=UTC)  # stored a little later
    assert is_due(None, "weekly", now)
    assert is_due(week_ago, "weekly", now)
    assert not is_due(week_ago, "monthly", now)
    assert not is_due(now - timedelta(hours=20), "daily", now)
    assert is_due(now - timedelta(hours=23, minutes=59), "daily", now)
    assert not is_due(None, "never", now)
