"""Read one snapshot of a monitored server, part by part.

Each part is read in its own short transaction with a ``lock_timeout`` (and an
optional ``statement_timeout``); a part that lacks a privilege, an extension or
time is switched off for the cycle with its reason, and the rest is still read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

import psycopg
from psycopg import errors as pgerrors

from pgwarden import pg
from pgwarden.collect.kinds import DATABASE, INDEX, KINDS, TABLE, Kind
from pgwarden.errors import MissingCapability

Key = tuple[Any, ...]
Number = int | float
LOCK_TIMEOUT_MS = 1000
#: type oid of ``numeric``: such values are read as floats
NUMERIC = 1700


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a part: cumulative counters, gauges and the entry's start."""

    counters: Mapping[str, Number | None]
    gauges: Mapping[str, Number | None] = field(default_factory=dict)
    since: datetime | None = None


@dataclass(frozen=True)
class Table:
    """Rows of a read as plain tuples, with the names of their columns."""

    names: tuple[str, ...]
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True)
class Part:
    name: str
    kind: str
    #: the part's reset marker (``stats_reset``), compared between snapshots
    marker: str | None
    rows: Mapping[Key, Row]
    cumulative: bool = True


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


def read(
    conn: psycopg.Connection[Any],
    feature: str,
    query: Any,
    params: Sequence[Any] | None = None,
    timeout_ms: int | None = None,
) -> list[dict[str, Any]]:
    """Rows of one guarded read in its own transaction."""
    with guard(feature), conn.transaction():
        _limits(conn, timeout_ms)
        return pg.fetch_all(conn, query, params)


def read_table(
    conn: psycopg.Connection[Any],
    feature: str,
    query: Any,
    params: Sequence[Any] | None = None,
    timeout_ms: int | None = None,
) -> Table:
    """Like :func:`read`, as plain tuples and column names (for large parts)."""
    with guard(feature), conn.transaction():
        _limits(conn, timeout_ms)
        with conn.cursor(binary=True) as cur:
            cur.execute(query, params)
            rows = cur.fetchall()
            description = cur.description or []
    names = tuple(c.name for c in description)
    numeric = tuple(i for i, c in enumerate(description) if c.type_code == NUMERIC)
    if numeric:
        rows = [_floats(row, numeric) for row in rows]
    return Table(names, rows)


def _limits(conn: psycopg.Connection[Any], timeout_ms: int | None) -> None:
    statement = "SELECT set_config('lock_timeout', %s, true)"
    params: list[Any] = [str(LOCK_TIMEOUT_MS)]
    if timeout_ms is not None:
        statement += ", set_config('statement_timeout', %s, true)"
        params.append(str(timeout_ms))
    conn.execute(statement, params)


def _floats(row: tuple[Any, ...], numeric: tuple[int, ...]) -> tuple[Any, ...]:
    values = list(row)
    for i in numeric:
        values[i] = _number(values[i])
    return tuple(values)


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
    return Row(
        counters={c: _number(data[c]) for c in kind.counters if c in data},
        gauges={g: _number(data[g]) for g in kind.gauges if g in data},
        since=data.get("stats_since"),
    )


def _number(value: Any) -> Number | None:
    if value is None or isinstance(value, int | float):
        return value
    return float(value)


def read_simple(
    conn: psycopg.Connection[Any],
    server: Server,
    spec: Spec,
    timeout_ms: int | None = None,
) -> Part:
    """A part of one named query; database-wide parts are keyed by ``datid``."""
    query = pg.query("collect", spec.query, server.server_version_num)
    rows = read(conn, spec.name, query, timeout_ms=timeout_ms)
    marker = _marker(rows)
    if spec.kind is DATABASE:
        keyed = {(server.datid,): to_row(spec.kind, rows[0])} if rows else {}
    else:
        keyed = {_key(spec.kind, r): to_row(spec.kind, r) for r in rows}
    return Part(spec.name, spec.kind.name, marker, keyed, spec.cumulative)


def _marker(rows: Sequence[Mapping[str, Any]]) -> str | None:
    if len(rows) != 1 or rows[0].get("stats_reset") is None:
        return None
    return str(rows[0]["stats_reset"].isoformat())


def _key(kind: Kind, data: Mapping[str, Any]) -> Key:
    return tuple(data[k] for k in kind.key_names)


def keyed_rows(kind: Kind, table: Table) -> dict[Key, Row]:
    """Rows of ``kind`` by key, in one pass over plain tuples."""
    index = {name: i for i, name in enumerate(table.names)}
    counters = tuple(n for n in kind.counters if n in index)
    gauges = tuple(n for n in kind.gauges if n in index)
    key = _picker([index[n] for n in kind.key_names])
    counter = _picker([index[n] for n in counters])
    gauge = _picker([index[n] for n in gauges])
    since = index.get("stats_since")
    return {
        key(row): Row(
            dict(zip(counters, counter(row), strict=True)),
            dict(zip(gauges, gauge(row), strict=True)),
            None if since is None else row[since],
        )
        for row in table.rows
    }


def _picker(indices: Sequence[int]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """A function returning the values at ``indices`` of a row, as a tuple."""
    if len(indices) > 1:
        return itemgetter(*indices)
    if len(indices) == 1:
        only = indices[0]
        return lambda row: (row[only],)
    return lambda row: ()


def relations(part: str, table: Table) -> list[Relation]:
    kind = "index" if part == "indexes" else "table"
    names = ("relid", "schema_name", "rel_name", "table_relid")
    pick = itemgetter(*(table.names.index(n) for n in names))
    return [Relation(kind, *pick(row)) for row in table.rows]


def read_relations(
    conn: psycopg.Connection[Any],
    server: Server,
    spec: Spec,
    timeout_ms: int | None = None,
) -> tuple[Part, list[Relation]]:
    """Tables or indexes: the part and the names of its relations."""
    query = pg.query("collect", spec.query, server.server_version_num)
    table = read_table(conn, spec.name, query, timeout_ms=timeout_ms)
    keyed = keyed_rows(spec.kind, table)
    part = Part(spec.name, spec.kind.name, None, keyed, spec.cumulative)
    return part, relations(spec.name, table)


def kind_of(part: Part) -> Kind:
    return KINDS[part.kind]
