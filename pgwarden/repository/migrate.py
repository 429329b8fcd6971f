"""Install and migrate the repository schema ``pgwarden`` (``pgwarden init``).

``schema.sql`` is the current full state; ``migrations/NNNN_name.sql`` lead an older
repository to it one step at a time. To change the schema, add the next numbered file
to ``migrations/`` and make the same change in ``schema.sql``; the migration test
checks both give the same database.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql

from pgwarden import pg
from pgwarden.errors import MissingCapability, PgwardenError

logger = logging.getLogger(__name__)

SCHEMA = "pgwarden"
#: ``pg_advisory_xact_lock`` key serialising concurrent ``init`` runs ("pgwarden").
LOCK_KEY = int.from_bytes(b"pgwarden", "big")
_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class RepositoryError(PgwardenError):
    """The pgwarden repository schema cannot be used."""


class RepositoryTooNew(RepositoryError):
    """The repository schema is newer than this pgwarden; upgrade pgwarden."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@dataclass(frozen=True)
class MigrationResult:
    from_version: int | None
    to_version: int
    applied: tuple[str, ...]
    fresh: bool


def parse_filename(filename: str) -> tuple[int, str] | None:
    """``(7, "0007_alerts")`` for ``0007_alerts.sql``; None for other files."""
    match = _FILE_RE.match(filename)
    if match is None:
        return None
    return int(match.group(1)), filename.removesuffix(".sql")


def available_migrations() -> list[Migration]:
    """The migrations shipped with pgwarden, in order."""
    folder = resources.files("pgwarden.repository").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        parsed = parse_filename(entry.name)
        if parsed is not None:
            found.append(Migration(parsed[0], parsed[1], entry.read_text()))
    return check_sequence(sorted(found, key=lambda m: m.version))


def check_sequence(migrations: list[Migration]) -> list[Migration]:
    """Versions must run 1, 2, 3 … without gaps or duplicates."""
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise RepositoryError(f"migration versions must be 1..n, found {versions}")
    return migrations


def schema_sql() -> str:
    """The full current schema (``schema.sql``)."""
    return resources.files("pgwarden.repository").joinpath("schema.sql").read_text()


def pending(current: int, migrations: Sequence[Migration]) -> list[Migration]:
    """Migrations above ``current``; a repository newer than the code is an error."""
    newest = max((m.version for m in migrations), default=0)
    if current > newest:
        raise RepositoryTooNew(
            f"the repository schema is at version {current} but this pgwarden knows "
            f"versions up to {newest}; upgrade pgwarden before using this repository"
        )
    return [m for m in migrations if m.version > current]


def current_version(conn: psycopg.Connection[Any]) -> int | None:
    """The repository's schema version, or None when it is not installed."""
    with pg.guarded("repository schema"):
        row = pg.fetch_one(conn, pg.query("repository", "has_version_table"))
        if not row or not row["present"]:
            return None
        row = pg.fetch_one(conn, pg.query("repository", "current_version"))
    return None if row is None or row["version"] is None else int(row["version"])


def migrate(
    conn: psycopg.Connection[Any],
    *,
    migrations: Sequence[Migration] | None = None,
    schema: str | None = None,
) -> MigrationResult:
    """Install the schema, or apply pending migrations, in one locked transaction.

    ``migrations`` and ``schema`` default to the ones shipped with pgwarden.
    """
    known = list(migrations) if migrations is not None else available_migrations()
    if not known:
        raise RepositoryError("no repository migrations to apply")
    with _translated(conn), conn.transaction():
        conn.execute(pg.query("repository", "lock"), [LOCK_KEY])
        before = current_version(conn)
        if before is None:
            _install(conn, schema if schema is not None else schema_sql(), known)
            names = tuple(m.name for m in known)
            return MigrationResult(None, known[-1].version, names, fresh=True)
        todo = pending(before, known)
        for migration in todo:
            _apply(conn, migration)
        after = todo[-1].version if todo else before
        return MigrationResult(before, after, tuple(m.name for m in todo), fresh=False)


def _install(
    conn: psycopg.Connection[Any], schema: str, migrations: Sequence[Migration]
) -> None:
    logger.info("installing the repository schema", extra={"schema": SCHEMA})
    conn.execute(schema)
    for migration in migrations:
        _record(conn, migration)


def _apply(conn: psycopg.Connection[Any], migration: Migration) -> None:
    logger.info("applying migration", extra={"migration": migration.name})
    conn.execute(migration.sql)
    _record(conn, migration)


def _record(conn: psycopg.Connection[Any], migration: Migration) -> None:
    conn.execute(
        pg.query("repository", "record_version"), [migration.version, migration.name]
    )


@contextmanager
def _translated(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """Driver errors of ``init`` as one-line errors that say what to do."""
    user, dbname = _quoted(conn, conn.info.user), _quoted(conn, conn.info.dbname)
    try:
        yield
    except pgerrors.InsufficientPrivilege as exc:
        raise MissingCapability(
            f"role {user} may not create or change schema {SCHEMA} in database "
            f"{dbname} ({_reason(exc)}); run pgwarden init as the database "
            f"owner, or: GRANT CREATE ON DATABASE {dbname} TO {user};"
        ) from exc
    except (pgerrors.DuplicateSchema, pgerrors.DuplicateTable) as exc:
        raise RepositoryError(
            f"schema {SCHEMA} exists in database {dbname} but has no schema_version "
            f"table, so pgwarden did not create it ({_reason(exc)}); "
            "rename or drop it, or use a separate repository database"
        ) from exc


def _quoted(conn: psycopg.Connection[Any], name: str) -> str:
    return sql.Identifier(name).as_string(conn)


def _reason(exc: psycopg.Error) -> str:
    return exc.diag.message_primary or type(exc).__name__
