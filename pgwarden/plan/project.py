"""Projections: sizes at future horizons, the pool, memory and threshold dates.

Everything here is arithmetic over a :class:`Baseline`; the spreadsheet
(:mod:`pgwarden.plan.xlsx`) writes the same arithmetic as formulas. A baseline
whose growth is unknown is not projected (:class:`NoGrowthEvidence`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pgwarden.errors import TargetError
from pgwarden.plan.baseline import Baseline, TableBaseline
from pgwarden.plan.trend import Trend

if TYPE_CHECKING:
    from pgwarden.config import Settings

DAYS_PER_MONTH = 30.44
#: shared_buffers as a share of RAM (the common 25 % rule)
SHARED_BUFFERS_SHARE = 0.25
#: connection utilisation above which the alert fires (alerts.connection_...)
DISK_SHARE = 0.8


class NoGrowthEvidence(TargetError):
    """Nothing shows how fast the database grows yet; there is nothing to project."""


@dataclass(frozen=True)
class Assumptions:
    months: tuple[int, ...]
    users_x: float
    headroom_pct: float
    memory_bytes: int | None = None
    disk_bytes: int | None = None
    connection_alert_pct: float = 80
    partition_min_rows: int = 10_000_000

    @property
    def headroom(self) -> float:
        return 1 + self.headroom_pct / 100

    @classmethod
    def of(
        cls, settings: Settings, months: str | None = None, users_x: float | None = None
    ) -> Assumptions:
        """The settings' assumptions, with ``--months`` and ``--users-x`` if given;
        ValueError for months that are not whole numbers from 1 to 120."""
        cap = settings.capacity
        horizons = parse_months(months) if months is not None else tuple(cap.months)
        if not horizons:
            raise ValueError("give at least one horizon, e.g. 6,12")
        return cls(
            months=horizons, users_x=users_x or cap.users_multiplier,
            headroom_pct=cap.headroom_pct, memory_bytes=cap.memory_bytes,
            disk_bytes=cap.disk_bytes,
            connection_alert_pct=settings.alerts.connection_utilisation_pct,
            partition_min_rows=settings.partitioning.min_rows,
        )  # fmt: skip


def pool_size(qps: float, mean_ms: float, headroom_pct: float) -> tuple[float, int]:
    """Little's law: busy connections L = λ W, and the pool with headroom."""
    busy = qps * mean_ms / 1000
    return busy, max(1, math.ceil(busy * (1 + headroom_pct / 100)))


def table_size_at(table: TableBaseline, days: float, users_x: float) -> float:
    on_trend = table.size.value_at(days, float(table.total_bytes)) or 0.0
    return on_trend * (users_x if table.scales_with else 1.0)


def crossing(
    trend: Trend, current: float, threshold: float, now: datetime, months: int
) -> dict[str, Any]:
    """Whether ``threshold`` is crossed now, or when ``trend`` is expected to cross it.

    Crossed only when the current value is at or above it. Otherwise the projected
    date when the trend gets there within ``months``, or "not within N months".
    """
    if current >= threshold:
        return {"crossed": True, "expected": None, "in_days": 0.0, "when": "crossed"}
    later: dict[str, Any] = {"crossed": False, "expected": None, "in_days": None}
    if trend.per_day is None:
        return later | {"when": "growth unknown"}
    days = (threshold - current) / trend.per_day if trend.per_day > 0 else math.inf
    if days > months * DAYS_PER_MONTH:
        return later | {"when": f"not within {months} months"}
    date = (now + timedelta(days=days)).date().isoformat()
    soon = "less than a day" if days < 1 else f"{days:.0f} days"
    return {
        "crossed": False,
        "expected": date,
        "in_days": round(days, 1),
        "when": f"projected {date} (in {soon})",
    }


def usl_check(report: Mapping[str, Any] | None, pool: int) -> dict[str, Any] | None:
    """Compare the pool Little's law asks for with a load test's USL fit."""
    if report is None:
        return None
    usl = report.get("usl")
    found = {"usl": usl, "recommended_pool_size": report.get("recommended_pool_size")}
    if not usl:
        found["note"] = (
            "the load report carries no USL fit; run pgwarden load elasticity "
            "--output FILE for one"
        )
        return found
    n_star = usl.get("n_star")
    if n_star is None:
        found["note"] = "the USL fit shows no throughput peak in the measured range"
    elif pool > n_star:
        found["note"] = (
            f"the required pool of {pool} exceeds the USL peak N* = {n_star:.0f}: "
            "more connections would lower throughput; scale the database (CPU, "
            "read replicas) or cut statement time instead"
        )
    else:
        found["note"] = (
            f"the required pool of {pool} is within the USL peak N* = {n_star:.0f}"
        )
    return found


@dataclass(frozen=True)
class Projection:
    baseline: Baseline
    assumptions: Assumptions
    horizons: tuple[dict[str, Any], ...]
    pool: dict[str, Any]
    memory: dict[str, Any]
    thresholds: tuple[dict[str, Any], ...]
    load: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        a = self.assumptions
        return {
            "target": self.baseline.target,
            "assumptions": {
                "months": list(a.months),
                "users_x": a.users_x,
                "headroom_pct": a.headroom_pct,
                "memory_bytes": self.memory["ram_bytes"],
                "disk_bytes": a.disk_bytes,
            },
            "growth": self.baseline.database.as_dict(),
            "growth_note": self.baseline.database.note,
            "horizons": list(self.horizons),
            "pool": self.pool,
            "memory": self.memory,
            "thresholds": list(self.thresholds),
            "load_report": self.load,
        }


def _horizon(b: Baseline, months: int, users_x: float) -> dict[str, Any]:
    days = months * DAYS_PER_MONTH
    tables = {
        t.name: (
            t.size.value_at(days, float(t.total_bytes)) or 0.0,
            table_size_at(t, days, users_x),
        )
        for t in b.tables
    }
    now = float(b.database_bytes)
    db = b.database.value_at(days, now) or 0.0
    other = max(0.0, db - sum(on for on, _ in tables.values()))
    overhead = b.index_overhead or 0.0
    at_users = other + sum(x for _, x in tables.values())
    low, high = (
        None if rate is None else round(max(0.0, now + rate * days))
        for rate in (b.database.low, b.database.high)
    )
    return {
        "months": months,
        "days": round(days, 1),
        "database_bytes": round(db),
        "database_bytes_low": low,
        "database_bytes_high": high,
        "database_bytes_at_users_x": round(at_users),
        "index_bytes_at_users_x": round(at_users * overhead / (1 + overhead)),
        "tables": [
            {"table": name, "bytes": round(on), "bytes_at_users_x": round(x)}
            for name, (on, x) in tables.items()
        ],
    }


def _pool(
    b: Baseline, a: Assumptions, load: Mapping[str, Any] | None
) -> dict[str, Any]:
    if b.peak_qps is None or b.mean_statement_ms is None:
        return {"note": "no statement totals in the history: pool size unknown"}
    busy, now = pool_size(b.peak_qps, b.mean_statement_ms, a.headroom_pct)
    busy_x, at_x = pool_size(
        b.peak_qps * a.users_x, b.mean_statement_ms, a.headroom_pct
    )
    return {
        "peak_qps": round(b.peak_qps, 6),
        "mean_statement_ms": round(b.mean_statement_ms, 6),
        "busy_connections": round(busy, 6),
        "pool": now,
        "peak_qps_at_users_x": round(b.peak_qps * a.users_x, 6),
        "busy_connections_at_users_x": round(busy_x, 6),
        "pool_at_users_x": at_x,
        "usable_connections": b.usable_connections,
        "formula": "pool = ceil(peak_qps x mean_statement_s x (1 + headroom))",
        "usl": usl_check(load, at_x),
    }


def _memory(b: Baseline, a: Assumptions, pool_x: int | None) -> dict[str, Any]:
    ram = a.memory_bytes or round(b.shared_buffers_bytes / SHARED_BUFFERS_SHARE)
    last = a.months[-1] * DAYS_PER_MONTH if a.months else 0.0
    db_now = float(b.database_bytes) or 1.0
    db_then = b.database.value_at(last, db_now) or db_now
    ws = b.working_set_bytes
    ws_then = None if ws is None else round(ws * db_then / db_now * a.users_x)
    need_sb = None if ws_then is None else round(ws_then * a.headroom)
    connections = pool_x or b.usable_connections
    return {
        "ram_bytes": ram,
        "ram_source": "capacity.memory_bytes"
        if a.memory_bytes
        else "shared_buffers / 25 %",
        "shared_buffers_bytes": b.shared_buffers_bytes,
        "shared_buffers_25pct_bytes": round(ram * SHARED_BUFFERS_SHARE),
        "working_set_bytes": ws,
        "working_set_bytes_at_horizon_users_x": ws_then,
        "shared_buffers_needed_bytes": need_sb,
        "ram_needed_bytes": None
        if need_sb is None
        else round(need_sb / SHARED_BUFFERS_SHARE),
        "work_mem_bytes": b.work_mem_bytes,
        "work_mem_per_connection_bytes": b.work_mem_bytes,
        "work_mem_all_connections_bytes": b.work_mem_bytes * connections,
        "work_mem_connections": connections,
        "note": b.working_set_note,
    }


def _thresholds(b: Baseline, a: Assumptions, memory: Mapping[str, Any]) -> list[Any]:
    size = float(b.database_bytes)
    limits: list[tuple[str, Trend, float, float, str]] = [
        ("database larger than RAM", b.database, size, memory["ram_bytes"], "bytes"),
        (
            "database larger than shared_buffers",
            b.database,
            size,
            b.shared_buffers_bytes,
            "bytes",
        ),
    ]
    if a.disk_bytes:
        limits.append(
            (
                f"database above {DISK_SHARE:.0%} of the disk",
                b.database,
                size,
                a.disk_bytes * DISK_SHARE,
                "bytes",
            )
        )
    if b.peak_qps is not None and b.mean_statement_ms:
        usable = b.usable_connections * a.connection_alert_pct / 100
        limit_qps = usable / (b.mean_statement_ms / 1000) / a.headroom
        limits.append(
            (
                f"pool above {a.connection_alert_pct:.0f} % of usable connections",
                b.qps,
                b.peak_qps,
                limit_qps,
                "queries/s",
            )
        )
    for t in b.tables:
        if t.rows and t.row_growth.per_day and t.row_growth.per_day > 0:
            limits.append(
                (
                    f"{t.name} above {a.partition_min_rows:,} rows "
                    "(partitioning advised)",
                    t.row_growth,
                    t.rows,
                    a.partition_min_rows,
                    "rows",
                )
            )
    months = max(a.months, default=0)
    return [
        _limit(name, trend, current, limit, b.generated_at, months) | {"unit": unit}
        for name, trend, current, limit, unit in limits
    ]


def _limit(
    name: str,
    trend: Trend,
    current: float,
    threshold: float,
    now: datetime,
    months: int,
) -> dict[str, Any]:
    return {
        "threshold": name,
        "current": round(current, 3),
        "limit": round(threshold),
        **crossing(trend, current, threshold, now, months),
        "trend": trend.method,
    }


def project(
    b: Baseline, a: Assumptions, load: Mapping[str, Any] | None = None
) -> Projection:
    """The projection of ``b`` under ``a``; refused when its growth is unknown."""
    if b.database.per_day is None:
        raise NoGrowthEvidence(
            f"cannot project {b.target}: growth unknown: {b.database.note}; keep "
            "pgwarden collect running (pgwarden worker does) and try again"
        )
    pool = _pool(b, a, load)
    memory = _memory(b, a, pool.get("pool_at_users_x"))
    return Projection(
        baseline=b,
        assumptions=a,
        horizons=tuple(_horizon(b, m, a.users_x) for m in a.months),
        pool=pool,
        memory=memory,
        thresholds=tuple(_thresholds(b, a, memory)),
        load=None if load is None else dict(load),
    )


def parse_months(text: str) -> tuple[int, ...]:
    """``"6,12"`` → (6, 12); ValueError with the reason otherwise."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise ValueError("give at least one number of months, e.g. 6,12")
    months = []
    for part in parts:
        if not part.isdigit() or not 1 <= int(part) <= 120:
            raise ValueError(f"{part!r} is not a whole number of months from 1 to 120")
        months.append(int(part))
    return tuple(sorted(set(months)))


def usl_of(report: Mapping[str, Any]) -> dict[str, Any]:
    """The USL fit and recommended pool of a load or elasticity report."""
    pool = report.get("pool")
    pool = pool if isinstance(pool, Mapping) else {}
    usl = pool.get("usl") or report.get("usl")
    if usl is not None and not isinstance(usl, Mapping):
        raise ValueError("'usl' is not an object")
    return {
        "usl": dict(usl) if usl else None,
        "recommended_pool_size": pool.get("recommended_pool_size"),
        "schema": report.get("schema"),
    }
