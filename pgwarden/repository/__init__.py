"""pgwarden's own schema ``pgwarden``: installation, migrations, read/write helpers."""

from pgwarden.repository.migrate import (
    LOCK_KEY,
    SCHEMA,
    Migration,
    MigrationResult,
    RepositoryError,
    RepositoryTooNew,
    available_migrations,
    current_version,
    migrate,
    schema_sql,
)

__all__ = [
    "LOCK_KEY",
    "SCHEMA",
    "Migration",
    "MigrationResult",
    "RepositoryError",
    "RepositoryTooNew",
    "available_migrations",
    "current_version",
    "migrate",
    "schema_sql",
]
