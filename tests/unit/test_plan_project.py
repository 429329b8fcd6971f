"""Projections without a server: Little's law, horizons, thresholds, the workbook."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pgwarden.config import CapacitySettings
from pgwarden.plan import xlsx
from pgwarden.plan.baseline import Inputs, build_baseline, scales_with
from pgwarden.plan.project import (
    Assumptions,
    NoGrowthEvidence,
    crossing,
    parse_months,
    pool_size,
    project,
    usl_check,
    usl_of,
)
from pgwarden.plan.trend import trend

NOW = datetime(2026, 11, 29, tzinfo=UTC)
MB = 1024 * 1024
CAP = CapacitySettings()


def storage(name: str, total: int, columns: list[str], rows: int) -> dict[str, Any]:
    return {
        "relid": hash(name) % 10_000,
        "schema_name": "public",
        "rel_name": name,
        "heap_bytes": total // 2,
        "index_bytes": total // 2,
        "total_bytes": total,
        "reltuples": rows,
        "n_live_tup": rows,
        "columns": columns,
    }


def inputs(days: int = 10, samples: int = 0) -> Inputs:
    tables = [
        storage("AuditLog", 100 * MB, ["id", "tenantId"], 1000),
        storage("Framework", 1 * MB, ["id", "name"], 6),
        storage("User", 2 * MB, ["id", "tenantId"], 150),
        storage("Tenant", 1 * MB, ["id"], 12),
    ]
    audit = tables[0]["relid"]
    daily = [
        {
            "day": NOW - timedelta(days=d),
            "ts": NOW - timedelta(days=d),
            "size_bytes": 1000 * MB - d * MB,
            "connections": 20,
            "blks_hit": 990,
            "blks_read": 10,
        }
        for d in range(days, -1, -1)
    ]
    table_daily = [
        {
            "relid": audit,
            "ts": r["ts"],
            "total_size_bytes": 100 * MB - d * MB // 2,
            "n_live_tup": 1000 - d * 10,
            "n_tup_ins": 10,
            "n_tup_upd": 0,
            "n_tup_del": 0,
        }
        for d, r in zip(range(days, -1, -1), daily, strict=True)
    ]
    return Inputs(
        target="t",
        generated_at=NOW,
        first_ts=daily[0]["ts"],
        database_daily=daily,
        database_ends=[daily[0], daily[-1]],
        table_daily=table_daily,
        table_ends=[],
        rate_daily=[{"ts": r["ts"], "peak_qps": 100.0} for r in daily],
        peak={"peak_qps": 100.0, "peak_ts": NOW, "mean_ms": 20.0},
        settings={
            "max_connections": 100,
            "reserved_connections": 3,
            "shared_buffers_bytes": 128 * MB,
            "work_mem_bytes": 4 * MB,
            "block_size": 8192,
            "database_bytes": 1000 * MB,
        },
        storage=tables,
        buffercache={"used_buffers": 1000, "hot_buffers": 512, "buffers": 16384},
        history_samples=samples,
    )


def test_littles_law_with_headroom() -> None:
    busy, pool = pool_size(qps=200, mean_ms=25, headroom_pct=30)
    assert busy == pytest.approx(5.0)
    assert pool == 7  # ceil(5 * 1.3 = 6.5)
    assert pool_size(0.1, 1, 30) == (pytest.approx(0.0001), 1)


def test_parse_months() -> None:
    assert parse_months("12, 6,6") == (6, 12)
    for bad in ("", "six", "0", "-3", "1.5", "121"):
        with pytest.raises(ValueError):
            parse_months(bad)


def test_scaling_tables() -> None:
    assert scales_with(["id", "tenantId"], "Answer") == "tenant"
    assert scales_with(["id", "user_id"], "Session") == "user"
    assert scales_with(["id"], "Tenant") == "tenant"
    assert scales_with(["id", "name"], "Framework") is None


def test_crossing_dates() -> None:
    daily = [(NOW - timedelta(days=d), 100.0 - d) for d in range(10, -1, -1)]
    growing = trend(daily, [], 7)
    found = crossing(growing, 100, 110, NOW, months=12)
    assert found["crossed"] is False
    assert found["expected"] == (NOW + timedelta(days=10)).date().isoformat()
    assert found["when"] == f"projected {found['expected']} (in 10 days)"
    assert crossing(growing, 120, 110, NOW, months=12)["crossed"] is True
    assert crossing(growing, 110, 110, NOW, months=12)["when"] == "crossed"
    flat = trend([(NOW - timedelta(days=d), 5.0) for d in range(10)], [], 7)
    assert crossing(flat, 5, 10, NOW, months=6)["when"] == "not within 6 months"
    assert crossing(growing, 100, 1e9, NOW, months=12) == {
        "crossed": False,
        "expected": None,
        "in_days": None,
        "when": "not within 12 months",
    }


@pytest.mark.parametrize("per_day", [0.5, 1e3, 1e9, 1e15])
def test_a_threshold_above_the_current_value_is_never_crossed(per_day: float) -> None:
    """However steep the trend: only today's value crosses a threshold today."""
    steep = trend([(NOW - timedelta(days=10), 0.0), (NOW, per_day * 10)], [], 7)
    found = crossing(steep, 20 * MB, 512 * MB, NOW, months=12)
    assert found["crossed"] is False
    assert "crossed" not in found["when"]
    assert found["expected"] is None or found["expected"] >= NOW.date().isoformat()
    assert crossing(steep, 512 * MB, 512 * MB, NOW, months=12)["crossed"] is True


def test_thresholds_below_the_limit_are_not_crossed() -> None:
    """A 20 MB database with 512 MB of RAM: not crossed, whatever the growth."""
    b = build_baseline(inputs(), CAP)
    b = replace(b, database_bytes=20 * MB, database=replace(b.database, per_day=1e12))
    p = project(b, Assumptions(months=(6, 12), users_x=10, headroom_pct=30))
    ram = next(t for t in p.thresholds if t["threshold"] == "database larger than RAM")
    assert ram["crossed"] is False and ram["expected"] is not None
    assert ram["when"].startswith("projected ")
    slow = replace(b, database=replace(b.database, per_day=1.0))
    p = project(slow, Assumptions(months=(6, 12), users_x=10, headroom_pct=30))
    ram = next(t for t in p.thresholds if t["threshold"] == "database larger than RAM")
    assert (ram["crossed"], ram["when"]) == (False, "not within 12 months")


def test_usl_cross_check() -> None:
    elasticity = {
        "pool": {
            "recommended_pool_size": 20,
            "usl": {
                "sigma": 0.02,
                "kappa": 0.001,
                "lam": 50,
                "n_star": 31.0,
                "r2": 0.98,
            },
        }
    }
    found = usl_of(elasticity)
    assert found["recommended_pool_size"] == 20 and found["usl"]["n_star"] == 31.0
    assert "exceeds the USL peak N* = 31" in usl_check(found, 40)["note"]
    assert "within the USL peak" in usl_check(found, 10)["note"]
    plain = usl_of({"schema": "pgwarden.load/1", "pool": {"size": 20}})
    assert "no USL fit" in usl_check(plain, 10)["note"]
    with pytest.raises(ValueError):
        usl_of({"usl": [1, 2]})


def test_baseline_and_projection() -> None:
    b = build_baseline(inputs(), CAP)
    assert b.database.method == "regression"
    assert b.database.per_day == pytest.approx(MB)
    assert b.peak_connection_utilisation == pytest.approx(20 / 97)
    assert b.cache_hit_ratio == pytest.approx(0.99)
    assert b.working_set_bytes == 512 * 8192 and b.users == 150 and b.tenants == 12
    assert b.index_overhead == pytest.approx(1.0)
    p = project(b, Assumptions(months=(6, 12), users_x=10, headroom_pct=30))
    six = p.horizons[0]
    assert six["database_bytes"] == round(1000 * MB + MB * 6 * 30.44)
    tables = {t["table"]: t for t in six["tables"]}
    assert tables["AuditLog"]["bytes_at_users_x"] == pytest.approx(
        10 * tables["AuditLog"]["bytes"], abs=10
    )
    assert tables["Framework"]["bytes_at_users_x"] == tables["Framework"]["bytes"]
    assert p.pool["busy_connections"] == pytest.approx(2.0)
    assert (p.pool["pool"], p.pool["pool_at_users_x"]) == (3, 26)
    assert p.memory["ram_bytes"] == 512 * MB
    assert p.memory["shared_buffers_25pct_bytes"] == 128 * MB
    assert p.memory["work_mem_all_connections_bytes"] == 26 * 4 * MB
    names = {t["threshold"]: t for t in p.thresholds}
    assert names["database larger than RAM"]["crossed"] is True
    assert names["database larger than shared_buffers"]["when"] == "crossed"


def test_short_history_says_how_much_more() -> None:
    b = build_baseline(inputs(days=2, samples=48), CAP)
    assert b.history_usable
    assert b.database.method == "two-point" and b.needs_days == pytest.approx(5)
    assert "needs 5.0 more days of history" in b.notes[0]


@pytest.mark.parametrize(
    ("hours", "samples"), [(6 / 60, 5), (12, 48), (48, 11), (23.9, 1000)]
)
def test_too_little_history_is_not_extrapolated(hours: float, samples: int) -> None:
    """Under 24 h or under 12 samples, and nothing else to go on: no projection."""
    full = inputs(days=0, samples=samples)
    first = {**full.database_daily[0], "ts": NOW - timedelta(hours=hours)}
    last = {**full.database_daily[0], "size_bytes": 1000 * MB + 500 * MB}
    b = build_baseline(replace(full, database_ends=[first, last]), CAP)
    assert b.database.method == "none" and b.database.per_day is None
    assert not b.history_usable
    assert "after 24 h in at least 12 samples" in b.database.note
    assert all(t.size.per_day is None for t in b.tables)
    assert b.qps.per_day is None
    with pytest.raises(NoGrowthEvidence) as refused:
        project(b, Assumptions(months=(6, 12), users_x=10, headroom_pct=30))
    assert refused.value.exit_code == 3
    assert "\n" not in str(refused.value)
    assert str(refused.value).startswith("cannot project t: growth unknown")


def test_workbook_is_a_model_of_formulas() -> None:
    b = build_baseline(inputs(), CAP)
    p = project(b, Assumptions(months=(6, 12, 24), users_x=10, headroom_pct=30))
    wb = xlsx.workbook(p)
    assert wb.sheetnames == list(xlsx.SHEETS)
    inputs_ws = wb["Inputs"]
    assert inputs_ws[xlsx.CELLS["headroom_pct"]].value == 30
    assert [inputs_ws.cell(xlsx.HORIZON_ROW, c).value for c in (2, 3, 4)] == [6, 12, 24]
    db = wb["Database"]
    assert [db.cell(r, 1).value for r in (2, 3, 4)] == [
        f"={xlsx.horizon_ref(h)}" for h in range(3)
    ]
    refs = set(
        re.findall(
            r"Inputs!\$[A-Z]+\$\d+",
            " ".join(str(c.value) for row in db.iter_rows() for c in row if c.value),
        )
    )
    assert {
        xlsx.ref("users_x"),
        xlsx.ref("headroom_pct"),
        xlsx.ref("database_growth_per_day"),
        xlsx.ref("peak_qps"),
    } <= refs
    # moving an input moves the formulas that read it
    xlsx.CELLS["users_x"], saved = "B30", xlsx.CELLS["users_x"]
    try:
        moved = xlsx.workbook(p)["Database"]
        text = " ".join(str(c.value) for row in moved.iter_rows() for c in row)
        assert "Inputs!$B$30" in text and "Inputs!$B$2*" not in text
    finally:
        xlsx.CELLS["users_x"] = saved


def test_thresholds_read_in_units_in_markdown() -> None:
    from pgwarden.plan.report import projection_md

    b = build_baseline(inputs(), CAP)
    b = replace(b, database_bytes=20 * MB, database=replace(b.database, per_day=1e6))
    p = project(b, Assumptions(months=(6, 12), users_x=10, headroom_pct=30))
    units = {t["threshold"]: t["unit"] for t in p.thresholds}
    assert units["database larger than RAM"] == "bytes"
    row = next(
        line for line in projection_md(p).splitlines()
        if line.startswith("| database larger than RAM")
    )  # fmt: skip
    assert "20.0 MB" in row and str(20 * MB) not in row
