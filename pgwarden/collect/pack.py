"""Pack finished hours: ``<kind>_current`` rows into arrays and hourly roll-ups.

One statement per kind moves the rows of every finished hour out of the small
``_current`` table, appends them as arrays to ``_history`` (one row per key and
hour; times and intervals as int4 milliseconds, float measures as real) and adds
them to ``_hourly`` (counters summed, gauges at their maximum).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from pgwarden.collect.kinds import KINDS, Kind
from pgwarden.collect.partitions import bucket, ensure_partitions

SCHEMA = "pgwarden"
HOUR = sql.SQL("date_trunc('hour', ts, 'UTC')")


def _ids(names: tuple[str, ...]) -> sql.Composable:
    return sql.SQL(", ").join(map(sql.Identifier, names))


def _table(name: str) -> sql.Identifier:
    return sql.Identifier(SCHEMA, name)


#: a sample's time as milliseconds since its hour, and its interval in milliseconds
AT_MS = sql.SQL("round(extract(epoch FROM ts - {}) * 1000)::int").format(HOUR)
INTERVAL_MS = sql.SQL("round(interval_s * 1000)::int")
PACKED = ("at_ms", "interval_ms")


def _history_insert(kind: Kind) -> sql.Composable:
    elements: list[sql.Composable] = [AT_MS, INTERVAL_MS]
    elements += [
        sql.SQL("{}::{}").format(sql.Identifier(c.name), sql.SQL(c.packed_type))
        for c in kind.columns
    ]
    arrays = sql.SQL(", ").join(
        sql.SQL("array_agg({} ORDER BY ts)").format(e) for e in elements
    )
    appended = sql.SQL(", ").join(
        sql.SQL("{0} = h.{0} || excluded.{0}").format(sql.Identifier(n))
        for n in (*PACKED, *kind.value_names)
    )
    return sql.SQL(
        "INSERT INTO {table} AS h (target_id, hour, {keys}, {packed}, {cols}) "
        "SELECT target_id, {hour}, {keys}, {arrays} FROM moved "
        "GROUP BY target_id, {hour}, {keys} "
        "ON CONFLICT (target_id, {keys}, hour) DO UPDATE SET {appended}"
    ).format(
        table=_table(kind.history), keys=_ids(kind.key_names), packed=_ids(PACKED),
        cols=_ids(kind.value_names), hour=HOUR, arrays=arrays, appended=appended,
    )  # fmt: skip


def _rollup_insert(kind: Kind) -> sql.Composable:
    aggregates = sql.SQL(", ").join(
        sql.SQL("{}({})").format(
            sql.SQL("max" if n in kind.gauges else "sum"), sql.Identifier(n)
        )
        for n in kind.value_names
    )
    combined: list[sql.Composable] = [
        sql.SQL("samples = h.samples + excluded.samples"),
        sql.SQL("interval_s = h.interval_s + excluded.interval_s"),
    ]
    for n in kind.value_names:
        rule = "greatest(h.{0}, excluded.{0})" if n in kind.gauges else (
            "coalesce(h.{0} + excluded.{0}, h.{0}, excluded.{0})"
        )  # fmt: skip
        combined.append(sql.SQL("{0} = " + rule).format(sql.Identifier(n)))
    return sql.SQL(
        "INSERT INTO {table} AS h (target_id, hour, {keys}, samples, interval_s, "
        "{cols}) SELECT target_id, {hour}, {keys}, count(*), sum(interval_s), "
        "{aggregates} FROM moved GROUP BY target_id, {hour}, {keys} "
        "ON CONFLICT (target_id, {keys}, hour) DO UPDATE SET {combined}"
    ).format(
        table=_table(kind.hourly), keys=_ids(kind.key_names),
        cols=_ids(kind.value_names), hour=HOUR, aggregates=aggregates,
        combined=sql.SQL(", ").join(combined),
    )  # fmt: skip


def pack_statement(kind: Kind) -> sql.Composed:
    """Move rows before ``%(before)s`` of ``%(target_id)s`` into history and roll-up."""
    return sql.SQL(
        "WITH moved AS (DELETE FROM {current} WHERE target_id = %(target_id)s "
        "AND ts < %(before)s RETURNING *), "
        "packed AS ({history} RETURNING 1) "
        "{rollup}"
    ).format(
        current=_table(kind.current),
        history=_history_insert(kind),
        rollup=_rollup_insert(kind),
    )


def boundary(now: datetime) -> datetime:
    """Rows before this moment (the start of the current UTC hour) are packed."""
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def pack(conn: psycopg.Connection[Any], target_id: int, now: datetime) -> int:
    """Pack every finished hour of every kind; how many roll-up rows were written."""
    before = boundary(now)
    _ensure_old_partitions(conn, target_id, before, now)
    moved = 0
    for kind in KINDS.values():
        cur = conn.execute(
            pack_statement(kind), {"target_id": target_id, "before": before}
        )
        moved += max(cur.rowcount, 0)
    return moved


def _ensure_old_partitions(
    conn: psycopg.Connection[Any], target_id: int, before: datetime, now: datetime
) -> None:
    """Rows left from days ago (a stopped collector) need their partitions back."""
    oldest = None
    for kind in KINDS.values():
        query = sql.SQL("SELECT min(ts) AS ts FROM {} WHERE target_id = %s").format(
            _table(kind.current)
        )
        row = conn.execute(query, [target_id]).fetchone()
        ts = row[0] if row else None
        if ts is not None and ts < before:
            oldest = ts if oldest is None else min(oldest, ts)
    if oldest is not None and bucket(oldest, "day") < bucket(now, "day"):
        ensure_partitions(conn, now, since=oldest)
