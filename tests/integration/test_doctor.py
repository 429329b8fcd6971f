"""``pgwarden doctor`` against real servers: equipped, bare, and least-privileged."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgwarden import doctor, pg
from pgwarden.embedded import EmbeddedServer


def _run(dsn: str) -> doctor.DoctorReport:
    with pg.connect(dsn) as conn:
        return doctor.run(conn)


def _admin(dsn: str, *statements: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def test_equipped_server_has_query_statistics(pg_server: Any, empty_dsn: str) -> None:
    report = _run(empty_dsn)
    data = report.as_dict()
    assert data["server_version_num"] == pg_server.version_num
    assert {c["name"] for c in data["checks"]} >= {"server_version", "hypopg"}
    for name in (
        "server_version",
        "pg_stat_statements_preload",
        "pg_stat_statements_extension",
        "track_io_timing",
        "compute_query_id",
        "slow_query_log",
        "monitoring_role",
        "maintenance_privileges",
        "auto_explain",
    ):
        assert report.check(name).ok, report.check(name)


def test_installed_extension_turns_the_check_ok(empty_dsn: str) -> None:
    assert _run(empty_dsn).check("pgstattuple").fix == "CREATE EXTENSION pgstattuple;"
    _admin(empty_dsn, "CREATE EXTENSION pgstattuple")
    check = _run(empty_dsn).check("pgstattuple")
    assert check.ok and "installed in schema public" in check.detail


def test_hypopg_check_follows_available_extensions(
    pg_server: Any, empty_dsn: str
) -> None:
    available = pg_server.has_extension("hypopg")
    if pg_server.name != "dsn":
        assert available is (pg_server.name == "system")
    check = _run(empty_dsn).check("hypopg")
    assert not check.ok
    if available:
        assert check.fix == "CREATE EXTENSION hypopg;"
    else:
        assert check.fix is not None
        assert f"apt-get install postgresql-{pg_server.major}-hypopg" in check.fix


def test_pgss_not_readable_is_reported(empty_dsn: str) -> None:
    _admin(empty_dsn, "REVOKE SELECT ON pg_stat_statements FROM PUBLIC")
    with _role(empty_dsn) as dsn:
        check = _run(dsn).check("pg_stat_statements_extension")
    assert not check.ok and "may not read it" in check.detail
    assert check.fix is not None and check.fix.startswith("GRANT SELECT ON")


# -- a least-privileged role ----------------------------------------------------


@contextmanager
def _role(dsn: str, *grants: str) -> Iterator[str]:
    """A fresh login role (mixed case, so it needs quoting) and its DSN."""
    name, password = f"Least_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    role = sql.Identifier(name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                role, sql.Literal(password)
            )
        )
        for granted in grants:
            conn.execute(
                sql.SQL("GRANT {} TO {}").format(sql.Identifier(granted), role)
            )
    try:
        yield make_conninfo(dsn, user=name, password=password)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(role))


@pytest.fixture
def table_dsn(empty_dsn: str) -> str:
    """The empty database plus one table owned by the superuser."""
    _admin(empty_dsn, "CREATE TABLE owned_by_admin (id int)")
    return empty_dsn


def test_least_privileged_role_gets_fixes_not_crashes(table_dsn: str) -> None:
    with _role(table_dsn) as dsn:
        with pg.connect(dsn) as conn:
            facts = doctor.gather(conn)
            report = doctor.run(conn)
        role = conninfo_to_dict(dsn)["user"]
    assert "shared_preload_libraries" not in facts.settings
    monitoring = report.check("monitoring_role")
    assert not monitoring.ok
    assert monitoring.fix is not None
    assert monitoring.fix.startswith(f'GRANT pg_monitor TO "{role}";')
    maintenance = report.check("maintenance_privileges")
    assert not maintenance.ok
    assert "may not VACUUM/ANALYZE 1 of 1 tables" in maintenance.detail
    assert report.check("pg_stat_statements_preload").ok
    assert report.check("pg_stat_statements_extension").ok


def test_pg_monitor_member_passes_the_role_check(table_dsn: str) -> None:
    with _role(table_dsn, "pg_monitor") as dsn:
        report = _run(dsn)
    assert report.check("monitoring_role").ok
    assert "pg_monitor" in report.check("monitoring_role").detail


@pytest.mark.pg(">=17")
def test_pg_maintain_member_may_maintain(table_dsn: str) -> None:
    with _role(table_dsn, "pg_maintain") as dsn:
        assert _run(dsn).check("maintenance_privileges").ok


def test_table_owner_may_maintain(table_dsn: str) -> None:
    with _role(table_dsn) as dsn:
        role = sql.Identifier(str(conninfo_to_dict(dsn)["user"]))
        with psycopg.connect(table_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER TABLE owned_by_admin OWNER TO {}").format(role))
        check = _run(dsn).check("maintenance_privileges")
        with psycopg.connect(table_dsn, autocommit=True) as conn:
            conn.execute("ALTER TABLE owned_by_admin OWNER TO CURRENT_USER")
    assert check.ok and "0 of 1 tables" in check.detail


def test_forbidden_catalog_function_is_reported(table_dsn: str) -> None:
    _admin(
        table_dsn,
        "REVOKE EXECUTE ON FUNCTION pg_has_role(name, oid, text) FROM PUBLIC",
        "REVOKE EXECUTE ON FUNCTION pg_has_role(oid, text) FROM PUBLIC",
    )
    with _role(table_dsn) as dsn:
        with pg.connect(dsn) as conn:
            facts = doctor.gather(conn)
            report = doctor.run(conn)
    assert "predefined roles" in facts.unreadable
    assert "permission denied" in facts.unreadable["predefined roles"]
    assert (
        "could not check the role memberships" in report.check("monitoring_role").detail
    )
    assert "could not count" in report.check("maintenance_privileges").detail


# -- a server without pg_stat_statements -----------------------------------------


@pytest.fixture(scope="module")
def bare_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """An embedded server with nothing in shared_preload_libraries."""
    server = EmbeddedServer(
        tmp_path_factory.mktemp("doctor") / "bare",
        overrides={"shared_preload_libraries": "''"},
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def bare_dsn(bare_server: EmbeddedServer) -> Iterator[str]:
    dbname = f"doctor_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(bare_server.dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    yield bare_server.dsn(dbname)
    with psycopg.connect(bare_server.dsn(), autocommit=True) as conn:
        drop = sql.SQL("DROP DATABASE {} WITH (FORCE)")
        conn.execute(drop.format(sql.Identifier(dbname)))


def test_server_without_preload_fails_with_the_fix(bare_dsn: str) -> None:
    report = _run(bare_dsn)
    preload = report.check("pg_stat_statements_preload")
    assert not preload.ok
    assert preload.fix is not None
    assert "add pg_stat_statements to shared_preload_libraries" in preload.fix
    assert "restart" in preload.fix
    extension = report.check("pg_stat_statements_extension")
    assert extension.fix == "CREATE EXTENSION pg_stat_statements;"
    assert not report.check("auto_explain").ok


def test_created_but_not_loaded_pgss_is_explained(bare_dsn: str) -> None:
    _admin(bare_dsn, "CREATE EXTENSION pg_stat_statements")
    check = _run(bare_dsn).check("pg_stat_statements_extension")
    assert not check.ok and "not loaded" in check.detail
    assert check.fix is not None and "shared_preload_libraries" in check.fix


def test_hidden_preload_setting_on_bare_server(bare_dsn: str) -> None:
    with _role(bare_dsn) as dsn:
        check = _run(dsn).check("pg_stat_statements_preload")
    assert not check.ok and "hidden" in check.detail


def test_doctor_in_a_caller_transaction_leaves_it_usable(table_dsn: str) -> None:
    _admin(table_dsn, "REVOKE SELECT ON pg_stat_statements FROM PUBLIC")
    with _role(table_dsn) as dsn, pg.connect(dsn, autocommit=False) as conn:
        report = doctor.run(conn)
        assert conn.execute("SELECT 1").fetchone() == (1,)
        conn.rollback()
    assert not report.check("pg_stat_statements_extension").ok
