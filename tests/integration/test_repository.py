"""``pgwarden init``: install, migrate, concurrency, privileges."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from pgwarden import pg
from pgwarden.errors import MissingCapability
from pgwarden.repository import (
    Migration,
    RepositoryError,
    RepositoryTooNew,
    available_migrations,
    current_version,
    migrate,
)

DESCRIBE = """
SELECT 'column' AS kind, c.relname || '.' || a.attname AS name,
       concat_ws(' ', format_type(a.atttypid, a.atttypmod),
                 CASE WHEN a.attnotnull THEN 'not null' END,
                 'identity:' || nullif(a.attidentity::text, ''),
                 'default:' || pg_get_expr(d.adbin, d.adrelid)) AS definition,
       a.attnum AS position
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = 'pgwarden' AND c.relkind IN ('r', 'p', 'v', 'm')
  AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'index', c.relname, pg_get_indexdef(c.oid), 0
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'pgwarden' AND c.relkind IN ('i', 'I')
UNION ALL
SELECT 'constraint', t.relname || '.' || con.conname, pg_get_constraintdef(con.oid), 0
FROM pg_constraint con
JOIN pg_class t ON t.oid = con.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'pgwarden'
UNION ALL
SELECT 'relation', c.relname, c.relkind::text, 0
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'pgwarden'
ORDER BY 1, 2, 4
"""


def _describe(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(DESCRIBE).fetchall()


def _versions(dsn: str) -> list[int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT version FROM pgwarden.schema_version ORDER BY 1")
        return [row[0] for row in rows]


def test_fresh_init_creates_the_schema(empty_dsn: str) -> None:
    with pg.connect(empty_dsn) as conn:
        assert current_version(conn) is None
        result = migrate(conn)
        assert current_version(conn) == result.to_version
    newest = available_migrations()[-1]
    assert result.fresh and result.from_version is None
    assert result.to_version == newest.version
    assert result.applied == tuple(m.name for m in available_migrations())
    assert _versions(empty_dsn) == [m.version for m in available_migrations()]


def test_second_init_applies_nothing(empty_dsn: str) -> None:
    with pg.connect(empty_dsn) as conn:
        migrate(conn)
        again = migrate(conn)
    version = available_migrations()[-1].version
    assert again.applied == () and not again.fresh
    assert again.from_version == again.to_version == version


def test_init_works_in_a_caller_transaction(empty_dsn: str) -> None:
    with pg.connect(empty_dsn, autocommit=False) as conn:
        migrate(conn)
        conn.commit()
    assert _versions(empty_dsn)


def test_schema_sql_equals_all_migrations(pg_server: Any, empty_dsn: str) -> None:
    from_schema = empty_dsn
    from_migrations = pg_server.dsn(pg_server.clone("pgwarden_test_tpl_empty"))
    try:
        with pg.connect(from_schema) as conn:
            migrate(conn)
        with psycopg.connect(from_migrations, autocommit=True) as conn:
            for migration in available_migrations():
                conn.execute(migration.sql)
        described = _describe(from_schema)
        assert described, "schema pgwarden is empty"
        assert described == _describe(from_migrations)
    finally:
        pg_server.drop(psycopg.conninfo.conninfo_to_dict(from_migrations)["dbname"])


def test_pending_migrations_are_applied_in_order(empty_dsn: str) -> None:
    shipped = available_migrations()
    extra = [
        Migration(
            len(shipped) + 1, "9998_add_note", "CREATE TABLE pgwarden.note (n int)"
        ),
        Migration(
            len(shipped) + 2, "9999_add_col", "ALTER TABLE pgwarden.note ADD m int"
        ),
    ]
    with pg.connect(empty_dsn) as conn:
        migrate(conn)
        result = migrate(conn, migrations=[*shipped, *extra])
        conn.execute("SELECT n, m FROM pgwarden.note")
    assert result.applied == ("9998_add_note", "9999_add_col")
    assert (result.from_version, result.to_version) == (len(shipped), len(shipped) + 2)
    assert _versions(empty_dsn)[-2:] == [len(shipped) + 1, len(shipped) + 2]


def test_failed_migration_leaves_the_repository_unchanged(empty_dsn: str) -> None:
    shipped = available_migrations()
    broken = [
        Migration(len(shipped) + 1, "9998_ok", "CREATE TABLE pgwarden.note (n int)"),
        Migration(len(shipped) + 2, "9999_bad", "ALTER TABLE pgwarden.nope ADD m int"),
    ]
    with pg.connect(empty_dsn) as conn:
        migrate(conn)
        with pytest.raises(psycopg.errors.UndefinedTable):
            migrate(conn, migrations=[*shipped, *broken])
        assert current_version(conn) == len(shipped)


def test_concurrent_init_is_serialised(empty_dsn: str) -> None:
    barrier = threading.Barrier(4)
    results: list[Any] = []

    def run() -> None:
        with pg.connect(empty_dsn) as conn:
            barrier.wait()
            try:
                results.append(migrate(conn))
            except Exception as exc:  # collected and asserted below
                results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors
    assert sum(r.fresh for r in results) == 1
    assert sorted(len(r.applied) for r in results)[:3] == [0, 0, 0]
    assert _versions(empty_dsn) == [m.version for m in available_migrations()]


def test_repository_newer_than_code_is_refused(empty_dsn: str) -> None:
    with pg.connect(empty_dsn) as conn:
        migrate(conn)
        conn.execute(
            "INSERT INTO pgwarden.schema_version (version, name) VALUES (9999, 'x')"
        )
        with pytest.raises(RepositoryTooNew, match=r"9999.*upgrade pgwarden"):
            migrate(conn)


def test_foreign_pgwarden_schema_is_refused(empty_dsn: str) -> None:
    with pg.connect(empty_dsn) as conn:
        conn.execute("CREATE SCHEMA pgwarden")
        with pytest.raises(RepositoryError, match="has no schema_version"):
            migrate(conn)


@pytest.fixture
def plain_role_dsn(pg_server: Any, empty_dsn: str) -> Iterator[str]:
    """A login role with no CREATE privilege on the database."""
    role = f"pgw_plain_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    with pg_server.admin() as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
    yield make_conninfo(empty_dsn, user=role, password=password)
    pg_server.drop(psycopg.conninfo.conninfo_to_dict(empty_dsn)["dbname"])
    with pg_server.admin() as conn:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_role_without_create_gets_a_clear_error(plain_role_dsn: str) -> None:
    role = psycopg.conninfo.conninfo_to_dict(plain_role_dsn)["user"]
    with pg.connect(plain_role_dsn) as conn:
        with pytest.raises(MissingCapability) as caught:
            migrate(conn)
        assert current_version(conn) is None
    message = str(caught.value)
    assert "GRANT CREATE ON DATABASE" in message
    assert f'TO "{role}";' in message
