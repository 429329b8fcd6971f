"""Pure analysis: rows in, metrics out (no I/O, unit-tested with hand-made rows)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from pgwarden.observe.model import (
    Connections,
    IndexUsage,
    SlowRate,
    TableSize,
    TopQuery,
)

Row = Mapping[str, Any]
SortKey = Literal["total", "mean", "calls"]
#: growth per day is extrapolated only from at least this much history
MIN_GROWTH_SPAN_S = 3600.0
DAY_S = 86400.0


def ratio(part: float | None, other: float | None) -> float | None:
    """``part / (part + other)``, or None without any data."""
    if part is None or other is None or part + other <= 0:
        return None
    return float(part) / float(part + other)


def per_second(count: float | None, interval_s: float | None) -> float | None:
    if count is None or not interval_s:
        return None
    return float(count) / float(interval_s)


def mean(total: float | None, count: float | None) -> float | None:
    if total is None or not count:
        return None
    return float(total) / float(count)


def connections(row: Row) -> Connections:
    """From a database sample (or a live read) with the collector's column names."""
    total = int(row.get("connections") or 0)
    active = int(row.get("conn_active") or 0)
    idle = int(row.get("conn_idle") or 0)
    in_xact = int(row.get("conn_idle_in_xact") or 0)
    return Connections(
        total=total,
        active=active,
        idle=idle,
        idle_in_transaction=in_xact,
        other=max(total - active - idle - in_xact, 0),
        waiting_on_lock=int(row.get("conn_waiting_lock") or 0),
        max_connections=_int(row.get("max_connections")),
        reserved=_int(row.get("reserved_connections")),
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def split_own(
    totals: Iterable[Row], own: Collection[int]
) -> tuple[list[Row], list[Row]]:
    """Rows of the application's statements, and those of pgwarden's own."""
    kept: list[Row] = []
    left_out: list[Row] = []
    for row in totals:
        (left_out if int(row["queryid"]) in own else kept).append(row)
    return kept, left_out


def calls_and_time(rows: Iterable[Row]) -> tuple[int, float | None]:
    """Calls and execution time summed over statements; no time without rows."""
    found = list(rows)
    calls = sum(int(r["calls"] or 0) for r in found)
    return calls, sum(float(r["total_ms"] or 0) for r in found) if found else None


def top_queries(
    totals: Iterable[Row],
    texts: Mapping[int, str],
    slow: Mapping[int, Row],
    by: SortKey = "mean",
    limit: int = 10,
) -> tuple[TopQuery, ...]:
    """Statements ranked by mean or total time or calls, with their share of time."""
    rows = [r for r in totals if r["calls"]]
    grand_total = sum(float(r["total_ms"] or 0) for r in rows)
    ordered = sorted(rows, key=lambda r: _rank(r, by), reverse=True)
    return tuple(_top_query(r, texts, slow, grand_total) for r in ordered[:limit])


def _rank(row: Row, by: SortKey) -> tuple[float, float, int]:
    """Descending by the chosen figure, then the other one, then lowest queryid."""
    calls, total_ms = int(row["calls"]), float(row["total_ms"] or 0)
    queryid = int(row["queryid"])
    if by == "mean":
        return total_ms / calls, total_ms, -queryid
    if by == "calls":
        return calls, total_ms, -queryid
    return total_ms, calls, -queryid


def _top_query(
    row: Row, texts: Mapping[int, str], slow: Mapping[int, Row], grand_total: float
) -> TopQuery:
    queryid = int(row["queryid"])
    total_ms = float(row["total_ms"] or 0)
    seen = slow.get(queryid, {})
    interval_max = row.get("max_interval_mean_ms")
    candidates = [v for v in (seen.get("max_ms"), interval_max) if v is not None]
    return TopQuery(
        queryid=queryid,
        query=texts.get(queryid, ""),
        calls=int(row["calls"]),
        mean_ms=total_ms / int(row["calls"]),
        max_ms=float(max(candidates)) if candidates else None,
        total_ms=total_ms,
        share_of_total_time=total_ms / grand_total if grand_total else 0.0,
        rows=int(row.get("rows") or 0),
        caller=seen.get("caller"),
    )


def index_usage(
    latest: Iterable[Row],
    totals: Mapping[int, Row],
    names: Mapping[int, Row],
    unused: Collection[int] | None,
) -> tuple[IndexUsage, ...]:
    """One entry per index in the latest sample with its scans in the window.

    ``unused``: the relids index health calls unused (None: not known).
    """
    found = []
    for row in latest:
        relid = int(row["relid"])
        name = names.get(relid)
        if name is None:
            continue
        total = totals.get(relid, {})
        scans = int(total.get("scans") or 0)
        table = names.get(int(name["table_relid"] or 0), {}).get("rel_name")
        found.append(
            IndexUsage(
                schema=name["schema_name"],
                table=table,
                index=name["rel_name"],
                scans=scans,
                tuples_read=int(total.get("tup_read") or 0),
                tuples_fetched=int(total.get("tup_fetch") or 0),
                size_bytes=_int(row.get("size_bytes")),
                unused=None if unused is None else relid in unused,
            )
        )
    return tuple(sorted(found, key=lambda i: (i.scans, -(i.size_bytes or 0), i.index)))


def growth_per_day(
    first: Row | None, last_size: int | None, last_ts: datetime
) -> float | None:
    """Bytes per day between the first sample of the window and the latest one."""
    if first is None or last_size is None or first["total_size_bytes"] is None:
        return None
    start: datetime = first["ts"]
    span = (last_ts - start).total_seconds()
    if span < MIN_GROWTH_SPAN_S:
        return None
    return float(last_size - int(first["total_size_bytes"])) / span * DAY_S


def table_sizes(
    latest: Iterable[Row],
    first: Mapping[int, Row],
    names: Mapping[int, Row],
    last_ts: datetime,
) -> tuple[TableSize, ...]:
    """Tables by total size, largest first, with rows and growth per day."""
    found = []
    for row in latest:
        relid = int(row["relid"])
        name = names.get(relid)
        if name is None:
            continue
        total = _int(row.get("total_size_bytes"))
        found.append(
            TableSize(
                schema=name["schema_name"],
                table=name["rel_name"],
                size_bytes=_int(row.get("size_bytes")),
                total_size_bytes=total,
                rows=_int(row.get("n_live_tup")),
                growth_bytes_per_day=growth_per_day(first.get(relid), total, last_ts),
            )
        )
    return tuple(sorted(found, key=lambda t: (-(t.total_size_bytes or 0), t.table)))


def slow_rate(minutes: Iterable[Any]) -> SlowRate:
    """Sum of per-minute counts (objects with warning/critical/emergency)."""
    items = list(minutes)
    return SlowRate(
        warning=sum(m.warning for m in items),
        critical=sum(m.critical for m in items),
        emergency=sum(m.emergency for m in items),
    )
