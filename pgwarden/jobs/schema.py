"""Procrastinate's tables in their own schema of the repository database.

The queue lives in schema ``jobs.schema_name`` (``pgwarden_jobs``), beside but apart
from schema ``pgwarden``; every connection of the queue runs with that schema as its
``search_path``. The installed Procrastinate version is kept as the schema's comment:
a fresh schema gets Procrastinate's ``schema.sql``, an older one the migrations
shipped since its version. Installing takes an advisory lock, so workers starting
together, ``pgwarden init`` and ``pgwarden collect`` can all call :func:`install`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from pgwarden import pg
from pgwarden.errors import TargetError

DEFAULT_SCHEMA = "pgwarden_jobs"
#: ``pg_advisory_xact_lock`` key serialising concurrent installs ("pgwjobs")
LOCK_KEY = int.from_bytes(b"pgwjobs", "big")
COMMENT_PREFIX = "procrastinate "
_MIGRATION_RE = re.compile(r"^(\d{2})\.(\d{2})\.(\d{2})_\d{2}_\w+\.sql$")

Version = tuple[int, ...]


class JobQueueError(TargetError):
    """The job queue in the repository database cannot be used."""


@dataclass(frozen=True)
class Installed:
    schema: str
    version: str
    previous: str | None
    applied: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.previous != self.version

    def summary(self) -> str:
        if self.previous is None:
            return f"installed Procrastinate {self.version} in schema {self.schema}"
        if self.changed:
            return (
                f"upgraded Procrastinate from {self.previous} to {self.version} "
                f"({len(self.applied)} migrations)"
            )
        return f"Procrastinate {self.version} in schema {self.schema} is up to date"


def procrastinate_version() -> str:
    return metadata.version("procrastinate")


def parse_version(text: str) -> Version:
    """``(3, 10, 0)`` for ``"3.10.0"`` (non-numeric tails ignored)."""
    parts = []
    for piece in text.split(".")[:3]:
        digits = re.match(r"\d+", piece)
        parts.append(int(digits.group(0)) if digits else 0)
    return tuple(parts)


def migrations_after(names: list[str], installed: Version) -> list[str]:
    """Migration files introduced after ``installed``, in the order to apply."""
    chosen = []
    for name in sorted(names):
        match = _MIGRATION_RE.match(name)
        if match and tuple(int(g) for g in match.groups()) > installed:
            chosen.append(name)
    return chosen


def session_options(dsn: str, schema: str) -> str:
    """libpq ``options`` setting the queue's ``search_path``, keeping the DSN's own."""
    try:
        given = conninfo_to_dict(dsn).get("options") or os.environ.get("PGOPTIONS")
    except psycopg.ProgrammingError:
        given = None  # the connection reports the malformed DSN
    return f"{given or ''} -c search_path={schema}".strip()


def connect(dsn: str, schema: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """A connection whose ``search_path`` is the queue's schema."""
    options = session_options(dsn, schema)
    return pg.connect(dsn, statement_timeout_ms=None, options=options, **kwargs)


def install(dsn: str, schema: str | None = None) -> Installed:
    """Install or upgrade the queue's schema; a no-op when it is current."""
    schema = schema or DEFAULT_SCHEMA
    try:
        with connect(dsn, schema, autocommit=False) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
            done = _install(conn, schema)
            conn.commit()
    except psycopg.Error as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise JobQueueError(
            f"cannot install the job queue in schema {schema} of "
            f"{pg.describe(dsn)}: {reason}"
        ) from exc
    return done


def _install(conn: psycopg.Connection[Any], schema: str) -> Installed:
    name = sql.Identifier(schema)
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(name))
    current = procrastinate_version()
    previous = installed_version(conn, schema)
    if previous == current:
        return Installed(schema, current, previous)
    if previous is None:
        if _has_jobs_table(conn, schema):
            raise JobQueueError(
                f"schema {schema} holds job tables pgwarden did not install; "
                "set jobs.schema_name to another schema"
            )
        conn.execute(_read_sql("schema.sql"))
        applied: tuple[str, ...] = ()
    else:
        applied = tuple(_upgrade(conn, parse_version(previous)))
    comment = sql.Literal(COMMENT_PREFIX + current)
    conn.execute(sql.SQL("COMMENT ON SCHEMA {} IS {}").format(name, comment))
    return Installed(schema, current, previous, applied)


def installed_version(conn: psycopg.Connection[Any], schema: str) -> str | None:
    row = conn.execute(
        "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace"
        " WHERE nspname = %s",
        [schema],
    ).fetchone()
    comment = None if row is None else row[0]
    if not comment or not str(comment).startswith(COMMENT_PREFIX):
        return None
    return str(comment).removeprefix(COMMENT_PREFIX)


def _has_jobs_table(conn: psycopg.Connection[Any], schema: str) -> bool:
    row = conn.execute(
        "SELECT to_regclass(format('%%I.procrastinate_jobs', %s::text))", [schema]
    ).fetchone()
    return row is not None and row[0] is not None


def _upgrade(conn: psycopg.Connection[Any], installed: Version) -> list[str]:
    folder = Path(str(resources.files("procrastinate.sql").joinpath("migrations")))
    names = migrations_after([p.name for p in folder.iterdir()], installed)
    for name in names:
        conn.execute(_read_text(folder / name))
    return names


def _read_sql(name: str) -> Any:
    return resources.files("procrastinate.sql").joinpath(name).read_text("utf-8")


def _read_text(path: Path) -> Any:
    return path.read_text(encoding="utf-8")
