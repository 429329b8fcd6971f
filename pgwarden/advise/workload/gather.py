"""Thin reads for the advisor: statements (history or live), tables, pg_stats, and
the shapes the reader sees through (views, collations, HOT updates)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.advise.stats import TableStats, from_rows
from pgwarden.advise.workload.model import Shapes, View
from pgwarden.advise.workload.reader import Workload, statements_from_rows, weighted
from pgwarden.errors import MissingCapability
from pgwarden.sqltext import is_own

logger = logging.getLogger(__name__)
GROUP = "advisor"
SHAPES = "advisor_shapes"
#: fewer updates than this say nothing of how often a table's updates are HOT
MIN_UPDATES = 20


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


def shapes(conn: psycopg.Connection[Any]) -> Shapes:
    """Views, text column collations and HOT update shares of the target.

    Each is read on its own: one the target refuses is left out (logged), and
    the advice goes on without it.
    """
    read = {name: _read(conn, name) for name in ("views", "column_collations",
                                                 "hot_updates")}  # fmt: skip
    return shapes_from_rows(
        read["views"] or (), read["column_collations"], read["hot_updates"] or ()
    )


def _read(conn: psycopg.Connection[Any], name: str) -> list[dict[str, Any]] | None:
    try:
        with conn.transaction(), pg.guarded(f"index advisor ({name})"):
            return pg.fetch_all(conn, pg.query(SHAPES, name))
    except (MissingCapability, psycopg.Error) as exc:
        logger.warning("index advisor: %s not read (%s)", name, exc)
        return None


def shapes_from_rows(
    views: Iterable[Mapping[str, Any]],
    collations: Iterable[Mapping[str, Any]] | None = None,
    hot: Iterable[Mapping[str, Any]] = (),
) -> Shapes:
    """:class:`Shapes` from the rows of ``advisor_shapes.sql`` (the first schema
    wins a name, as the advisor's tables do; a malformed row is skipped;
    ``collations`` None: not known)."""
    found: dict[str, View] = {}
    for r in views:
        name, text, cols = r.get("name"), r.get("definition"), r.get("columns")
        if isinstance(name, str) and isinstance(text, str):
            if isinstance(cols, list | tuple):
                found.setdefault(name, View(name, tuple(str(c) for c in cols), text))
    collate: dict[tuple[str, str], bool] | None = None
    if collations is not None:
        collate = {}
        for r in collations:
            key = (str(r.get("table")), str(r.get("column")))
            collate.setdefault(key, bool(r.get("collate_c")))
    shares: dict[str, float] = {}
    for r in hot:
        updates, hot_n = _number(r.get("updates")), _number(r.get("hot"))
        if updates >= MIN_UPDATES and hot_n >= 0:
            shares.setdefault(str(r.get("table")), min(1.0, hot_n / updates))
    return Shapes(found, collate, shares)


def _number(value: Any) -> float:
    """A counter of a row, or -1 when it is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return -1.0
    number = float(value)
    return number if number == number and abs(number) != float("inf") else -1.0
