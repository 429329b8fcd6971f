"""Read one snapshot of a monitored server, part by part.

Each part is read in its own short transaction with a ``lock_timeout`` (and an
optional ``statement_timeout``); a part that lacks a privilege, an extension or
time is switched off for the cycle with its reason, and the rest is still read.

A row is converted on its own: one whose values cannot be read or are not believable
(not a finite number, out of the range the repository stores) is left out and
counted in its part's :attr:`Part.skipped`, with the first reason (never a value);
the other rows are kept. A one-row part whose row is bad is switched off instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg.rows import RowFactory, dict_row, tuple_row

from pgwarden import pg
from pgwarden.collect.kinds import (
    BIGINT,
    BOOL,
    DATABASE,
    FLOAT,
    INDEX,
    KINDS,
    TABLE,
    Column,
    Kind,
)
from pgwarden.errors import MissingCapability
from pgwarden.skipped import Skipped

Key = tuple[Any, ...]
Number = int | float
LOCK_TIMEOUT_MS = 1000
#: type oids whose values are always in range: bool, int8, int2, int4, oid
_EXACT_TYPES = frozenset({16, 20, 21, 23, 26})
_TIMESTAMPTZ = 1184
_INT8 = 2**63
#: float measures are packed as ``real``: a larger one is not believable
REAL_MAX = 3.4028234663852886e38
#: what the driver raises for a value it cannot load (no value is quoted)
_LOAD_ERRORS = (psycopg.DataError, ValueError, OverflowError)


class BadRow(ValueError):
    """A row of a catalog read that cannot be used; the message says why, not what."""


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a part: cumulative counters, gauges and the entry's start."""

    counters: Mapping[str, Number | None]
    gauges: Mapping[str, Number | None] = field(default_factory=dict)
    since: datetime | None = None


@dataclass(frozen=True)
class Table:
    """Rows of a read as plain tuples, with the names (and type oids) of their
    columns and the rows that could not be loaded."""

    names: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    types: tuple[int, ...] = ()
    unread: Skipped = field(default_factory=Skipped)


@dataclass(frozen=True)
class Part:
    name: str
    kind: str
    #: the part's reset marker (``stats_reset``), compared between snapshots
    marker: str | None
    rows: Mapping[Key, Row]
    cumulative: bool = True
    #: rows left out because they could not be read or converted
    skipped: int = 0
    skip_reason: str | None = None


@dataclass(frozen=True)
class Server:
    ts: datetime
    postmaster_start: datetime
    server_version_num: int
    datid: int
    datname: str
    system_identifier: str | None


@dataclass(frozen=True)
class Relation:
    kind: str
    relid: int
    schema_name: str
    rel_name: str
    table_relid: int | None


@dataclass(frozen=True)
class Spec:
    """A part read by one named query from ``sql/collect.sql``."""

    name: str
    kind: Kind
    query: str
    cumulative: bool = True


SIMPLE_PARTS = (
    Spec("database", DATABASE, "database"),
    Spec("activity", DATABASE, "activity", cumulative=False),
    Spec("settings", DATABASE, "settings", cumulative=False),
    Spec("bgwriter", DATABASE, "bgwriter"),
    Spec("checkpointer", DATABASE, "checkpointer"),
    Spec("tables", TABLE, "tables"),
    Spec("indexes", INDEX, "indexes"),
)


@contextmanager
def guard(feature: str) -> Iterator[None]:
    """:func:`pg.guarded`, plus an extension not loaded and a lock not granted."""
    try:
        with pg.guarded(feature):
            yield
    except (
        pgerrors.ObjectNotInPrerequisiteState,
        pgerrors.LockNotAvailable,
        pgerrors.FeatureNotSupported,
    ) as exc:
        reason = exc.diag.message_primary or type(exc).__name__
        raise MissingCapability(f"{feature}: not available ({reason})") from exc
    except psycopg.DataError as exc:  # the server could not produce a value
        reason = exc.diag.message_primary or type(exc).__name__
        raise MissingCapability(
            f"{feature}: the server could not read it ({reason})"
        ) from exc


def read(
    conn: psycopg.Connection[Any],
    feature: str,
    query: Any,
    params: Sequence[Any] | None = None,
    timeout_ms: int | None = None,
) -> list[dict[str, Any]]:
    """Rows of one guarded read in its own transaction (a read of a row or two: one
    that cannot be loaded switches the part off for the cycle)."""
    rows, _, unread = _read(conn, feature, query, params, timeout_ms, dict_row)
    if unread.count:
        raise MissingCapability(f"{feature}: {unread.reason}")
    return rows


def read_table(
    conn: psycopg.Connection[Any],
    feature: str,
    query: Any,
    params: Sequence[Any] | None = None,
    timeout_ms: int | None = None,
) -> Table:
    """Like :func:`read`, as plain tuples and column names (for large parts); a
    row that cannot be loaded is left out and counted in :attr:`Table.unread`."""
    rows, description, unread = _read(
        conn, feature, query, params, timeout_ms, tuple_row, binary=True
    )
    names = tuple(c.name for c in description)
    return Table(names, rows, tuple(c.type_code for c in description), unread)


def _read(
    conn: psycopg.Connection[Any],
    feature: str,
    query: Any,
    params: Sequence[Any] | None,
    timeout_ms: int | None,
    row_factory: RowFactory[Any],
    *,
    binary: bool = False,
) -> tuple[list[Any], list[psycopg.Column], Skipped]:
    with guard(feature), conn.transaction():
        _limits(conn, timeout_ms)
        with conn.cursor(row_factory=row_factory, binary=binary) as cur:
            cur.execute(query, params)
            rows, unread = _fetch(cur)
            return rows, list(cur.description or []), unread


def _fetch(cur: psycopg.Cursor[Any]) -> tuple[list[Any], Skipped]:
    """Every row; when one cannot be loaded, the others one by one."""
    unread = Skipped()
    try:
        return cur.fetchall(), unread
    except _LOAD_ERRORS:
        cur.scroll(0, "absolute")
    rows: list[Any] = []
    while True:
        try:
            row = cur.fetchone()
        except _LOAD_ERRORS as exc:
            unread.add(f"a value could not be read ({type(exc).__name__})")
            try:
                cur.scroll(1)
            except IndexError:  # it was the last row
                return rows, unread
            continue
        if row is None:
            return rows, unread
        rows.append(row)


def _limits(conn: psycopg.Connection[Any], timeout_ms: int | None) -> None:
    statement = "SELECT set_config('lock_timeout', %s, true)"
    params: list[Any] = [str(LOCK_TIMEOUT_MS)]
    if timeout_ms is not None:
        statement += ", set_config('statement_timeout', %s, true)"
        params.append(str(timeout_ms))
    conn.execute(statement, params)


def read_server(conn: psycopg.Connection[Any]) -> Server:
    """Clock, postmaster start and identity; failure here fails the cycle."""
    row = pg.fetch_one(conn, pg.query("collect", "server"))
    assert row is not None
    try:
        ident = read(
            conn, "system identifier", pg.query("collect", "system_identifier")
        )
        system_identifier = str(ident[0]["system_identifier"]) if ident else None
    except MissingCapability:
        system_identifier = None
    return Server(
        ts=row["ts"],
        postmaster_start=row["postmaster_start"],
        server_version_num=int(row["server_version_num"]),
        datid=int(row["datid"]),
        datname=str(row["datname"]),
        system_identifier=system_identifier,
    )


def to_row(kind: Kind, data: Mapping[str, Any]) -> Row:
    """One row of ``kind``; :class:`BadRow` when a value is not believable."""
    columns = _columns(kind)
    since = data.get("stats_since")
    if since is not None and not isinstance(since, datetime):
        raise BadRow("stats_since: not a time")
    return Row(
        counters={
            c: stored_value(columns[c], data[c]) for c in kind.counters if c in data
        },
        gauges={g: stored_value(columns[g], data[g]) for g in kind.gauges if g in data},
        since=since,
    )


def stored_value(column: Column, found: Any) -> Any:
    """``found`` as ``column`` stores it; :class:`BadRow` when it cannot be.

    Counters and gauges are finite numbers (a ``bigint`` one a whole number in its
    range, a float one within ``real``'s range, as the history packs it).
    """
    if found is None:
        return None
    if column.sqltype == BOOL:
        if isinstance(found, bool):
            return found
        raise BadRow(f"{column.name}: not a boolean")
    if isinstance(found, bool) or not isinstance(found, int | float | Decimal):
        raise BadRow(f"{column.name}: not a number")
    if column.sqltype == BIGINT:
        return _whole(column.name, found)
    number = _finite(column.name, found)
    if not -REAL_MAX <= number <= REAL_MAX:
        raise BadRow(f"{column.name}: out of range")
    return number


def _finite(name: str, found: int | float | Decimal) -> float:
    try:
        number = float(found)
    except (ValueError, OverflowError) as exc:  # a signalling NaN, a huge integer
        raise BadRow(f"{name}: not a finite number") from exc
    if not math.isfinite(number):
        raise BadRow(f"{name}: not a finite number")
    return number


def _whole(name: str, found: int | float | Decimal) -> int:
    number = found if isinstance(found, int) else round(_finite(name, found))
    if not -_INT8 <= number < _INT8:
        raise BadRow(f"{name}: out of range")
    return number


def _columns(kind: Kind) -> dict[str, Column]:
    return {c.name: c for c in (*kind.keys, *kind.columns)}


def read_simple(
    conn: psycopg.Connection[Any],
    server: Server,
    spec: Spec,
    timeout_ms: int | None = None,
) -> Part:
    """A part of one named query; database-wide parts are keyed by ``datid``.

    These parts are one row: a row that cannot be used switches the part off.
    """
    query = pg.query("collect", spec.query, server.server_version_num)
    rows = read(conn, spec.name, query, timeout_ms=timeout_ms)
    marker = _marker(rows)
    try:
        if spec.kind is DATABASE:
            keyed = {(server.datid,): to_row(spec.kind, rows[0])} if rows else {}
        else:
            keyed = {_key(spec.kind, r): to_row(spec.kind, r) for r in rows}
    except BadRow as exc:
        raise MissingCapability(f"{spec.name}: {exc}") from exc
    return Part(spec.name, spec.kind.name, marker, keyed, spec.cumulative)


def _marker(rows: Sequence[Mapping[str, Any]]) -> str | None:
    if len(rows) != 1 or not isinstance(rows[0].get("stats_reset"), datetime):
        return None
    return str(rows[0]["stats_reset"].isoformat())


def _key(kind: Kind, data: Mapping[str, Any]) -> Key:
    return tuple(data[k] for k in kind.key_names)


def keyed_rows(
    kind: Kind, table: Table, unread: Skipped | None = None
) -> dict[Key, Row]:
    """Rows of ``kind`` by key, in one pass over plain tuples.

    Values of a type that is always in range (integers, booleans) are taken as
    read; the others (floats, numerics, anything unexpected) are checked row by
    row: a row with one that cannot be stored is left out and counted in
    ``unread``.
    """
    index = {name: i for i, name in enumerate(table.names)}
    counters = tuple(n for n in kind.counters if n in index)
    gauges = tuple(n for n in kind.gauges if n in index)
    key = _picker([index[n] for n in kind.key_names])
    counter = _picker([index[n] for n in counters])
    gauge = _picker([index[n] for n in gauges])
    since = index.get("stats_since")
    check = _checker(kind, table)
    if check is None:  # nothing to check: the fast way
        return {
            key(row): Row(
                dict(zip(counters, counter(row), strict=True)),
                dict(zip(gauges, gauge(row), strict=True)),
                None if since is None else row[since],
            )
            for row in table.rows
        }
    found: dict[Key, Row] = {}
    for read_row in table.rows:
        try:
            row = check(read_row)
        except BadRow as exc:
            if unread is not None:
                unread.add(str(exc))
            continue
        found[key(row)] = Row(
            dict(zip(counters, counter(row), strict=True)),
            dict(zip(gauges, gauge(row), strict=True)),
            None if since is None else row[since],
        )
    return found


def _checker(
    kind: Kind, table: Table
) -> Callable[[tuple[Any, ...]], tuple[Any, ...]] | None:
    """A function returning a row with its unsure values checked and converted;
    None when every value is of a type that is always in range."""
    columns = _columns(kind)
    unsure = [
        (i, columns[name])
        for i, name in enumerate(table.names)
        if name in columns and _type(table, i) not in _EXACT_TYPES
    ]
    since = table.names.index("stats_since") if "stats_since" in table.names else None
    if since is not None and _type(table, since) == _TIMESTAMPTZ:
        since = None  # loaded as a datetime or not at all
    if not unsure and since is None:
        return None

    floats = frozenset(i for i, column in unsure if column.sqltype == FLOAT)

    def check(row: tuple[Any, ...]) -> tuple[Any, ...]:
        values = list(row)
        for i, column in unsure:
            found = values[i]
            if i in floats and type(found) is float and -REAL_MAX <= found <= REAL_MAX:
                continue  # the usual case, decided at once (NaN fails the comparison)
            values[i] = stored_value(column, found)
        if since is not None and not isinstance(values[since], datetime | None):
            raise BadRow("stats_since: not a time")
        return tuple(values)

    return check


def _type(table: Table, i: int) -> int | None:
    return table.types[i] if i < len(table.types) else None


def _picker(indices: Sequence[int]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """A function returning the values at ``indices`` of a row, as a tuple."""
    if len(indices) > 1:
        return itemgetter(*indices)
    if len(indices) == 1:
        only = indices[0]
        return lambda row: (row[only],)
    return lambda row: ()


def relations(part: str, table: Table, unread: Skipped | None = None) -> list[Relation]:
    """The names of a part's relations; a row whose names are not text is left out
    (and counted in ``unread``)."""
    kind = "index" if part == "indexes" else "table"
    names = ("relid", "schema_name", "rel_name", "table_relid")
    pick = itemgetter(*(table.names.index(n) for n in names))
    found = []
    for row in table.rows:
        relid, schema_name, rel_name, table_relid = pick(row)
        if not (isinstance(schema_name, str) and isinstance(rel_name, str)):
            if unread is not None:
                unread.add("rel_name: not text")
            continue
        if not isinstance(relid, int) or not isinstance(table_relid, int | None):
            if unread is not None:
                unread.add("relid: not a number")
            continue
        found.append(Relation(kind, relid, schema_name, rel_name, table_relid))
    return found


def read_relations(
    conn: psycopg.Connection[Any],
    server: Server,
    spec: Spec,
    timeout_ms: int | None = None,
) -> tuple[Part, list[Relation]]:
    """Tables or indexes: the part and the names of its relations."""
    query = pg.query("collect", spec.query, server.server_version_num)
    table = read_table(conn, spec.name, query, timeout_ms=timeout_ms)
    unread = table.unread
    keyed = keyed_rows(spec.kind, table, unread)
    found = relations(spec.name, table, unread)
    part = Part(spec.name, spec.kind.name, None, keyed, spec.cumulative,
                unread.count, unread.reason)  # fmt: skip
    return part, found


def kind_of(part: Part) -> Kind:
    return KINDS[part.kind]
