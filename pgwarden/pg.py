"""The driver seam: connections, guarded reads and named queries.

Every connection pgwarden opens to a monitored server is tagged
``application_name = 'pgwarden'`` and carries a ``statement_timeout``; driver errors
are translated here into :mod:`pgwarden.errors`.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from importlib import resources
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from pgwarden.errors import ConnectionFailed, MissingCapability

logger = logging.getLogger(__name__)

APPLICATION_NAME = "pgwarden"
CONNECT_TIMEOUT_S = 10
_NAME_RE = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def describe(conninfo: str) -> str:
    """``host:port/dbname`` of a DSN as libpq would resolve it, never the password."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "<malformed DSN>"
    host = str(params.get("host") or _env("PGHOST") or "local socket")
    port = str(params.get("port") or _env("PGPORT") or "5432")
    dbname = str(params.get("dbname") or _env("PGDATABASE") or "default database")
    return f"{host}:{port}/{dbname}"


def _env(name: str) -> str | None:
    import os

    return os.environ.get(name) or None


def connect(
    conninfo: str,
    *,
    autocommit: bool = True,
    statement_timeout_ms: int | None = 5000,
    application_name: str = APPLICATION_NAME,
    **kwargs: Any,
) -> psycopg.Connection[Any]:
    """Open a guarded connection, or raise :class:`ConnectionFailed` in one line."""
    options: dict[str, Any] = {"application_name": application_name}
    if "connect_timeout" not in conninfo:
        options["connect_timeout"] = str(CONNECT_TIMEOUT_S)
    if statement_timeout_ms is not None:
        options["options"] = f"-c statement_timeout={int(statement_timeout_ms)}"
    try:
        return psycopg.connect(conninfo, autocommit=autocommit, **options, **kwargs)
    except psycopg.ProgrammingError as exc:
        raise ConnectionFailed(f"malformed DSN: {_first_line(exc)}") from exc
    except psycopg.OperationalError as exc:
        reason = _first_line(exc)
        raise ConnectionFailed(
            f"cannot connect to {describe(conninfo)}: {reason}"
        ) from exc


def _first_line(exc: BaseException) -> str:
    """libpq's reason on one line, without the per-address "connection to" prefix."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    reason = lines[-1] if "failed:" in lines[-1] else " ".join(lines)
    for line in reversed(lines):
        if "failed:" in line:
            tail = " ".join(lines[lines.index(line) + 1 :])
            reason = line.rsplit("failed:", 1)[1].strip()
            reason = f"{reason} ({tail})" if tail else reason
            break
    return reason


def server_version_num(conn: psycopg.Connection[Any]) -> int:
    """``server_version_num`` as an integer (e.g. 150004)."""
    return int(conn.info.server_version)


@functools.cache
def queries(group: str) -> Mapping[str, str]:
    """Named queries of ``pgwarden/sql/<group>.sql`` (``-- name: x`` blocks)."""
    text = resources.files("pgwarden.sql").joinpath(f"{group}.sql").read_text()
    parts = _NAME_RE.split(text)
    return {
        name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)
    }


def query(group: str, name: str, version_num: int | None = None) -> str:
    """The query ``name``, or its newest variant ``name_pgNN`` the server satisfies."""
    named = queries(group)
    if version_num is not None:
        major = version_num // 10000
        variants = sorted(
            (int(key.rsplit("_pg", 1)[1]), key)
            for key in named
            if key.startswith(f"{name}_pg") and key.rsplit("_pg", 1)[1].isdigit()
        )
        for min_major, key in reversed(variants):
            if major >= min_major:
                return named[key]
    return named[name]


def fetch_all(
    conn: psycopg.Connection[Any], sql: str, params: Sequence[Any] | None = None
) -> list[dict[str, Any]]:
    """Rows as dicts."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def fetch_one(
    conn: psycopg.Connection[Any], sql: str, params: Sequence[Any] | None = None
) -> dict[str, Any] | None:
    rows = fetch_all(conn, sql, params)
    return rows[0] if rows else None


def named_rows(
    conn: psycopg.Connection[Any],
    group: str,
    name: str,
    params: Mapping[str, Any] | None = None,
    feature: str | None = None,
) -> list[dict[str, Any]]:
    """Rows (as dicts) of the named query ``group.name``; none for a command.

    With ``feature``, a missing privilege or object becomes :class:`MissingCapability`.
    """
    with guarded(feature) if feature else nullcontext():
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query(group, name), params)
            return cur.fetchall() if cur.description else []


@contextmanager
def guarded(feature: str) -> Iterator[None]:
    """Turn a missing privilege, object or a timeout into :class:`MissingCapability`."""
    try:
        yield
    except pgerrors.InsufficientPrivilege as exc:
        raise MissingCapability(
            f"{feature}: permission denied ({_first_line(exc)})"
        ) from exc
    except (pgerrors.UndefinedTable, pgerrors.UndefinedFunction) as exc:
        raise MissingCapability(
            f"{feature}: not available ({_first_line(exc)})"
        ) from exc
    except pgerrors.QueryCanceled as exc:
        raise MissingCapability(f"{feature}: timed out ({_first_line(exc)})") from exc
