"""Thin reads for the advisor: statements (history or live), tables, pg_stats."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.advise.stats import TableStats, from_rows
from pgwarden.advise.workload.reader import Workload, statements_from_rows, weighted
from pgwarden.sqltext import is_own

GROUP = "advisor"


def tables(conn: psycopg.Connection[Any]) -> dict[str, TableStats]:
    """The target's tables with their columns and value distributions."""
    with pg.guarded("index advisor"):
        rows = pg.fetch_all(conn, pg.query(GROUP, "tables"))
        stats = pg.fetch_all(conn, pg.query(GROUP, "column_stats"))
    return from_rows(rows, stats)


#: utility statements and the advisor's own hypopg calls are not workload
_SKIP_RE = re.compile(
    r"^\s*(?:/\*.*?\*/\s*)*(?:EXPLAIN|PREPARE|DEALLOCATE|EXECUTE|SET|RESET|SHOW|"
    r"BEGIN|COMMIT|ROLLBACK|START|SAVEPOINT|RELEASE|DISCARD|VACUUM|ANALYZE|COPY|"
    r"CREATE|ALTER|DROP|GRANT|REVOKE|TRUNCATE|LISTEN|NOTIFY)\b|hypopg_",
    re.IGNORECASE | re.DOTALL,
)


def is_workload(text: str) -> bool:
    return bool(text) and not _SKIP_RE.search(text) and not is_own(text)


def _workload(rows: list[dict[str, Any]]) -> Workload:
    return weighted(s for s in statements_from_rows(rows) if is_workload(s.text))


def live_workload(conn: psycopg.Connection[Any]) -> Workload:
    """The statements of the current database as pg_stat_statements holds them now."""
    version = pg.server_version_num(conn)
    with pg.guarded("pg_stat_statements"):
        rows = pg.fetch_all(conn, pg.query(GROUP, "live_statements", version))
    return _workload(rows)


def history_workload(
    repo: psycopg.Connection[Any],
    target_id: int,
    since: datetime,
    until: datetime,
    datname: str | None = None,
) -> Workload:
    """The statements of pgwarden's history over ``[since, until)``."""
    params: dict[str, Any] = {"target": target_id, "since": since, "until": until}
    with (
        pg.guarded("statement history"),
        repo.cursor(row_factory=psycopg.rows.dict_row) as cur,
    ):
        row = cur.execute(pg.query(GROUP, "packed_until"), params).fetchone()
        params |= {"packed_until": row["until"] if row else since, "datname": datname}
        rows = cur.execute(pg.query(GROUP, "history_statements"), params).fetchall()
    return _workload(rows)


def hypopg_state(conn: psycopg.Connection[Any]) -> tuple[bool, bool]:
    """(installed, available) of the hypopg extension in the target database."""
    row = pg.fetch_one(conn, pg.query(GROUP, "has_hypopg"))
    assert row is not None
    return bool(row["installed"]), bool(row["available"])
