"""The maintenance planner: what is due, per table and index, and why."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from pgwarden.config import MaintenanceSettings, load_settings, period
from pgwarden.errors import ConfigurationError
from pgwarden.maintain.bloat import dead_ratio
from pgwarden.maintain.cycle import select
from pgwarden.maintain.model import Bloat, Facts, IndexStat, Item, TableStat
from pgwarden.maintain.plan import plan
from pgwarden.maintain.window import Window

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)  # inside 02:00-05:00 UTC
DAY = timedelta(days=1)
WINDOW = Window(time(2, 0), time(5, 0), "UTC")
SETTINGS = MaintenanceSettings()  # type: ignore[call-arg]


def _table(name: str = "Report", **kw: Any) -> TableStat:
    base: dict[str, Any] = {
        "oid": 1000 + len(name), "schema": "public", "name": name,
        "live_rows": 10_000, "reltuples": 10_000, "size_bytes": 1 << 20,
        "last_analyze": NOW - 2 * DAY, "last_autovacuum": NOW - 2 * DAY,
    }  # fmt: skip
    return TableStat(**{**base, **kw})


def _plan(*tables: TableStat, now: datetime = NOW, **facts: Any) -> dict[str, Item]:
    found = plan(Facts(now, tables, **facts), SETTINGS, WINDOW)
    return {f"{i.table}/{i.index or ''}/{i.operation}": i for i in found}


def test_hot_table_is_analyzed_daily_unless_autoanalyze_covered_it() -> None:
    busy = _table("User", mod_since_analyze=5_000)
    quiet = _table(
        "Answer", mod_since_analyze=20, last_autoanalyze=NOW - timedelta(hours=3)
    )
    items = _plan(busy, quiet)
    assert items["User//analyze"].due
    assert "hot table (configured)" in items["User//analyze"].reason
    assert not items["Answer//analyze"].due
    assert "covered by autoanalyze 3 h ago" in items["Answer//analyze"].reason


def test_hot_table_analyzed_by_pgwarden_today_is_not_due() -> None:
    table = _table("User", mod_since_analyze=5_000)
    items = _plan(
        table, last_ok={("public", "User", "", "analyze"): NOW - timedelta(hours=5)}
    )
    assert not items["User//analyze"].due
    assert "done by pgwarden 5 h ago" in items["User//analyze"].reason


def test_table_detected_hot_from_its_modification_rate() -> None:
    table = _table("Session", mod_since_analyze=40, mod_rate_per_hour=50_000,
                   last_analyze=None, last_autoanalyze=None)  # fmt: skip
    item = _plan(table)["Session//analyze"]
    assert item.due and "detected: 50,000 modifications/hour" in item.reason
    assert "never analyzed" in item.reason


def test_other_tables_are_analyzed_only_when_stale() -> None:
    items = _plan(
        _table("Tag", mod_since_analyze=10), _table("Task", mod_since_analyze=5_000)
    )
    assert not items["Tag//analyze"].due
    assert (
        items["Task//analyze"].due
        and "statistics stale" in items["Task//analyze"].reason
    )


def test_vacuum_weekly_skipped_when_nothing_to_reclaim() -> None:
    items = _plan(_table("Tag", dead_rows=0), _table("Task", dead_rows=500))
    assert not items["Tag//vacuum"].due
    assert "nothing to reclaim" in items["Tag//vacuum"].reason
    assert (
        items["Task//vacuum"].due
        and "weekly: 500 dead rows" in items["Task//vacuum"].reason
    )
    recent = {("public", "Task", "", "vacuum"): NOW - 3 * DAY}
    assert not _plan(_table("Task", dead_rows=500), last_ok=recent)["Task//vacuum"].due


def test_freeze_first_near_wraparound() -> None:
    items = _plan(_table("Old", xid_age=180_000_000, dead_rows=10))
    assert items["Old//vacuum_freeze"].due
    assert "90 % of freeze_max_age" in items["Old//vacuum_freeze"].reason
    assert not items["Old//vacuum"].due
    assert "covered by VACUUM (FREEZE)" in items["Old//vacuum"].reason
    old = _table("Old", xid_age=180_000_000)
    order = [i.operation for i in plan(Facts(NOW, (old,)), SETTINGS, WINDOW) if i.due]
    assert order[0] == "vacuum_freeze"


def _bloated(**kw: Any) -> TableStat:
    base: dict[str, Any] = {"size_bytes": 500 << 20, "updates": 40_000,
                            "deletes": 10_000, "bloat": Bloat(60, "pgstattuple"),
                            "dead_rows": 5_000}  # fmt: skip
    return _table("Answer", **{**base, **kw})


def test_vacuum_full_inside_window_for_bloated_heavily_updated_table() -> None:
    items = _plan(_bloated())
    full = items["Answer//vacuum_full"]
    assert full.due and "60 % bloat (pgstattuple), heavily updated" in full.reason
    assert "covered by VACUUM FULL" in items["Answer//vacuum"].reason


def test_vacuum_full_waits_for_the_window() -> None:
    full = _plan(_bloated(), now=NOW.replace(hour=12))["Answer//vacuum_full"]
    assert not full.due
    assert "waits for the window 02:00-05:00 UTC (next 2026-11-30 02:00)" in full.reason
    forced = plan(Facts(NOW.replace(hour=12), (_bloated(),)), SETTINGS, WINDOW, True)
    assert any(i.operation == "vacuum_full" and i.due for i in forced)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"bloat": Bloat(15, "pgstattuple")}, "not above 20 %"),
        ({"size_bytes": 1 << 20}, "table smaller than"),
        ({"updates": 10, "deletes": 0}, "not heavily updated"),
        ({"bloat": None}, "bloat not measured"),
    ],
)
def test_vacuum_full_needs_size_updates_and_bloat(
    change: dict[str, Any], why: str
) -> None:
    full = _plan(_bloated(**change))["Answer//vacuum_full"]
    assert not full.due and why in full.reason


def test_vacuum_full_monthly() -> None:
    done = {("public", "Answer", "", "vacuum_full"): NOW - 10 * DAY}
    full = _plan(_bloated(), last_ok=done)["Answer//vacuum_full"]
    assert not full.due and "done by pgwarden 10 days ago" in full.reason


def test_pg_repack_preferred_when_installed() -> None:
    items = _plan(_bloated(), repack=True)
    assert "Answer//vacuum_full" not in items
    repack = items["Answer//repack"]
    assert repack.due and "pg_repack (installed, preferred" in repack.reason


def test_reindex_for_bloated_indexes_only() -> None:
    table = _table("Answer")
    fat = IndexStat(7, "public", "Answer_pkey", table.oid, "Answer", 200 << 20,
                    Bloat(45, "pgstatindex"))  # fmt: skip
    lean = IndexStat(8, "public", "Answer_idx", table.oid, "Answer", 200 << 20,
                     Bloat(5, "pgstatindex"))  # fmt: skip
    small = IndexStat(9, "public", "Answer_s", table.oid, "Answer", 1 << 10,
                      Bloat(90, "catalog estimate"))  # fmt: skip
    items = _plan(table, indexes=(fat, lean, small))
    assert items["Answer/Answer_pkey/reindex"].due
    assert (
        "REINDEX INDEX CONCURRENTLY: 45 % bloat"
        in items["Answer/Answer_pkey/reindex"].reason
    )
    assert not items["Answer/Answer_idx/reindex"].due
    assert "index smaller than" in items["Answer/Answer_s/reindex"].reason


def test_dead_ratio_is_the_fallback_measure() -> None:
    found = dead_ratio(_table(live_rows=750, dead_rows=250))
    assert found.pct == 25 and "dead-tuple ratio" in found.method


def test_explicit_table_and_operation_run_even_when_not_due() -> None:
    items = list(_plan(_table("Tag", dead_rows=0)).values())
    assert select(items, ["Tag"], []) == []
    chosen = select(items, ["public.Tag"], ["vacuum"])
    assert [(i.operation, i.due) for i in chosen] == [("vacuum", True)]
    assert chosen[0].reason.startswith("requested (nothing to reclaim")


def test_periods() -> None:
    assert period("daily") == DAY and period("weekly") == 7 * DAY
    assert period("monthly") == 30 * DAY and period("12h") == timedelta(hours=12)
    assert period("never") is None
    with pytest.raises(ValueError, match="hourly, daily"):
        period("fortnightly")
    with pytest.raises(ConfigurationError, match="analyze_schedule"):
        load_settings(overrides={"maintenance": {"analyze_schedule": "fortnightly"}})
