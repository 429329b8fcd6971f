"""Thin reads for capacity planning: pgwarden's history and the target's settings."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql
from psycopg.rows import dict_row

from pgwarden import pg
from pgwarden.errors import MissingCapability, TargetError
from pgwarden.plan.baseline import Inputs

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


def inputs(
    repo: psycopg.Connection[Any],
    target: psycopg.Connection[Any],
    target_id: int | None,
    target_name: str,
    now: datetime,
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
    return Inputs(target=target_name, generated_at=now, **found, **target_facts(target))
