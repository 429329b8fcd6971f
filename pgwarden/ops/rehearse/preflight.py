"""Gather the pre-flight facts: read-only reads of the target and the repository.

A read that lacks a privilege or an extension marks its check unavailable (``skip``
with the reason) instead of failing the run; an unreachable target is a
:class:`~pgwarden.errors.ConnectionFailed` (exit 3).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

from pgwarden import pg
from pgwarden.errors import ConnectionFailed, MissingCapability
from pgwarden.ops.rehearse.checks import Facts
from pgwarden.ops.rehearse.measure import named
from pgwarden.repository import targets

logger = logging.getLogger(__name__)
GROUP = "rehearse"
T = TypeVar("T")


def _read(
    unavailable: dict[str, str],
    checks: tuple[str, ...],
    feature: str,
    read: Callable[[], T],
    default: T,
) -> T:
    try:
        with pg.guarded(feature):
            return read()
    except MissingCapability as exc:
        logger.info("pre-flight read unavailable", extra={"reason": str(exc)})
        for name in checks:
            unavailable[name] = str(exc)
        return default


def gather(
    target_dsn: str, repository_dsn: str, change_request_id: int | None
) -> Facts:
    """Read the target (and the repository) once for every pre-flight check."""
    started = time.monotonic()
    unavailable: dict[str, str] = {}
    with pg.connect(target_dsn) as conn:
        connect_ms = (time.monotonic() - started) * 1000
        version = pg.server_version_num(conn)
        db = pg.fetch_one(conn, pg.query(GROUP, "database"))
        assert db is not None
        facts: dict[str, Any] = {
            "target": targets.name_of(target_dsn, repository_dsn, conn),
            "connect_ms": connect_ms,
            "server_version": version,
            "database": db["datname"],
            "database_bytes": int(db["bytes"]),
            "standby": bool(db["standby"]),
        }
        facts.update(_target_facts(conn, bool(db["standby"]), unavailable))
    facts.update(_repository_facts(repository_dsn, facts["target"], change_request_id))
    unavailable.update(facts.pop("unavailable", {}))
    return Facts(**facts, change_request_id=change_request_id, unavailable=unavailable)


def _target_facts(
    conn: psycopg.Connection[Any], standby: bool, unavailable: dict[str, str]
) -> dict[str, Any]:
    def rows(group: str, name: str) -> Callable[[], list[dict[str, Any]]]:
        return lambda: pg.fetch_all(conn, pg.query(group, name))

    sessions: list[dict[str, Any]] = _read(
        unavailable,
        ("long_running", "idle_in_transaction", "blocking_locks"),
        "sessions (pg_stat_activity)",
        rows(GROUP, "sessions"),
        [],
    )
    replicas: list[dict[str, Any]] = []
    if not standby:
        replicas = _read(
            unavailable,
            ("replication_lag",),
            "replication lag (pg_stat_replication)",
            rows("alerts", "replicas"),
            [],
        )
    invalid: list[dict[str, Any]] = _read(
        unavailable,
        ("invalid_indexes",),
        "invalid indexes",
        rows(GROUP, "invalid_indexes"),
        [],
    )
    ages: list[dict[str, Any]] = _read(
        unavailable,
        ("wraparound",),
        "transaction id age",
        rows("alerts", "xid_age"),
        [],
    )
    return {
        "sessions": sessions,
        "replicas": replicas,
        "invalid_indexes": invalid,
        "xid_age": int(ages[0]["xid_age"]) if ages else None,
        "statements": _statements(conn, unavailable),
    }


def _statements(
    conn: psycopg.Connection[Any], unavailable: dict[str, str]
) -> dict[str, Any] | None:
    ext = pg.fetch_one(conn, pg.query(GROUP, "statements_extension"))
    if ext is None:
        return {"installed": False}
    count = _read(
        unavailable,
        ("pg_stat_statements",),
        "pg_stat_statements",
        lambda: pg.fetch_one(conn, pg.query(GROUP, "statements_count")),
        None,
    )
    return {
        "installed": True,
        "version": ext["extversion"],
        "track": ext["track"],
        "count": None if count is None else int(count["statements"]),
    }


def _repository_facts(
    repository_dsn: str, target: str, change_request_id: int | None
) -> dict[str, Any]:
    """Alert state and the change request; absent repository → ``repository`` False."""
    try:
        with pg.connect(repository_dsn) as repo:
            found = pg.fetch_one(repo, pg.query(GROUP, "has_repository"))
            if found is None or not found["present"] or not found["board"]:
                return {"repository": False}
            return _board_facts(repo, target, change_request_id)
    except ConnectionFailed as exc:
        reason = f"repository unreachable: {exc}"
        return {
            "repository": False,
            "unavailable": {"firing_alerts": reason, "change_request": reason},
        }


def _board_facts(
    repo: psycopg.Connection[Any], target: str, change_request_id: int | None
) -> dict[str, Any]:
    known = named(repo, "target_known", {"target": target})
    alerts = named(repo, "active_alerts", {"target": target})
    req = None
    if change_request_id is not None:
        found = named(repo, "change_request", {"id": change_request_id})
        req = found[0] if found else None
    return {
        "repository": True,
        "target_known": bool(known),
        "alerts": alerts,
        "change_request": req,
    }
