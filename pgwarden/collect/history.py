"""Reading the collected history back: series, roll-ups, texts, the latest cycle.

Raw series join the packed ``*_history`` arrays (unnested) with the rows of the hour
still being collected (``*_current``); every point is the delta of one interval
ending at ``ts`` (gauges as read at ``ts``). Float measures of raw points have the
precision of the packed arrays (real, about 7 significant digits) whether or not
their hour is packed yet; hourly roll-ups are exact. Empty (all-zero) arrays read
as zeros, and a statement sample's interval is its collection cycle's unless it
was packed with its own (see :mod:`pgwarden.collect.kinds`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from pgwarden import pg
from pgwarden.collect.kinds import (
    DATABASE,
    INDEX,
    KINDS,
    STATEMENT,
    TABLE,
    Column,
    Kind,
)
from pgwarden.collect.pack import unpacked
from pgwarden.collect.statements import StatementText

SCHEMA = "pgwarden"


@dataclass(frozen=True)
class Point:
    """One interval (raw) or one hour (roll-up) of one key."""

    ts: datetime
    interval_s: float
    key: Mapping[str, Any]
    values: Mapping[str, int | float | None]

    def rate(self, name: str) -> float | None:
        """A counter per second over the interval."""
        value = self.values.get(name)
        if value is None or not self.interval_s:
            return None
        return float(value) / self.interval_s


@dataclass(frozen=True)
class GapRow:
    part: str
    from_ts: datetime | None
    to_ts: datetime
    reason: str


@dataclass(frozen=True)
class Interval:
    """The latest collection cycle of a target."""

    target_id: int
    ts: datetime
    prev_ts: datetime | None
    duration_ms: float
    statements: int
    new_texts: int
    dealloc: int | None
    disabled: Mapping[str, str]
    gaps: tuple[GapRow, ...]


def target_id(conn: psycopg.Connection[Any], name: str) -> int | None:
    """The target's id; None when it was never collected or pgwarden's schema is not
    installed yet (on a connection outside a transaction)."""
    try:
        row = pg.fetch_one(conn, pg.query("collect_repository", "target_id"), [name])
    except psycopg.errors.UndefinedTable:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            raise
        return None
    return None if row is None else int(row["id"])


def _filters(where: Mapping[str, Any] | None, prefix: str) -> sql.Composable:
    parts = [
        sql.SQL("AND {} = {}").format(sql.Identifier(prefix, n), sql.Placeholder(n))
        for n in (where or {})
    ]
    return sql.SQL(" ").join(parts)


#: a packed sample's time and interval, from its milliseconds (see kinds)
PACKED_TS = sql.SQL("h.hour + u.at_ms * interval '1 millisecond'")
PACKED_INTERVAL = sql.SQL("(u.interval_ms / 1000.0)::float8")
#: ... or its collection cycle's interval (kinds with ``cycle_interval``)
CYCLE_INTERVAL = sql.SQL(
    "(coalesce(u.interval_ms, round(extract(epoch FROM cc.ts - cc.prev_ts) * 1000))"
    " / 1000.0)::float8"
)
CYCLES = sql.SQL(
    " LEFT JOIN {} cc ON cc.target_id = h.target_id AND cc.ts = {}"
    " AND cc.ts >= %(since)s AND cc.ts < %(until)s"
).format(sql.Identifier(SCHEMA, "collect_cycle"), PACKED_TS)


@functools.lru_cache(maxsize=256)
def _raw_text(
    kind: Kind, where: tuple[str, ...], columns: tuple[Column, ...]
) -> sql.SQL:
    """:func:`_raw_query` composed once per shape (composing costs more than running
    it)."""
    return sql.SQL(_raw_query(kind, dict.fromkeys(where), columns).as_string(None))


def _raw_query(
    kind: Kind, where: Mapping[str, Any] | None, columns: Sequence[Column]
) -> sql.Composed:
    names = tuple(c.name for c in columns)
    arrays: list[sql.Composable] = [sql.SQL("h.at_ms"), sql.SQL("h.interval_ms")]
    arrays += [unpacked(c.name, c.packed_type, "h") for c in columns]
    # float measures are packed as real: the hour being collected reads the same
    values = sql.SQL(", ").join(
        sql.SQL("{}::{}").format(sql.Identifier("c", c.name), sql.SQL(c.packed_type))
        for c in columns
    )
    keys = sql.SQL(", ").join(sql.Identifier("h", n) for n in kind.key_names)
    return sql.SQL(
        "SELECT {keys}, {ts} AS ts, {interval} AS interval_s, {unpacked} "
        "FROM {history} h CROSS JOIN LATERAL unnest({arrays}) AS u({names}){cycles} "
        "WHERE h.target_id = %(target_id)s AND h.hour >= "
        "date_trunc('hour', %(since)s::timestamptz, 'UTC') AND h.hour < %(until)s "
        "AND {ts} >= %(since)s AND {ts} < %(until)s {hfilter} "
        "UNION ALL SELECT {ckeys}, c.ts, c.interval_s, {values} FROM {current} c "
        "WHERE c.target_id = %(target_id)s AND c.ts >= %(since)s "
        "AND c.ts < %(until)s {cfilter} ORDER BY {order}"
    ).format(
        keys=keys, ts=PACKED_TS,
        interval=CYCLE_INTERVAL if kind.cycle_interval else PACKED_INTERVAL,
        unpacked=sql.SQL(", ").join(sql.Identifier("u", n) for n in names),
        history=sql.Identifier(SCHEMA, kind.history),
        arrays=sql.SQL(", ").join(arrays),
        names=sql.SQL(", ").join(map(sql.Identifier, ("at_ms", "interval_ms", *names))),
        cycles=CYCLES if kind.cycle_interval else sql.SQL(""),
        ckeys=sql.SQL(", ").join(sql.Identifier("c", n) for n in kind.key_names),
        values=values, current=sql.Identifier(SCHEMA, kind.current),
        hfilter=_filters(where, "h"), cfilter=_filters(where, "c"),
        order=sql.SQL(", ").join(map(sql.Identifier, ("ts", *kind.key_names))),
    )  # fmt: skip


def _points(
    kind: Kind, rows: list[dict[str, Any]], ts: str, names: Sequence[str]
) -> list[Point]:
    return [
        Point(
            ts=row[ts],
            interval_s=float(row["interval_s"]),
            key={k: row[k] for k in kind.key_names},
            values={v: _plain(row[v]) for v in names},
        )
        for row in rows
    ]


def _columns(kind: Kind, names: Sequence[str] | None) -> tuple[Column, ...]:
    """The columns of ``kind`` named (all of them without ``names``)."""
    if names is None:
        return kind.columns
    unknown = set(names) - set(kind.value_names)
    if unknown:
        raise ValueError(f"{kind.name} has no column {sorted(unknown)}")
    return tuple(c for c in kind.columns if c.name in names)


def _plain(value: Any) -> int | float | None:
    if value is None or isinstance(value, int | float):
        return value
    return float(value)


def series(
    conn: psycopg.Connection[Any],
    kind: Kind | str,
    target: int,
    since: datetime,
    until: datetime,
    where: Mapping[str, Any] | None = None,
    columns: Sequence[str] | None = None,
) -> list[Point]:
    """Raw per-interval points of ``kind`` with ``since <= ts < until``.

    ``columns`` limits the values read to those named (all of them by default).
    """
    kind = KINDS[kind] if isinstance(kind, str) else kind
    wanted = _columns(kind, columns)
    params = {"target_id": target, "since": since, "until": until, **(where or {})}
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        query = _raw_text(kind, tuple(where or ()), wanted)
        rows = cur.execute(query, params).fetchall()
    return _points(kind, rows, "ts", [c.name for c in wanted])


def hourly_series(
    conn: psycopg.Connection[Any],
    kind: Kind | str,
    target: int,
    since: datetime,
    until: datetime,
    where: Mapping[str, Any] | None = None,
) -> list[Point]:
    """Hourly roll-ups of finished hours; ``ts`` is the start of the hour."""
    kind = KINDS[kind] if isinstance(kind, str) else kind
    query = sql.SQL(
        "SELECT * FROM {} h WHERE h.target_id = %(target_id)s "
        "AND h.hour >= %(since)s AND h.hour < %(until)s {} ORDER BY hour, {}"
    ).format(
        sql.Identifier(SCHEMA, kind.hourly),
        _filters(where, "h"),
        sql.SQL(", ").join(map(sql.Identifier, kind.key_names)),
    )
    params = {"target_id": target, "since": since, "until": until, **(where or {})}
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        rows = cur.execute(query, params).fetchall()
    return _points(kind, rows, "hour", kind.value_names)


def statement_series(
    conn: psycopg.Connection[Any],
    target: int,
    since: datetime,
    until: datetime,
    queryid: int | None = None,
) -> list[Point]:
    where = {"queryid": queryid} if queryid is not None else None
    return series(conn, STATEMENT, target, since, until, where)


def database_series(
    conn: psycopg.Connection[Any], target: int, since: datetime, until: datetime
) -> list[Point]:
    return series(conn, DATABASE, target, since, until)


def table_series(
    conn: psycopg.Connection[Any],
    target: int,
    since: datetime,
    until: datetime,
    relid: int | None = None,
) -> list[Point]:
    where = {"relid": relid} if relid is not None else None
    return series(conn, TABLE, target, since, until, where)


def index_series(
    conn: psycopg.Connection[Any],
    target: int,
    since: datetime,
    until: datetime,
    relid: int | None = None,
) -> list[Point]:
    where = {"relid": relid} if relid is not None else None
    return series(conn, INDEX, target, since, until, where)


def statement_texts(
    conn: psycopg.Connection[Any], target: int, queryid: int | None = None
) -> list[StatementText]:
    query = (
        "SELECT dbid, userid, queryid, toplevel, datname, rolname, query, "
        "query_length FROM pgwarden.statement_text WHERE target_id = %s "
        "AND (%s::bigint IS NULL OR queryid = %s) ORDER BY queryid"
    )
    rows = pg.fetch_all(conn, query, [target, queryid, queryid])
    return [StatementText(**row) for row in rows]


def gaps(
    conn: psycopg.Connection[Any], target: int, since: datetime, until: datetime
) -> list[GapRow]:
    query = (
        "SELECT part, from_ts, to_ts, reason FROM pgwarden.collect_gap "
        "WHERE target_id = %s AND to_ts >= %s AND to_ts < %s ORDER BY to_ts, part"
    )
    return [GapRow(**row) for row in pg.fetch_all(conn, query, [target, since, until])]


def latest_interval(conn: psycopg.Connection[Any], target: int) -> Interval | None:
    """The last cycle, with the gaps recorded for its interval."""
    row = pg.fetch_one(
        conn,
        "SELECT target_id, ts, prev_ts, duration_ms, statements, new_texts, dealloc, "
        "disabled FROM pgwarden.collect_cycle WHERE target_id = %s "
        "ORDER BY ts DESC LIMIT 1",
        [target],
    )
    if row is None:
        return None
    found = tuple(
        GapRow(**r)
        for r in pg.fetch_all(
            conn,
            "SELECT part, from_ts, to_ts, reason FROM pgwarden.collect_gap "
            "WHERE target_id = %s AND to_ts = %s ORDER BY part",
            [target, row["ts"]],
        )
    )
    return Interval(**row, gaps=found)
