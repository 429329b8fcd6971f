"""The capacity baseline: where the database stands and how fast it grows.

:func:`build_baseline` takes the rows the gather functions read (pgwarden's
history per UTC day, the target's settings, storage and growth evidence) and
returns a :class:`Baseline`; it does no I/O. Where its growth comes from is
decided in :mod:`.growth`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pgwarden.config import CapacitySettings
from pgwarden.plan.evidence import Evidence, Window
from pgwarden.plan.evidence import rows_of as _rows_of
from pgwarden.plan.growth import Sources, choose, history_of
from pgwarden.plan.trend import Trend, trend, unknown

TENANT_COLUMNS = ("tenantId", "tenant_id", "tenantid")
USER_COLUMNS = ("userId", "user_id", "userid")
TENANT_TABLES = ("tenant", "tenants", "organization", "organisation", "account")
USER_TABLES = ("user", "users")
Row = Mapping[str, Any]


@dataclass(frozen=True)
class Inputs:
    """Everything the baseline is computed from, as read."""

    target: str
    generated_at: datetime
    first_ts: datetime | None
    database_daily: Sequence[Row]
    database_ends: Sequence[Row]
    table_daily: Sequence[Row]
    table_ends: Sequence[Row]
    rate_daily: Sequence[Row]
    peak: Row
    settings: Row
    storage: Sequence[Row]
    buffercache: Row | None
    buffercache_reason: str | None = None
    #: database size samples in the history window
    history_samples: int = 0
    #: the days creation timestamps were counted over; None when not read
    evidence_window: Window | None = None
    #: per table read: relid, column, sample_pct, counts [(day, rows)], reason
    created: Sequence[Row] = ()


@dataclass(frozen=True)
class TableBaseline:
    schema: str
    name: str
    total_bytes: int
    heap_bytes: int
    index_bytes: int
    rows: int
    size: Trend
    row_growth: Trend
    scales_with: str | None
    inserts: int
    updates: int
    deletes: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "table": self.name,
            "total_bytes": self.total_bytes,
            "heap_bytes": self.heap_bytes,
            "index_bytes": self.index_bytes,
            "rows": self.rows,
            "size_growth": self.size.as_dict(),
            "row_growth": self.row_growth.as_dict(),
            "scales_with": self.scales_with,
            "inserts": self.inserts,
            "updates": self.updates,
            "deletes": self.deletes,
        }


@dataclass(frozen=True)
class Baseline:
    target: str
    generated_at: datetime
    history_from: datetime | None
    history_days: float
    min_history_days: float
    database_bytes: int
    database: Trend
    tables: tuple[TableBaseline, ...]
    peak_qps: float | None
    peak_qps_at: datetime | None
    qps: Trend
    mean_statement_ms: float | None
    peak_connections: int | None
    usable_connections: int
    peak_connection_utilisation: float | None
    shared_buffers_bytes: int
    work_mem_bytes: int
    cache_hit_ratio: float | None
    working_set_bytes: int | None
    buffers_used_bytes: int | None
    working_set_note: str
    heap_bytes: int
    index_bytes: int
    users: int | None
    tenants: int | None
    notes: tuple[str, ...] = field(default=())
    #: (UTC day, database size at its maximum that day)
    daily: tuple[tuple[datetime, int], ...] = field(default=())
    history_samples: int = 0
    #: whether pgwarden's history is long enough to take growth from
    history_usable: bool = False
    history_note: str = ""

    @property
    def index_overhead(self) -> float | None:
        """Index bytes per heap byte."""
        return self.index_bytes / self.heap_bytes if self.heap_bytes else None

    @property
    def needs_days(self) -> float:
        return self.database.needs_days

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "generated_at": self.generated_at.isoformat(),
            "history": {
                "from": self.history_from,
                "days": round(self.history_days, 2),
                "samples": self.history_samples,
                "min_days": self.min_history_days,
                "needs_days": round(self.needs_days, 1),
                "usable": self.history_usable,
                "note": self.history_note,
            },
            "database": {
                "size_bytes": self.database_bytes,
                "growth": self.database.as_dict(),
            },
            "peak_qps": _round(self.peak_qps),
            "peak_qps_at": self.peak_qps_at,
            "qps_growth": self.qps.as_dict(),
            "mean_statement_ms": _round(self.mean_statement_ms),
            "connections": {
                "peak": self.peak_connections,
                "usable": self.usable_connections,
                "peak_utilisation": _round(self.peak_connection_utilisation),
            },
            "memory": {
                "shared_buffers_bytes": self.shared_buffers_bytes,
                "work_mem_bytes": self.work_mem_bytes,
                "cache_hit_ratio": _round(self.cache_hit_ratio),
                "working_set_bytes": self.working_set_bytes,
                "buffers_used_bytes": self.buffers_used_bytes,
                "working_set_note": self.working_set_note,
            },
            "storage": {
                "heap_bytes": self.heap_bytes,
                "index_bytes": self.index_bytes,
                "index_overhead": _round(self.index_overhead),
            },
            "users": self.users,
            "tenants": self.tenants,
            "tables": [t.as_dict() for t in self.tables],
            "notes": list(self.notes),
        }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)


def scales_with(columns: Sequence[str], name: str) -> str | None:
    """``tenant`` or ``user`` for tables that grow with them; None for reference."""
    lowered = name.lower()
    if lowered in TENANT_TABLES or any(c in TENANT_COLUMNS for c in columns):
        return "tenant"
    if lowered in USER_TABLES or any(c in USER_COLUMNS for c in columns):
        return "user"
    return None


def _series(rows: Sequence[Row], column: str) -> list[tuple[datetime, float]]:
    return [(r["ts"], float(r[column])) for r in rows if r.get(column) is not None]


def _history_trends(
    daily: Sequence[Row], ends: Sequence[Row], min_days: float
) -> tuple[Trend, Trend]:
    return (
        trend(
            _series(daily, "total_size_bytes"),
            _series(ends, "total_size_bytes"),
            min_days,
        ),
        trend(_series(daily, "n_live_tup"), _series(ends, "n_live_tup"), min_days),
    )


def _table(
    storage: Row, daily: Sequence[Row], growth: tuple[Trend, Trend]
) -> TableBaseline:
    return TableBaseline(
        schema=storage["schema_name"],
        name=storage["rel_name"],
        total_bytes=int(storage["total_bytes"]),
        heap_bytes=int(storage["heap_bytes"]),
        index_bytes=int(storage["index_bytes"]),
        rows=_rows_of(storage),
        size=growth[0],
        row_growth=growth[1],
        scales_with=scales_with(storage["columns"], storage["rel_name"]),
        inserts=sum(int(r["n_tup_ins"] or 0) for r in daily),
        updates=sum(int(r["n_tup_upd"] or 0) for r in daily),
        deletes=sum(int(r["n_tup_del"] or 0) for r in daily),
    )


def _count_of(tables: Sequence[TableBaseline], names: Sequence[str]) -> int | None:
    found = [t.rows for t in tables if t.name.lower() in names]
    return found[0] if found else None


def _tables(
    inputs: Inputs, cap: CapacitySettings, evidence: Evidence | None
) -> tuple[TableBaseline, ...]:
    by_relid: dict[int, list[Row]] = {}
    for row in inputs.table_daily:
        by_relid.setdefault(int(row["relid"]), []).append(row)
    ends: dict[int, list[Row]] = {}
    for row in inputs.table_ends:
        ends.setdefault(int(row["relid"]), []).append(row)
    flat = unknown(
        "no growth evidence for this table: taken as not growing"
        if evidence is not None and evidence.tables
        else "growth unknown"
    )
    found = []
    for s in inputs.storage:
        relid = int(s["relid"])
        daily = by_relid.get(relid, [])
        if evidence is None:
            growth = _history_trends(daily, ends.get(relid, []), cap.min_history_days)
        elif relid in evidence.skipped:
            why = unknown(
                f"no rate from creation timestamps ({evidence.skipped[relid]}): "
                "taken as not growing"
            )
            growth = (why, why)
        else:
            growth = evidence.tables.get(relid, (flat, flat))
        found.append(_table(s, daily, growth))
    return tuple(found)


def build_baseline(inputs: Inputs, cap: CapacitySettings) -> Baseline:
    """The baseline of one target from its gathered rows."""
    history = history_of(
        trend(
            _series(inputs.database_daily, "size_bytes"),
            _series(inputs.database_ends, "size_bytes"),
            cap.min_history_days,
        ),
        inputs.history_samples,
        cap,
    )
    sources = Sources(
        storage=inputs.storage,
        created=inputs.created,
        window=inputs.evidence_window,
        stats_reset=inputs.settings.get("stats_reset"),
        now=inputs.generated_at,
    )
    database, evidence = choose(history, sources, cap)
    tables = _tables(inputs, cap, evidence)
    settings = inputs.settings
    usable = int(settings["max_connections"]) - int(settings["reserved_connections"])
    peak_conns = _max(inputs.database_daily, "connections")
    hit, read = (
        sum(int(r[c] or 0) for r in inputs.database_daily)
        for c in ("blks_hit", "blks_read")
    )
    working, used, note = _working_set(inputs, int(settings["block_size"]))
    qps = trend(_series(inputs.rate_daily, "peak_qps"), [], cap.min_history_days)
    if qps.method != "regression" and not history.usable:
        qps = unknown(f"peak rate growth unknown: {history.note}", qps.needs_days)
    notes = [database.note] if database.method in ("two-point", "none") else []
    if inputs.peak.get("peak_qps") is None:
        notes.append("no statement totals collected yet: peak rate unknown")
    return Baseline(
        target=inputs.target,
        generated_at=inputs.generated_at,
        history_from=inputs.first_ts,
        history_days=history.database.span_days,
        min_history_days=cap.min_history_days,
        database_bytes=int(settings["database_bytes"]),
        database=database,
        tables=tables,
        peak_qps=inputs.peak.get("peak_qps"),
        peak_qps_at=inputs.peak.get("peak_ts"),
        qps=qps,
        mean_statement_ms=inputs.peak.get("mean_ms"),
        peak_connections=peak_conns,
        usable_connections=usable,
        peak_connection_utilisation=(
            peak_conns / usable if peak_conns is not None and usable else None
        ),
        shared_buffers_bytes=int(settings["shared_buffers_bytes"]),
        work_mem_bytes=int(settings["work_mem_bytes"]),
        cache_hit_ratio=hit / (hit + read) if hit + read else None,
        working_set_bytes=working,
        buffers_used_bytes=used,
        working_set_note=note,
        heap_bytes=sum(t.heap_bytes for t in tables),
        index_bytes=sum(t.index_bytes for t in tables),
        users=_count_of(tables, USER_TABLES),
        tenants=_count_of(tables, TENANT_TABLES),
        notes=tuple(notes),
        daily=tuple((r["day"], int(r["size_bytes"])) for r in inputs.database_daily),
        history_samples=history.samples,
        history_usable=history.usable,
        history_note=history.note,
    )


def _max(rows: Sequence[Row], column: str) -> int | None:
    values = [int(r[column]) for r in rows if r.get(column) is not None]
    return max(values) if values else None


def _working_set(inputs: Inputs, block: int) -> tuple[int | None, int | None, str]:
    cache = inputs.buffercache
    if cache is None:
        reason = inputs.buffercache_reason or "pg_buffercache is not installed"
        return None, None, f"working set unknown: {reason}"
    hot = int(cache["hot_buffers"]) * block
    used = int(cache["used_buffers"]) * block
    return (
        hot,
        used,
        (
            "working set = shared buffers used more than once (pg_buffercache, "
            "usagecount >= 2)"
        ),
    )
