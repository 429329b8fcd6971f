"""Time partitions of the history tables: created ahead, dropped after retention.

Raw samples (``*_history``) are partitioned by UTC day and kept
``collect.raw_retention_days``; roll-ups (``*_hourly``), cycles, gaps and statement
totals by UTC month, kept ``collect.rollup_retention_days`` (cycles at least as
long as raw samples: packed statement samples take their interval from them).
Retention detaches and drops whole partitions; rows are never deleted.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import psycopg
from psycopg import sql

from pgwarden import pg
from pgwarden.collect.kinds import KINDS
from pgwarden.config import CollectSettings, Settings

logger = logging.getLogger(__name__)

SCHEMA = "pgwarden"
LOCK = (int.from_bytes(b"pgwd", "big") - 2**31, 0)
Unit = Literal["day", "month"]

LIST_PARTITIONS = """
SELECT p.relname AS parent, c.relname AS child
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_class p ON p.oid = i.inhparent
JOIN pg_namespace n ON n.oid = p.relnamespace
WHERE n.nspname = %s AND p.relname = ANY(%s)
"""


@dataclass(frozen=True)
class Policy:
    table: str
    unit: Unit
    #: "longest": the longer of both (packed statement samples read their
    #: interval from ``collect_cycle``)
    retention: Literal["raw", "rollup", "longest"]
    #: keep compressing the packed arrays inline down to 128 bytes a row (the
    #: default stops at 2 kB, leaving most arrays uncompressed); see kinds
    packed: bool = False


#: storage parameters of a partition of packed arrays
PACKED_OPTIONS = sql.SQL(" WITH (toast_tuple_target = 128)")

POLICIES = (
    *(Policy(k.history, "day", "raw", packed=True) for k in KINDS.values()),
    *(Policy(k.hourly, "month", "rollup") for k in KINDS.values()),
    Policy("collect_cycle", "month", "longest"),
    Policy("collect_gap", "month", "rollup"),
    Policy("statement_total", "month", "rollup"),
)


def bucket(moment: datetime, unit: Unit) -> datetime:
    """Start of the UTC day or month holding ``moment``."""
    utc = moment.astimezone(UTC)
    start = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    return start.replace(day=1) if unit == "month" else start


def next_bucket(start: datetime, unit: Unit) -> datetime:
    if unit == "day":
        return start + timedelta(days=1)
    return (start + timedelta(days=32)).replace(day=1)


def partition_name(table: str, start: datetime, unit: Unit) -> str:
    stamp = start.strftime("%Y%m%d" if unit == "day" else "%Y%m")
    return f"{table}_p{stamp}"


def partition_start(name: str, unit: Unit) -> datetime | None:
    """The lower bound encoded in a partition's name (None for other tables)."""
    pattern = r"_p(\d{8})$" if unit == "day" else r"_p(\d{6})$"
    match = re.search(pattern, name)
    if match is None:
        return None
    fmt = "%Y%m%d" if unit == "day" else "%Y%m"
    return datetime.strptime(match.group(1), fmt).replace(tzinfo=UTC)


def wanted(policy: Policy, since: datetime, now: datetime) -> list[datetime]:
    """Bucket starts from ``since`` to one bucket past ``now``."""
    start = bucket(min(since, now), policy.unit)
    end = next_bucket(bucket(now, policy.unit), policy.unit)
    starts = []
    while start <= end:
        starts.append(start)
        start = next_bucket(start, policy.unit)
    return starts


def existing(conn: psycopg.Connection[Any]) -> dict[str, set[str]]:
    tables = [p.table for p in POLICIES]
    found: dict[str, set[str]] = {t: set() for t in tables}
    for row in pg.fetch_all(conn, LIST_PARTITIONS, [SCHEMA, tables]):
        found[row["parent"]].add(row["child"])
    return found


def ensure_partitions(
    conn: psycopg.Connection[Any], now: datetime, since: datetime | None = None
) -> list[str]:
    """Create the missing partitions for ``since``..``now`` plus one ahead."""
    created = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", LOCK)
        have = existing(conn)
        for policy in POLICIES:
            for start in wanted(policy, since or now, now):
                name = partition_name(policy.table, start, policy.unit)
                if name not in have[policy.table]:
                    _create(conn, policy, name, start)
                    created.append(name)
    return created


def _create(
    conn: psycopg.Connection[Any], policy: Policy, name: str, start: datetime
) -> None:
    end = next_bucket(start, policy.unit)
    conn.execute(
        sql.SQL(
            "CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({}){}"
        ).format(
            sql.Identifier(SCHEMA, name),
            sql.Identifier(SCHEMA, policy.table),
            sql.Literal(start),
            sql.Literal(end),
            PACKED_OPTIONS if policy.packed else sql.SQL(""),
        )
    )


def expired(
    policy: Policy, names: set[str], now: datetime, settings: CollectSettings
) -> list[str]:
    """Partitions of ``policy`` wholly older than its retention."""
    days = {
        "raw": settings.raw_retention_days,
        "rollup": settings.rollup_retention_days,
        "longest": max(settings.raw_retention_days, settings.rollup_retention_days),
    }[policy.retention]
    cutoff = now - timedelta(days=days)
    old = []
    for name in sorted(names):
        start = partition_start(name, policy.unit)
        if start is not None and next_bucket(start, policy.unit) <= cutoff:
            old.append(name)
    return old


def apply_retention(
    conn: psycopg.Connection[Any],
    now: datetime,
    settings: Settings | CollectSettings,
) -> list[str]:
    """Detach and drop expired partitions; the names of those dropped."""
    collect = settings.collect if isinstance(settings, Settings) else settings
    dropped = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", LOCK)
        have = existing(conn)
        for policy in POLICIES:
            for name in expired(policy, have[policy.table], now, collect):
                _drop(conn, policy.table, name)
                dropped.append(name)
    if dropped:
        logger.info("dropped expired partitions", extra={"partitions": dropped})
    return dropped


def _drop(conn: psycopg.Connection[Any], parent: str, name: str) -> None:
    child = sql.Identifier(SCHEMA, name)
    conn.execute(
        sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
            sql.Identifier(SCHEMA, parent), child
        )
    )
    conn.execute(sql.SQL("DROP TABLE {}").format(child))
