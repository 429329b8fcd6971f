"""Choosing the partition key: a time series by RANGE, a tenant by HASH or LIST.

An append-only table (updates plus deletes below ``append_only_pct`` of inserts)
with a time column that follows insertion order (``pg_stats.correlation`` at least
``min_correlation``) is a time series: RANGE on that column, with the interval
whose partitions come closest to ``partition_bytes`` without exceeding it. A table
most of whose statements filter on the tenant column is tenant-scoped: LIST with a
partition per tenant when there are few, else HASH with enough partitions to keep
each under ``partition_bytes``.
"""

from __future__ import annotations

import math
from datetime import datetime

from pgwarden.config import PartitioningSettings
from pgwarden.plan.partitions.model import Column, Key, TableFacts
from pgwarden.plan.partitions.predicates import TableUsage

TENANT_COLUMNS = ("tenantId", "tenant_id", "tenantid")
PREFERRED_TIME = ("createdAt", "created_at", "createdat", "ts", "timestamp")
#: (name, days) from the finest to the coarsest interval
INTERVALS = (
    ("1 day", 1.0),
    ("1 week", 7.0),
    ("1 month", 30.44),
    ("3 months", 91.31),
    ("1 year", 365.25),
)
MAX_PARTITIONS = 400
PREMAKE = 3
MIN_HASH, MAX_HASH = 4, 256


def write_share(t: TableFacts) -> float | None:
    """Updates plus deletes per insert (None before any insert)."""
    return (t.updates + t.deletes) / t.inserts if t.inserts else None


def time_column(
    t: TableFacts, used: TableUsage, min_correlation: float
) -> Column | None:
    """The time column that follows insertion order, preferring a filtered one."""
    candidates = [
        c
        for c in t.columns
        if c.is_time
        and c.correlation is not None
        and abs(c.correlation) >= min_correlation
    ]

    def rank(c: Column) -> tuple[float, int, float]:
        preferred = 1 if c.name in PREFERRED_TIME else 0
        return (used.share(c.name), preferred, abs(c.correlation or 0.0))

    return max(candidates, key=rank) if candidates else None


def tenant_column(t: TableFacts) -> Column | None:
    return next((c for c in t.columns if c.name in TENANT_COLUMNS), None)


def distinct(t: TableFacts, c: Column) -> int | None:
    """Distinct values of ``c`` (pg_stats: negative n_distinct is a share of rows)."""
    if c.n_distinct is None:
        return None
    if c.n_distinct < 0:
        return max(1, round(-c.n_distinct * t.rows))
    return max(1, round(c.n_distinct))


def range_key(
    t: TableFacts, c: Column, settings: PartitioningSettings, reason: str
) -> Key:
    first = c.first_value
    last = c.last_value
    span = _span_days(first, last)
    per_day = t.total_bytes / span
    rows_per_day = t.rows / span
    chosen = INTERVALS[0]
    for name, days in INTERVALS:
        if per_day * days <= settings.partition_bytes:
            chosen = (name, days)
    for name, days in INTERVALS:
        if days >= chosen[1] and span / days + PREMAKE <= MAX_PARTITIONS:
            chosen = (name, days)
            break
    name, days = chosen
    count = max(1, math.ceil(span / days)) + PREMAKE
    return Key(
        "RANGE",
        c.name,
        reason,
        count,
        round(rows_per_day * days),
        round(per_day * days),
        name,
        days,
        first,
        last,
    )


def _span_days(first: datetime | None, last: datetime | None) -> float:
    if first is None or last is None or last <= first:
        return 1.0
    return max(1.0, (last - first).total_seconds() / 86400)


def tenant_key(
    t: TableFacts, c: Column, settings: PartitioningSettings, reason: str
) -> Key:
    tenants = distinct(t, c)
    if tenants is not None and tenants <= settings.list_max_tenants:
        values = c.most_common_vals[:tenants] or ()
        count = len(values) + 1
        return Key(
            "LIST",
            c.name,
            reason,
            count,
            t.rows // max(1, tenants),
            t.total_bytes // max(1, tenants),
            values=tuple(values),
            extra={"tenants": tenants},
        )
    wanted = math.ceil(t.total_bytes / settings.partition_bytes)
    count = min(MAX_HASH, max(MIN_HASH, 1 << max(0, wanted - 1).bit_length()))
    return Key(
        "HASH",
        c.name,
        reason,
        count,
        t.rows // count,
        t.total_bytes // count,
        extra={"tenants": tenants},
    )


def choose(
    t: TableFacts, used: TableUsage, settings: PartitioningSettings
) -> tuple[str, Key | None, str]:
    """(access pattern, key or None, why)."""
    share = write_share(t)
    tenant = tenant_column(t)
    tenant_share = used.share(tenant.name) if tenant is not None else 0.0
    append_only = share is not None and share * 100 <= settings.append_only_pct
    if append_only:
        column = time_column(t, used, settings.min_correlation)
        if column is not None:
            why = (
                f"append-only time series: {t.inserts:,} inserts, "
                f"{t.updates + t.deletes:,} updates and deletes "
                f"({share:.1%}); {column.name!r} follows insertion order "
                f"(correlation {column.correlation:.2f})"
            )
            return "time series", range_key(t, column, settings, why), why
    if tenant is not None and tenant_share * 100 > settings.tenant_share_pct:
        why = (
            f"tenant-scoped: {tenant_share:.0%} of the statements on the table "
            f"filter on {tenant.name!r}"
        )
        return "tenant-scoped", tenant_key(t, tenant, settings, why), why
    pattern = (
        "append-only"
        if append_only
        else "no writes recorded since the statistics reset"
        if share is None
        else "read-write"
    )
    why = (
        f"{pattern} table with no partition key: no time column follows insertion "
        f"order and {tenant_share:.0%} of its statements filter on a tenant column "
        f"(needs > {settings.tenant_share_pct:g} %)"
    )
    return pattern, None, why
