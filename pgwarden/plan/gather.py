"""Thin reads for capacity planning: pgwarden's history and the target's settings.

When the history is too short for a regression, the creation times of the
largest tables are read too (:func:`creation_counts`): one bounded, read-only
count per table under the connection's statement_timeout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql
from psycopg.rows import dict_row

from pgwarden import pg
from pgwarden.config import CapacitySettings
from pgwarden.errors import MissingCapability, TargetError
from pgwarden.plan.baseline import Inputs
from pgwarden.plan.evidence import Window, creation_column, rows_of, window
from pgwarden.plan.trend import DAY_S, regression_possible

GROUP = "capacity"
HISTORY = "pgwarden history (run pgwarden init and pgwarden collect)"


class NoHistory(TargetError):
    """No collected history for this target; run pgwarden collect first."""


def target_of(repo: psycopg.Connection[Any], name: str) -> int | None:
    """The target's id in the repository; None before ``pgwarden init``."""
    from pgwarden.collect.history import target_id

    try:
        return target_id(repo, name)
    except (pgerrors.UndefinedTable, pgerrors.InvalidSchemaName):
        return None


def _rows(
    conn: psycopg.Connection[Any], name: str, **params: Any
) -> list[dict[str, Any]]:
    with pg.guarded(HISTORY), conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(pg.query(GROUP, name), params).fetchall()


def history(
    repo: psycopg.Connection[Any], target_id: int, since: datetime
) -> dict[str, Any]:
    """The repository's daily rows of one target since ``since``."""
    params = {"target_id": target_id, "since": since}
    peak = _rows(repo, "peak_rate", **params)
    first = _rows(repo, "first_sample", target_id=target_id)
    return {
        "first_ts": first[0]["ts"] if first else None,
        "database_daily": _rows(repo, "database_daily", **params),
        "database_ends": _rows(repo, "database_ends", **params),
        "table_daily": _rows(repo, "table_daily", **params),
        "table_ends": _rows(repo, "table_ends", **params),
        "rate_daily": _rows(repo, "rate_daily", **params),
        "peak": peak[0] if peak else {},
        "history_samples": int(_rows(repo, "history_samples", **params)[0]["samples"]),
    }


def target_facts(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Settings and storage of the target, and its working set when measurable."""
    with pg.guarded("settings and table sizes of the target"):
        settings = pg.fetch_one(conn, pg.query(GROUP, "settings"))
        storage = pg.fetch_all(conn, pg.query(GROUP, "storage"))
    assert settings is not None
    cache, reason = None, None
    if settings["has_buffercache"]:
        try:
            cache = _buffercache(conn)
        except MissingCapability as exc:
            reason = str(exc)
    return {
        "settings": settings,
        "storage": storage,
        "buffercache": cache,
        "buffercache_reason": reason,
    }


def _buffercache(conn: psycopg.Connection[Any]) -> dict[str, Any] | None:
    with pg.guarded("pg_buffercache"):
        found = pg.fetch_one(conn, pg.query(GROUP, "buffercache_schema"))
        if found is None:
            return None
        query = sql.SQL(pg.query(GROUP, "buffercache")).format(
            schema=sql.Identifier(found["schema"])
        )
        return pg.fetch_one(conn, query.as_string(conn))


def _creation_columns(
    conn: psycopg.Connection[Any], tables: Sequence[Mapping[str, Any]]
) -> dict[int, Mapping[str, Any]]:
    relids = [int(t["relid"]) for t in tables]
    with pg.guarded("timestamp columns of the target"):
        with conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                pg.query(GROUP, "creation_columns"), {"relids": relids}
            ).fetchall()
    by_relid: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_relid.setdefault(int(row["relid"]), []).append(row)
    found = {relid: creation_column(columns) for relid, columns in by_relid.items()}
    return {relid: column for relid, column in found.items() if column is not None}


def _count(
    conn: psycopg.Connection[Any],
    table: Mapping[str, Any],
    column: Mapping[str, Any],
    w: Window,
    pct: float,
) -> list[dict[str, Any]]:
    """Rows per day of one table by creation time, read-only under the timeout."""
    created: sql.Composable = sql.Identifier(column["column_name"])
    if column["with_time_zone"]:
        created = sql.SQL("({} AT TIME ZONE 'UTC')").format(created)
    query = sql.SQL(pg.query(GROUP, "created_per_day")).format(
        created=created,
        table=sql.Identifier(table["schema_name"], table["rel_name"]),
    )
    params = {
        "before": w.before,
        "until": datetime.combine(w.until, time()),
        "pct": pct,
    }
    with pg.guarded(f"creation times of {table['rel_name']}"), conn.transaction():
        conn.execute("SET LOCAL transaction_read_only = on")
        with conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(query, params).fetchall()


def creation_counts(
    conn: psycopg.Connection[Any],
    storage: Sequence[Mapping[str, Any]],
    w: Window,
    cap: CapacitySettings,
) -> list[dict[str, Any]]:
    """Rows per day by creation time of the largest tables that record it.

    One row per table read (``relid``, ``column``, ``sample_pct``, ``counts``);
    a table that cannot be read in time or at all carries the ``reason``.
    """
    tables = [t for t in storage if rows_of(t)]
    columns = _creation_columns(conn, tables) if tables else {}
    chosen = [t for t in tables if int(t["relid"]) in columns]
    found = []
    for table in chosen[: cap.evidence_tables]:
        column = columns[int(table["relid"])]
        heap = max(1, int(table["heap_bytes"]))
        pct = min(100.0, 100.0 * cap.evidence_scan_bytes / heap)
        row: dict[str, Any] = {
            "relid": int(table["relid"]),
            "column": column["column_name"],
            "sample_pct": pct,
            "counts": [],
            "reason": None,
        }
        try:
            counts = _count(conn, table, column, w, pct)
        except MissingCapability as exc:
            row["reason"] = str(exc)
        except psycopg.DatabaseError as exc:
            row["reason"] = f"cannot be read ({str(exc).strip().splitlines()[0]})"
        else:
            row["counts"] = [(r["day"], int(r["n"])) for r in counts]
        found.append(row)
    return found


def _evidence(
    target: psycopg.Connection[Any],
    found: Mapping[str, Any],
    storage: Sequence[Mapping[str, Any]],
    now: datetime,
    cap: CapacitySettings,
) -> dict[str, Any]:
    """Creation times, unless the history is long enough for a regression."""
    ends = sorted(r["ts"] for r in found["database_ends"])
    span = (ends[-1] - ends[0]).total_seconds() / DAY_S if ends else 0.0
    daily = len(found["database_daily"])
    if not cap.evidence_tables or regression_possible(
        daily, span, cap.min_history_days
    ):
        return {"evidence_window": None, "created": []}
    w = window(now, cap.evidence_days)
    return {"evidence_window": w, "created": creation_counts(target, storage, w, cap)}


def inputs(
    repo: psycopg.Connection[Any],
    target: psycopg.Connection[Any],
    target_id: int | None,
    target_name: str,
    now: datetime,
    cap: CapacitySettings,
    days: int = 400,
) -> Inputs:
    """Everything :func:`~pgwarden.plan.baseline.build_baseline` needs."""
    if target_id is None:
        raise NoHistory(
            f"no collected history for {target_name}; run pgwarden init and "
            "pgwarden collect (capacity planning needs days of history)"
        )
    found = history(repo, target_id, now - timedelta(days=days))
    if not found["database_daily"]:
        raise NoHistory(
            f"no database samples collected for {target_name} yet; run pgwarden collect"
        )
    facts = target_facts(target)
    evidence = _evidence(target, found, facts["storage"], now, cap)
    return Inputs(target=target_name, generated_at=now, **found, **facts, **evidence)
