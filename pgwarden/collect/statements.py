"""pg_stat_statements: counters without texts, texts only for new statements.

The columns differ by version (``blk_read_time`` became ``shared_blk_read_time`` in
17, JIT columns came in 15, ``stats_since`` in 17, ``wal_buffers_full`` in 18); the
variant is chosen by the older of the server and the installed extension version, so
an extension not yet updated after a server upgrade is still read correctly.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from pgwarden import pg
from pgwarden.collect.kinds import DATABASE, STATEMENT
from pgwarden.collect.snapshot import (
    Key,
    Part,
    Server,
    keyed_rows,
    read,
    read_table,
    to_row,
)
from pgwarden.errors import MissingCapability

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
    marker = str(rows[0]["stats_reset"].isoformat()) if rows else None
    keyed = {(server.datid,): to_row(DATABASE, rows[0])} if rows else {}
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
    """Counters of every statement (no texts), then texts of the unknown ones."""
    query = _query("statements", schema, version_num)
    table = read_table(conn, "statements", query, timeout_ms=timeout_ms)
    keyed = keyed_rows(STATEMENT, table)
    part = Part("statements", STATEMENT.name, marker, keyed)
    new = [key for key in keyed if key not in known]
    texts = read_texts(conn, schema, new, text_limit, timeout_ms) if new else ()
    return Statements((part,), texts)


def read_texts(
    conn: psycopg.Connection[Any],
    schema: str,
    keys: Collection[Key],
    text_limit: int,
    timeout_ms: int | None = None,
) -> tuple[StatementText, ...]:
    """Texts of ``keys`` (already normalised by pg_stat_statements), truncated."""
    wanted = set(keys)
    queryids = sorted({key[2] for key in wanted})
    query = _query("statement_texts", schema)
    rows = read(conn, "statements", query, [text_limit, queryids], timeout_ms)
    return tuple(_text(r) for r in rows if _key(r) in wanted)


def _key(row: Mapping[str, Any]) -> Key:
    return (row["dbid"], row["userid"], row["queryid"], row["toplevel"])


def _text(row: Mapping[str, Any]) -> StatementText:
    return StatementText(
        dbid=row["dbid"],
        userid=row["userid"],
        queryid=row["queryid"],
        toplevel=row["toplevel"],
        datname=row["datname"],
        rolname=row["rolname"],
        query=row["query"],
        query_length=int(row["query_length"]),
    )
