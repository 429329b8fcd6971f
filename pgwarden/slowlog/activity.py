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
from pgwarden.skipped import Skipped
from pgwarden.slowlog import store
from pgwarden.slowlog.model import Seen, SlowQuery, classify_all
from pgwarden.slowlog.severity import DEFAULT_THRESHOLDS, Thresholds
from pgwarden.sqltext import is_marked

if TYPE_CHECKING:
    from pgwarden.slowlog.param_values import Observer


def running(
    target_conn: psycopg.Connection[Any], threshold_ms: float
) -> list[dict[str, Any]]:
    """Active client statements older than ``threshold_ms``.

    pgwarden's own are left out: its sessions (``application_name``) and, from any
    session, its marked statements.
    """
    params = {"threshold_ms": threshold_ms, "own_application": pg.APPLICATION_NAME}
    with pg.guarded("activity sampling"), target_conn.cursor() as cur:
        cur.execute(pg.query("slowlog", "active_statements"), params)
        names = [column.name for column in cur.description or ()]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    return [row for row in rows if not is_marked(row["query"] or "")]


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
    skipped: Skipped | None = None,
) -> list[SlowQuery]:
    """Take one sample; the running slow statements recorded or updated.

    Any user's statement text is read here: one that cannot be taken is left out
    and counted in ``skipped``, and the others are recorded.
    """
    rows = running(target_conn, threshold_ms)
    skipped = skipped if skipped is not None else Skipped()
    found = classify_all(_seen_rows(rows, skipped), thresholds, skipped)
    store.record(repo_conn, target_id, found, thresholds=thresholds,
                 retention_days=retention_days, skipped=skipped)  # fmt: skip
    if observer is not None:  # categorical values of texts with literals
        observer.record(repo_conn, target_id, observer.from_activity(rows))
    return found


def _seen_rows(rows: list[dict[str, Any]], skipped: Skipped) -> list[Seen]:
    seen = []
    for row in rows:
        try:
            seen.append(seen_from_row(row))
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            skipped.add(f"sampled statement unreadable ({type(exc).__name__})")
    return seen
