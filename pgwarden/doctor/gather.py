"""The thin reading side of ``pgwarden doctor``: every read guarded, none fatal."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql

from pgwarden import pg
from pgwarden.config import SlowQuerySettings
from pgwarden.doctor.facts import (
    EXTENSIONS,
    PREDEFINED_ROLES,
    SETTINGS,
    DoctorFacts,
    Extension,
    Maintenance,
    PgssStatus,
)
from pgwarden.errors import MissingCapability, PgwardenError
from pgwarden.slowlog import discover_log_source as discover
from pgwarden.slowlog import log_dir_source as configured
from pgwarden.slowlog import minmax_unavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")
Conn = psycopg.Connection[Any]
PLATFORMS = {
    "rds": "rds",
    "aurora": "rds",
    "cloudsql": "cloudsql",
    "alloydb": "cloudsql",
    "azure": "azure",
    "neon": "neon",
}


def gather(
    conn: Conn, log_dir: Path | None = None, slow: SlowQuerySettings | None = None
) -> DoctorFacts:
    """Read all that doctor judges; a read the role may not do is noted, not raised.

    ``log_dir``: the server log directory the operator configured, if any;
    ``slow``: the slow query settings (defaults when not given).
    """
    slow = slow or SlowQuerySettings()  # type: ignore[call-arg]
    version = pg.server_version_num(conn)
    unreadable: dict[str, str] = {}

    def probe(feature: str, read: Callable[[], T]) -> T | None:
        return _probe(conn, feature, read, unreadable)

    identity = probe("role", lambda: _identity(conn)) or {}
    extensions = probe("extensions", lambda: _extensions(conn)) or {}
    return DoctorFacts(
        server_version_num=version,
        role=str(identity.get("role") or conn.info.user),
        superuser=bool(identity.get("superuser")),
        settings=probe("settings", lambda: _settings(conn)) or {},
        roles=probe("predefined roles", lambda: _roles(conn)) or {},
        extensions=extensions,
        pg_stat_statements=_pgss_status(conn, extensions.get("pg_stat_statements")),
        maintenance=probe("maintenance", lambda: _maintenance(conn, version)),
        platform=probe("platform", lambda: _platform(conn)),
        unreadable=unreadable,
        log_source=configured(log_dir) if log_dir is not None else discover(conn),
        sample_every=slow.sample_interval_seconds,
        statements_source=slow.statements_source,
        minmax_reset=slow.statements_minmax_reset,
        minmax_off=_minmax_off(conn),
    )


def _minmax_off(conn: Conn) -> str | None:
    """Why each interval's slowest call cannot be read (PostgreSQL 17+ reset)."""
    try:
        return minmax_unavailable(conn)
    except (PgwardenError, psycopg.Error) as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _probe(
    conn: Conn, feature: str, read: Callable[[], T], unreadable: dict[str, str]
) -> T | None:
    try:
        with pg.guarded(feature), conn.transaction():
            return read()
    except MissingCapability as exc:
        logger.info("doctor could not read %s", feature, extra={"reason": exc.message})
        unreadable[feature] = exc.message
        return None


def _query(name: str, version: int | None = None) -> str:
    return pg.query("doctor", name, version)


def _identity(conn: Conn) -> dict[str, Any]:
    return pg.fetch_one(conn, _query("identity")) or {}


def _settings(conn: Conn) -> dict[str, str]:
    rows = pg.fetch_all(conn, _query("settings"), [list(SETTINGS)])
    return {row["name"]: row["setting"] for row in rows}


def _roles(conn: Conn) -> dict[str, bool]:
    rows = pg.fetch_all(conn, _query("role_memberships"), [list(PREDEFINED_ROLES)])
    return {row["name"]: bool(row["member"]) for row in rows}


def _extensions(conn: Conn) -> dict[str, Extension]:
    rows = pg.fetch_all(conn, _query("extensions"), [list(EXTENSIONS)])
    return {row["name"]: Extension(**row) for row in rows}


def _maintenance(conn: Conn, version: int) -> Maintenance:
    row = pg.fetch_one(conn, _query("maintenance", version)) or {}
    return Maintenance(int(row.get("tables") or 0), int(row.get("denied") or 0))


def _platform(conn: Conn) -> str | None:
    for row in pg.fetch_all(conn, _query("platform_settings")):
        return PLATFORMS.get(row["name"].split(".", 1)[0])
    return None


def _pgss_status(conn: Conn, extension: Extension | None) -> PgssStatus:
    """Whether ``SELECT 1 FROM pg_stat_statements`` works for this role."""
    if extension is None or extension.schema is None:
        return "not_installed"
    read = sql.SQL(_query("read_pg_stat_statements")).format(
        schema=sql.Identifier(extension.schema)
    )
    try:
        with conn.transaction():
            conn.execute(read)
    except pgerrors.ObjectNotInPrerequisiteState:
        return "not_loaded"
    except pgerrors.InsufficientPrivilege:
        return "denied"
    except pgerrors.QueryCanceled:
        return "timeout"
    return "readable"
