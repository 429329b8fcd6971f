"""pg_stat_statements: counters without texts, texts only for new statements.

The columns differ by version (``blk_read_time`` became ``shared_blk_read_time`` in
17, JIT columns came in 15, ``stats_since`` in 17, ``wal_buffers_full`` in 18); the
variant is chosen by the older of the server and the installed extension version, so
an extension not yet updated after a server upgrade is still read correctly.

Texts may hold any bytes: a statement run in a ``SQL_ASCII`` database keeps them.
Read in that database, they come with their invalid bytes escaped (``\\xNN``, see
:mod:`pgwarden.pg`); read in another, the server cannot convert them and refuses
every text of the server at once, so the cycle keeps the counters and reads the
texts again next cycle (``statement_texts`` is off, with the reason).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql

from pgwarden import pg
from pgwarden.collect.kinds import DATABASE, STATEMENT
from pgwarden.collect.snapshot import (
    BadRow,
    Key,
    Part,
    Server,
    Table,
    keyed_rows,
    read,
    read_table,
    to_row,
)
from pgwarden.errors import MissingCapability
from pgwarden.skipped import Skipped

#: extension version -> the first server major that shipped it
EXTENSION_MAJOR = {"1.9": 14, "1.10": 15, "1.11": 17, "1.12": 18}
DEFAULT_TEXT_LIMIT = 10_000


@dataclass(frozen=True)
class StatementText:
    dbid: int
    userid: int
    queryid: int
    toplevel: bool
    datname: str | None
    rolname: str | None
    query: str
    query_length: int

    @property
    def key(self) -> Key:
        return (self.dbid, self.userid, self.queryid, self.toplevel)


@dataclass(frozen=True)
class Statements:
    parts: tuple[Part, ...]
    texts: tuple[StatementText, ...]
    #: why no text could be read this cycle (the counters were)
    texts_off: str | None = None


def extension(conn: psycopg.Connection[Any], server: Server) -> tuple[str, int]:
    """Schema of pg_stat_statements and the version its columns follow."""
    rows = read(conn, "statements", pg.query("collect", "statements_extension"))
    if not rows:
        raise MissingCapability(
            f"statements: pg_stat_statements is not installed in database "
            f"{server.datname}; run CREATE EXTENSION pg_stat_statements"
        )
    server_major = server.server_version_num // 10000
    ext_major = EXTENSION_MAJOR.get(str(rows[0]["extversion"]), server_major)
    return str(rows[0]["schema"]), min(server_major, ext_major) * 10000


def _query(name: str, schema: str, version_num: int | None = None) -> sql.Composed:
    text = pg.query("collect", name, version_num)
    return sql.SQL(text).format(pgss=sql.Identifier(schema))


def read_info(
    conn: psycopg.Connection[Any], server: Server, schema: str
) -> tuple[Part, str | None]:
    """``pg_stat_statements_info``: evictions (dealloc) and the last full reset."""
    rows = read(conn, "statements_info", _query("statements_info", schema))
    reset = rows[0].get("stats_reset") if rows else None
    marker = reset.isoformat() if isinstance(reset, datetime) else None
    try:
        keyed = {(server.datid,): to_row(DATABASE, rows[0])} if rows else {}
    except BadRow as exc:
        raise MissingCapability(f"statements_info: {exc}") from exc
    return Part("statements_info", "database", marker, keyed), marker


def read_statements(
    conn: psycopg.Connection[Any],
    version_num: int,
    schema: str,
    marker: str | None,
    known: Collection[Key],
    text_limit: int = DEFAULT_TEXT_LIMIT,
    timeout_ms: int | None = None,
) -> Statements:
    """Counters of every statement (no texts), then texts of the unknown ones.

    A row that cannot be used is left out (and counted in the part); texts that
    cannot be read leave the counters and say why in ``texts_off``.
    """
    query = _query("statements", schema, version_num)
    table = read_table(conn, "statements", query, timeout_ms=timeout_ms)
    unread = table.unread
    keyed = keyed_rows(STATEMENT, table, unread)
    new = [key for key in keyed if key not in known]
    texts: tuple[StatementText, ...] = ()
    off = None
    try:
        if new:
            texts = read_texts(conn, schema, new, text_limit, timeout_ms, unread)
    except MissingCapability as exc:
        off = f"{exc}; counters are kept, texts are read next cycle"
        if isinstance(exc.__cause__, pgerrors.CharacterNotInRepertoire):
            off += " (a text of another database is not valid in this one's encoding)"
    part = Part("statements", STATEMENT.name, marker, keyed, True,
                unread.count, unread.reason)  # fmt: skip
    return Statements((part,), texts, off)


def read_texts(
    conn: psycopg.Connection[Any],
    schema: str,
    keys: Collection[Key],
    text_limit: int,
    timeout_ms: int | None = None,
    unread: Skipped | None = None,
) -> tuple[StatementText, ...]:
    """Texts of ``keys`` (already normalised by pg_stat_statements), truncated.

    A row that cannot be used is left out and counted in ``unread``.
    """
    wanted = set(keys)
    queryids = sorted({key[2] for key in wanted})
    query = _query("statement_texts", schema)
    params = [text_limit, queryids]
    table = read_table(conn, "statement texts", query, params, timeout_ms)
    unread = unread if unread is not None else Skipped()
    unread.add(table.unread.reason or "", table.unread.count)
    found = []
    for row in _dicts(table):
        try:
            text = _text(row)
        except BadRow as exc:
            unread.add(str(exc))
            continue
        if text.key in wanted:
            found.append(text)
    return tuple(found)


def _dicts(table: Table) -> list[dict[str, Any]]:
    return [dict(zip(table.names, row, strict=True)) for row in table.rows]


def _text(row: Mapping[str, Any]) -> StatementText:
    """One text; :class:`BadRow` when a field is not what it must be."""
    for name in ("dbid", "userid", "queryid", "query_length"):
        if not isinstance(row[name], int) or isinstance(row[name], bool):
            raise BadRow(f"{name}: not a number")
    if not isinstance(row["toplevel"], bool) or not isinstance(row["query"], str):
        raise BadRow("query: not text")
    return StatementText(
        dbid=row["dbid"],
        userid=row["userid"],
        queryid=row["queryid"],
        toplevel=row["toplevel"],
        datname=_name(row["datname"]),
        rolname=_name(row["rolname"]),
        query=row["query"],
        query_length=row["query_length"],
    )


def _name(found: Any) -> str | None:
    return found if isinstance(found, str) else None
