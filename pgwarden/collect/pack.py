"""Pack finished hours: ``<kind>_current`` rows into arrays and hourly roll-ups.

One statement per kind moves the rows of every finished hour out of the small
``_current`` table, appends them as arrays to ``_history`` (one row per key and
hour; times and intervals as int4 milliseconds, float measures as real; see
:mod:`pgwarden.collect.kinds` for empty and NULL arrays) and adds them to
``_hourly`` (counters summed, gauges at their maximum).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from pgwarden.collect.kinds import KINDS, Kind
from pgwarden.collect.partitions import bucket, ensure_partitions

SCHEMA = "pgwarden"
HOUR = sql.SQL("date_trunc('hour', m.ts, 'UTC')")


def _ids(names: tuple[str, ...]) -> sql.Composable:
    return sql.SQL(", ").join(map(sql.Identifier, names))


def _table(name: str) -> sql.Identifier:
    return sql.Identifier(SCHEMA, name)


#: a sample's time as milliseconds since its hour, and its interval in milliseconds
AT_MS = sql.SQL("round(extract(epoch FROM m.ts - {}) * 1000)::int").format(HOUR)
INTERVAL_MS = sql.SQL("round(m.interval_s * 1000)::int")
#: the interval of the collection cycle ending at the sample, in milliseconds
CYCLE_MS = sql.SQL("round(extract(epoch FROM cc.ts - cc.prev_ts) * 1000)::int")
PACKED = ("at_ms", "interval_ms")
#: the cycles a packed sample's interval is compared with (older ones stay explicit)
CYCLES = sql.SQL(
    " LEFT JOIN {} cc ON cc.target_id = m.target_id AND cc.ts = m.ts"
    " AND cc.ts >= %(before)s::timestamptz - interval '1 day' AND cc.ts < %(before)s"
).format(sql.Identifier(SCHEMA, "collect_cycle"))


def _packed_array(value: sql.Composable, sqltype: str) -> sql.Composable:
    """The array of ``value`` over a group: NULL if all NULL, empty if all zero,
    one element if the same in every sample."""
    return sql.SQL(
        "CASE WHEN count({v}) = 0 THEN NULL "
        "WHEN count({v}) = count(*) AND min({v}) = max({v}) THEN "
        "CASE WHEN min({v}) = 0 THEN '{{}}'::{t}[] ELSE ARRAY[min({v})] END "
        "ELSE array_agg({v} ORDER BY m.ts) END"
    ).format(v=value, t=sql.SQL(sqltype))


def _intervals(kind: Kind) -> sql.Composable:
    """Packed intervals; with ``cycle_interval``, NULL where the cycle's is the same."""
    if not kind.cycle_interval:
        return sql.SQL("array_agg({} ORDER BY m.ts)").format(INTERVAL_MS)
    element = sql.SQL("CASE WHEN {cycle} = {own} THEN NULL ELSE {own} END").format(
        cycle=CYCLE_MS, own=INTERVAL_MS
    )
    return sql.SQL(
        "CASE WHEN count({e}) = 0 THEN NULL ELSE array_agg({e} ORDER BY m.ts) END"
    ).format(e=element)


def unpacked(name: str, sqltype: str, rows: str) -> sql.Composable:
    """Column ``name`` of history row ``rows`` with every sample spelled out.

    A NULL array stays NULL (``unnest`` pads it with NULLs).
    """
    return _unpacked(name, sqltype, rows, same=True, nulls=False)


def _unpacked(
    name: str, sqltype: str, rows: str, same: bool, nulls: bool
) -> sql.Composable:
    fmt = {
        "c": sql.Identifier(rows, name),
        "t": sql.SQL(sqltype),
        "n": sql.SQL("cardinality({})").format(sql.Identifier(rows, "at_ms")),
    }
    text = "CASE "
    text += "WHEN {c} IS NULL THEN array_fill(NULL::{t}, ARRAY[{n}]) " if nulls else ""
    text += (
        "WHEN cardinality({c}) < {n} THEN array_fill(coalesce({c}[1], 0::{t}), "
        "ARRAY[{n}]) " if same else ""
    )  # fmt: skip
    return sql.SQL(text + "ELSE {c} END").format(**fmt)


def _appended(name: str, sqltype: str, same: bool) -> sql.Composable:
    """A packed column after appending ``excluded``'s samples to ``h``'s."""
    return sql.SQL(
        "{c} = CASE WHEN h.{c} IS NULL AND excluded.{c} IS NULL THEN NULL "
        "ELSE {h} || {e} END"
    ).format(
        c=sql.Identifier(name),
        h=_unpacked(name, sqltype, "h", same, nulls=True),
        e=_unpacked(name, sqltype, "excluded", same, nulls=True),
    )


def _history_insert(kind: Kind) -> sql.Composable:
    elements: list[sql.Composable] = [
        sql.SQL("array_agg({} ORDER BY m.ts)").format(AT_MS),
        _intervals(kind),
    ]
    elements += [
        _packed_array(
            sql.SQL("m.{}::{}").format(sql.Identifier(c.name), sql.SQL(c.packed_type)),
            c.packed_type,
        )
        for c in kind.columns
    ]
    appended: list[sql.Composable] = [
        sql.SQL("at_ms = h.at_ms || excluded.at_ms"),
        _appended("interval_ms", "int", same=False),
    ]
    appended += [_appended(c.name, c.packed_type, same=True) for c in kind.columns]
    keys = sql.SQL(", ").join(sql.Identifier("m", n) for n in kind.key_names)
    return sql.SQL(
        "INSERT INTO {table} AS h (target_id, hour, {keys}, {packed}, {cols}) "
        "SELECT m.target_id, {hour}, {mkeys}, {arrays} FROM moved m{cycles} "
        "GROUP BY m.target_id, {hour}, {mkeys} "
        "ON CONFLICT (target_id, {keys}, hour) DO UPDATE SET {appended}"
    ).format(
        table=_table(kind.history), keys=_ids(kind.key_names), packed=_ids(PACKED),
        cols=_ids(kind.value_names), hour=HOUR, mkeys=keys,
        arrays=sql.SQL(", ").join(elements),
        cycles=CYCLES if kind.cycle_interval else sql.SQL(""),
        appended=sql.SQL(", ").join(appended),
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
        "{aggregates} FROM moved m GROUP BY target_id, {hour}, {keys} "
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
