"""Slow statements caught in ``pg_stat_activity``: works without log access.

Each sample records the active statements running longer than the threshold. A
statement seen by several samples stays one row, keyed by (pid, backend_start,
query_start), holding the longest duration observed.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg

from pgwarden import pg
from pgwarden.slowlog import store
from pgwarden.slowlog.model import Seen, SlowQuery, classify_all
from pgwarden.slowlog.severity import DEFAULT_THRESHOLDS, Thresholds

if TYPE_CHECKING:
    from pgwarden.slowlog.param_values import Observer


def running(
    target_conn: psycopg.Connection[Any], threshold_ms: float
) -> list[dict[str, Any]]:
    """Active client statements older than ``threshold_ms``, pgwarden's own excluded."""
    params = {"threshold_ms": threshold_ms, "own_application": pg.APPLICATION_NAME}
    with pg.guarded("activity sampling"), target_conn.cursor() as cur:
        cur.execute(pg.query("slowlog", "active_statements"), params)
        names = [column.name for column in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def seen_from_row(row: dict[str, Any]) -> Seen:
    sampled: datetime = row["sampled_at"]
    started: datetime = row["query_start"]
    return Seen(
        ts=sampled,
        duration_ms=(sampled - started).total_seconds() * 1000,
        query=row["query"] or "",
        source="activity",
        database=row["datname"],
        username=row["usename"],
        application_name=row["application_name"] or None,
        queryid=row.get("query_id"),
        pid=row["pid"],
        backend_start=row["backend_start"],
        started=started,
    )


def sample_activity(
    target_conn: psycopg.Connection[Any],
    repo_conn: psycopg.Connection[Any],
    target_id: int,
    threshold_ms: float,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    retention_days: int = store.RETENTION_DAYS,
) -> int:
    """Take one sample; the number of running slow statements recorded or updated."""
    return len(
        sample(target_conn, repo_conn, target_id, threshold_ms,
               thresholds=thresholds, retention_days=retention_days)
    )  # fmt: skip


def sample(
    target_conn: psycopg.Connection[Any],
    repo_conn: psycopg.Connection[Any],
    target_id: int,
    threshold_ms: float,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    retention_days: int = store.RETENTION_DAYS,
    observer: Observer | None = None,
) -> list[SlowQuery]:
    """Take one sample; the running slow statements recorded or updated."""
    rows = running(target_conn, threshold_ms)
    found = classify_all((seen_from_row(row) for row in rows), thresholds)
    store.record(repo_conn, target_id, found, thresholds=thresholds,
                 retention_days=retention_days)  # fmt: skip
    if observer is not None:  # categorical values of texts with literals
        observer.record(repo_conn, target_id, observer.from_activity(rows))
    return found
