"""Markdown of the baseline and the projection (JSON is their ``as_dict``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pgwarden.plan.baseline import Baseline
from pgwarden.plan.project import Projection
from pgwarden.plan.trend import Trend
from pgwarden.plan.units import size


def _growth(per_day: float | None) -> str:
    return "unknown" if per_day is None else f"{size(per_day)}/day"


def _range(trend: Trend) -> str:
    """``1.0 MB to 2.0 MB/day``: the spread of the rates the evidence shows."""
    if trend.low is None or trend.high is None:
        return ""
    return f"{size(trend.low)} to {size(trend.high)}/day"


def _num(value: float | None, fmt: str = ".2f") -> str:
    return "n/a" if value is None else format(value, fmt)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        return ("" if v is None else str(v)).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]


def baseline_md(b: Baseline) -> str:
    db = b.database
    lines = [
        f"# Capacity baseline of {b.target}",
        "",
        f"- database size: {size(b.database_bytes)}",
        f"- growth: {_growth(db.per_day)}, method {db.method}: {db.note}",
        f"- peak statements per second: {_num(b.peak_qps)} "
        f"(highest collection interval, at {b.peak_qps_at or 'n/a'})",
        f"- mean statement time: {_num(b.mean_statement_ms, '.3f')} ms",
        f"- peak connections: {b.peak_connections} of {b.usable_connections} usable "
        f"({_pct(b.peak_connection_utilisation)})",
        f"- shared_buffers: {size(b.shared_buffers_bytes)}, cache hit ratio "
        f"{_pct(b.cache_hit_ratio)}",
        f"- working set: {size(b.working_set_bytes)} ({b.working_set_note})",
        f"- index storage: {size(b.index_bytes)} for {size(b.heap_bytes)} of heap "
        f"({_num(b.index_overhead)} bytes of index per heap byte)",
    ]
    lines += [f"- note: {n}" for n in b.notes]
    lines += ["", "## Tables", ""]
    rows = [
        (
            f"{t.schema}.{t.name}",
            size(t.total_bytes),
            size(t.index_bytes),
            t.rows,
            _growth(t.size.per_day),
            _range(t.size),
            t.size.method,
            _num(t.size.r2),
            _num(t.row_growth.per_day, ".1f"),
            t.scales_with or "reference",
        )
        for t in b.tables
    ]
    lines += _table(
        [
            "table",
            "size",
            "indexes",
            "rows",
            "growth",
            "range",
            "method",
            "R²",
            "rows/day",
            "grows with",
        ],
        rows,
    )
    return "\n".join(lines) + "\n"


def projection_md(p: Projection) -> str:
    a, pool, mem = p.assumptions, p.pool, p.memory
    db = p.baseline.database
    lines = [
        f"# Capacity projection of {p.baseline.target}",
        "",
        f"Users x{a.users_x:g}, headroom {a.headroom_pct:g} %.",
        "",
        f"Growth: {_growth(db.per_day)}, method **{db.method}**: {db.note}.",
        "",
        "## Sizes",
        "",
    ]
    rows = [
        (
            h["months"],
            size(h["database_bytes"]),
            _between(h["database_bytes_low"], h["database_bytes_high"]),
            size(h["database_bytes_at_users_x"]),
            size(h["index_bytes_at_users_x"]),
        )
        for h in p.horizons
    ]
    lines += _table(
        [
            "months",
            "database on trend",
            "range",
            f"at users x{a.users_x:g}",
            "index storage at users x",
        ],
        rows,
    )
    lines += ["", "## Connection pool (Little's law)", ""]
    if "pool" in pool:
        lines += [
            f"- now: {pool['peak_qps']} statements/s x {pool['mean_statement_ms']} ms"
            f" = {pool['busy_connections']} busy connections -> pool {pool['pool']}",
            f"- at users x{a.users_x:g}: {pool['peak_qps_at_users_x']} statements/s "
            f"-> pool {pool['pool_at_users_x']} (usable connections: "
            f"{pool['usable_connections']})",
        ]
        usl = pool.get("usl")
        if usl:
            lines.append(f"- load test: {usl['note']}")
    else:
        lines.append(f"- {pool['note']}")
    lines += [
        "",
        "## Memory",
        "",
        f"- RAM {size(mem['ram_bytes'])} ({mem['ram_source']}); shared_buffers "
        f"{size(mem['shared_buffers_bytes'])}, 25 % rule: "
        f"{size(mem['shared_buffers_25pct_bytes'])}",
        f"- working set at the last horizon and users x: "
        f"{size(mem['working_set_bytes_at_horizon_users_x'])}; shared_buffers "
        f"needed {size(mem['shared_buffers_needed_bytes'])}, RAM needed "
        f"{size(mem['ram_needed_bytes'])}",
        f"- work_mem {size(mem['work_mem_bytes'])} per sort or hash per connection; "
        f"{mem['work_mem_connections']} connections: "
        f"{size(mem['work_mem_all_connections_bytes'])}",
        "",
        "## Scaling thresholds",
        "",
    ]
    trows = [
        (t["threshold"], _amount(t["current"], t["unit"]),
         _amount(t["limit"], t["unit"]), t["when"], t["trend"])
        for t in p.thresholds
    ]  # fmt: skip
    lines += _table(["threshold", "now", "limit", "crossed", "trend"], trows)
    return "\n".join(lines) + "\n"


def _amount(value: float, unit: str) -> str:
    """A threshold's figure as a DBA reads it: sizes in binary units, counts grouped."""
    if unit == "bytes":
        return size(value)
    return f"{value:,.1f} {unit}" if unit == "queries/s" else f"{value:,.0f} {unit}"


def _between(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None else f"{size(low)} to {size(high)}"
