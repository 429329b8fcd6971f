"""Migration files and the planning of pending migrations (no database)."""

from __future__ import annotations

import pytest

from pgwarden.repository import (
    Migration,
    RepositoryError,
    RepositoryTooNew,
    available_migrations,
    schema_sql,
)
from pgwarden.repository.migrate import check_sequence, parse_filename, pending


def _migrations(count: int) -> list[Migration]:
    return [Migration(n, f"{n:04d}_step", "SELECT 1") for n in range(1, count + 1)]


def test_parse_filename() -> None:
    assert parse_filename("0001_initial.sql") == (1, "0001_initial")
    assert parse_filename("0012_slow_queries.sql") == (12, "0012_slow_queries")
    assert parse_filename("README.md") is None
    assert parse_filename("1_initial.sql") is None


def test_shipped_migrations_start_with_initial() -> None:
    migrations = available_migrations()
    assert migrations[0].name == "0001_initial"
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert "CREATE TABLE pgwarden.schema_version" in migrations[0].sql


def test_schema_sql_creates_the_schema() -> None:
    assert "CREATE SCHEMA pgwarden" in schema_sql()


def test_gaps_and_duplicates_are_rejected() -> None:
    with pytest.raises(RepositoryError, match=r"1\.\.n"):
        check_sequence([_migrations(3)[0], _migrations(3)[2]])
    with pytest.raises(RepositoryError):
        check_sequence([_migrations(1)[0], _migrations(1)[0]])


def test_pending_lists_the_migrations_above_the_current_version() -> None:
    names = [m.name for m in pending(1, _migrations(3))]
    assert names == ["0002_step", "0003_step"]
    assert pending(3, _migrations(3)) == []


def test_newer_repository_than_code_is_an_error() -> None:
    with pytest.raises(RepositoryTooNew, match=r"version 5 .* up to 3; upgrade"):
        pending(5, _migrations(3))
