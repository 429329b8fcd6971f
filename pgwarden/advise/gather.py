"""Thin reads for index health: the target's catalog and pgwarden's history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from pgwarden import pg
from pgwarden.advise.model import (
    Catalog,
    ForeignKey,
    History,
    IndexInfo,
    TableInfo,
    Usage,
)

GROUP = "advise"
REPOSITORY = "advise_repository"


def gather_indexes(conn: psycopg.Connection[Any]) -> tuple[IndexInfo, ...]:
    """The target's indexes with their live statistics (one guarded read)."""
    version = pg.server_version_num(conn)
    with pg.guarded("index health"):
        rows = pg.fetch_all(conn, pg.query(GROUP, "index_catalog", version))
    return tuple(IndexInfo.from_row(r) for r in rows)


def gather_catalog(conn: psycopg.Connection[Any]) -> Catalog:
    """Indexes, tables and foreign keys of the target (one guarded read each)."""
    version = pg.server_version_num(conn)
    indexes = gather_indexes(conn)
    with pg.guarded("index health"):
        tables = pg.fetch_all(conn, pg.query(GROUP, "table_catalog"))
        fks = pg.fetch_all(conn, pg.query(GROUP, "foreign_keys"))
        reset = pg.fetch_one(conn, pg.query(GROUP, "stats_reset"))
        recovery = pg.fetch_one(conn, pg.query(GROUP, "in_recovery"))
    return Catalog(
        server_version_num=version,
        indexes=indexes,
        tables=tuple(TableInfo.from_row(r) for r in tables),
        foreign_keys=tuple(ForeignKey.from_row(r) for r in fks),
        stats_reset=reset["stats_reset"] if reset else None,
        in_recovery=bool(recovery and recovery["in_recovery"]),
    )


def _rows(
    conn: psycopg.Connection[Any], name: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(pg.query(REPOSITORY, name), params).fetchall()


def _usage(rows: list[dict[str, Any]], values: tuple[str, ...]) -> dict[int, Usage]:
    return {
        int(r["relid"]): Usage(
            int(r["relid"]),
            r["schema_name"],
            r["rel_name"],
            r["first_seen"],
            {v: int(r[v]) for v in values},
        )
        for r in rows
    }


def gather_history(
    repo: psycopg.Connection[Any], target_id: int, since: datetime, until: datetime
) -> History:
    """Scans per index and table since ``since``, and how well history covers it."""
    params = {"target": target_id, "since": since}
    with pg.guarded("index health history"):
        coverage = _rows(repo, "coverage", params)[0]
        gaps = _rows(repo, "gap_seconds", params)[0]
        indexes = _rows(repo, "index_scans", params)
        tables = _rows(repo, "table_scans", params)
    return History(
        since=since,
        until=until,
        first_ts=coverage["first_ts"],
        cycles=int(coverage["cycles"]),
        gap_seconds=float(gaps["seconds"]),
        gaps=int(gaps["gaps"]),
        indexes=_usage(indexes, ("scans", "tup_read", "tup_fetch")),
        tables=_usage(tables, ("seq_scan", "seq_tup_read", "idx_scan")),
    )


def target_id(repo: psycopg.Connection[Any], name: str) -> int | None:
    """The target's id in the repository, if the repository holds it."""
    from pgwarden.collect.history import target_id as lookup

    try:
        with repo.transaction():
            return lookup(repo, name)
    except psycopg.errors.UndefinedTable:
        return None
