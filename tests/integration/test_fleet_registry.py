"""The fleet: discovery, the registry, ``--target``, a worker serving every target."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgwarden.fleet import rediscover
from tests.cli_helpers import pgwarden
from tests.conftest import TEMPLATE_EMPTY

ENV = "FLEET_PASSWORD"


@pytest.fixture
def fleet(pg_server: Any, empty_dsn: str) -> Iterator[tuple[str, list[str]]]:
    """The repository and three databases of the same server, named fleet_*."""
    tag = uuid.uuid4().hex[:8]
    names = [f"fleet_{tag}_{x}" for x in "abc"]
    template = pg_server.template(TEMPLATE_EMPTY)
    with pg_server.admin() as conn:
        for name in names:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)))  # fmt: skip
    yield empty_dsn, names
    for name in names:
        pg_server.drop(name)


def _password(dsn: str) -> str:
    """The test server's password: given in the DSNs, never to be stored."""
    password = conninfo_to_dict(dsn).get("password")
    assert password, "the test server's DSN holds a password"
    return str(password)


def _without_password(dsn: str) -> str:
    params = conninfo_to_dict(dsn)
    params.pop("password", None)
    return make_conninfo("", **params)


def _listing(repo: str) -> dict[str, dict[str, Any]]:
    result = pgwarden("--repository-dsn", repo, "targets", "list", "--format", "json")
    assert result.returncode == 0, result.stderr
    return {row["database"]: row for row in json.loads(result.stdout)}


def _cycles(repo: str) -> dict[str, int]:
    with psycopg.connect(repo) as conn:
        rows = conn.execute(
            "SELECT t.database_name, count(c.ts) FROM pgwarden.target t"
            " LEFT JOIN pgwarden.collect_cycle c ON c.target_id = t.id"
            " WHERE t.dsn IS NOT NULL GROUP BY 1"
        ).fetchall()
    return {str(name): int(n) for name, n in rows}


def _rows_holding(dsn: str, secret: str) -> list[str]:
    """Every text, varchar and jsonb column of the repository and queue schemas."""
    with psycopg.connect(dsn) as conn:
        columns = conn.execute(
            "SELECT c.table_schema, c.table_name, c.column_name"
            " FROM information_schema.columns c JOIN information_schema.tables t"
            "  USING (table_schema, table_name)"
            " WHERE c.table_schema IN ('pgwarden', 'pgwarden_jobs')"
            "  AND t.table_type = 'BASE TABLE'"
            "  AND c.data_type IN ('text', 'character varying', 'jsonb', 'json',"
            "   'ARRAY', 'USER-DEFINED')"
        ).fetchall()
        found = []
        for schema, table, column in columns:
            query = sql.SQL("SELECT count(*) FROM {}.{} WHERE {}::text LIKE %s").format(
                sql.Identifier(schema), sql.Identifier(table), sql.Identifier(column)
            )
            row = conn.execute(query, [f"%{secret}%"]).fetchone()
            if row and row[0]:
                found.append(f"{schema}.{table}.{column}")
    return found


def test_discover_list_pause_worker_and_target(
    fleet: tuple[str, list[str]], pg_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, names = fleet
    password = _password(repo)
    server = make_conninfo(repo, dbname=names[0])
    result = pgwarden(
        "--repository-dsn", repo, "targets", "discover", "--dsn", server,
        "--group", "g1", "--exclude", "pgwarden_*", "--exclude", "postgres",
        "--exclude", "template*", "--password-env", ENV,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    repo_db = str(conninfo_to_dict(repo)["dbname"])
    assert f"skipped {repo_db}: pgwarden's repository" in result.stderr
    assert f"not stored: the worker reads it from the environment variable {ENV}" in (
        result.stderr
    )
    assert password not in result.stderr + result.stdout
    listed = _listing(repo)
    assert set(names) <= set(listed)
    for name in names:
        row = listed[name]
        assert row["group"] == "g1" and row["system_identifier"]
        assert row["name"].endswith(f"/{name}") and row["status"] == "new"

    # discovering again adds nothing
    again = pgwarden("--repository-dsn", repo, "targets", "discover", "--dsn", server,
                     "--group", "g1", "--exclude", "pgwarden_*",
                     "--exclude", "postgres", "--password-env", ENV)  # fmt: skip
    assert again.returncode == 0 and "0 added" in again.stderr, again.stderr

    table = pgwarden("--repository-dsn", repo, "targets", "list", "--group", "g1")
    assert table.returncode == 0 and "3 registered" in table.stdout, table.stderr

    # without its password variable a target is failing, with the reason
    blind = pgwarden("--repository-dsn", repo, "worker", "--once", "--group", "g1")
    assert blind.returncode == 0, blind.stderr
    reason = _listing(repo)[names[0]]["status_reason"]
    assert _listing(repo)[names[0]]["status"] == "failing"
    assert f"environment variable {ENV} (its password) is not set" in reason

    paused = listed[names[2]]["name"]
    assert (
        pgwarden("--repository-dsn", repo, "targets", "pause", paused).returncode == 0
    )
    done = pgwarden("--repository-dsn", repo, "worker", "--once", "--group", "g1",
                    timeout=240, **{ENV: password})  # fmt: skip
    assert done.returncode == 0, done.stderr
    cycles = _cycles(repo)
    assert cycles[names[0]] == 1 and cycles[names[1]] == 1, cycles
    assert cycles[names[2]] == 0, cycles
    listed = _listing(repo)
    assert [listed[n]["status"] for n in names] == ["ok", "ok", "paused"]
    assert listed[names[0]]["cycles_last_hour"] == 1

    # --target: the registered DSN instead of --dsn
    chosen = listed[names[1]]["name"]
    one = pgwarden("--repository-dsn", repo, "--target", chosen, "collect", "--once",
                   **{ENV: password})  # fmt: skip
    assert one.returncode == 0, one.stderr
    assert _cycles(repo)[names[1]] == 2

    assert _rows_holding(repo, password) == []

    removed = pgwarden("--repository-dsn", repo, "targets", "remove", paused)
    assert removed.returncode == 0, removed.stderr
    assert names[2] not in _listing(repo)

    # the worker's discover job: a new database of the server joins the fleet
    newer = names[0].replace("_a", "_d")
    names.append(newer)
    with pg_server.admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(newer), sql.Identifier(pg_server.template(TEMPLATE_EMPTY))
        ))  # fmt: skip
    monkeypatch.setenv(ENV, password)
    with psycopg.connect(repo, autocommit=True) as conn:
        done = rediscover(conn)
    added = [name for found in done for name in found.added]
    assert [name.rsplit("/", 1)[1] for name in added] == [newer], done
    assert _listing(repo)[newer]["group"] == "g1"
    skipped = dict(skip for found in done for skip in found.skipped)
    assert skipped[names[2]] == "removed from the fleet"  # not added back


def test_add_keeps_no_password_and_names_the_target(empty_dsn: str) -> None:
    password = _password(empty_dsn)
    result = pgwarden(
        "--repository-dsn", empty_dsn, "targets", "add", "shop",
        "--dsn", empty_dsn, "--interval", "30", "--password-env", "SHOP_PASSWORD",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "registered shop" in result.stderr
    [row] = _listing(empty_dsn).values()
    assert row["name"] == "shop" and row["interval_s"] == 30
    assert _rows_holding(empty_dsn, password) == []
    # one database, one target: a second name is refused
    twice = pgwarden("--repository-dsn", empty_dsn, "targets", "add", "shop2",
                     "--dsn", _without_password(empty_dsn),
                     PGPASSWORD=password)  # fmt: skip
    assert twice.returncode == 2, twice.stderr
    assert "registered already, as 'shop'" in twice.stderr
    reached = pgwarden("--repository-dsn", empty_dsn, "--target", "shop", "doctor",
                       SHOP_PASSWORD=password)  # fmt: skip
    assert "SHOP_PASSWORD" not in reached.stderr and "no registered" not in (
        reached.stderr
    )
    # the password variable is needed to reach the target through --target
    missing = pgwarden("--repository-dsn", empty_dsn, "--target", "shop", "doctor")
    assert missing.returncode == 2
    assert "SHOP_PASSWORD" in missing.stderr and len(missing.stderr.splitlines()) == 1


def test_bad_input_is_one_line_and_an_exit_code(empty_dsn: str) -> None:
    bare = pgwarden("--repository-dsn", empty_dsn, "--target", "nope", "doctor")
    assert bare.returncode == 2 and "no target registry" in bare.stderr
    assert _listing(empty_dsn) == {}  # installs the repository
    unknown = pgwarden("--repository-dsn", empty_dsn, "--target", "nope", "doctor")
    assert unknown.returncode == 2, unknown.stderr
    assert "no registered target named 'nope'" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
    both = pgwarden("--repository-dsn", empty_dsn, "--dsn", empty_dsn,
                    "--target", "x", "doctor")  # fmt: skip
    assert both.returncode == 2 and "--target and --dsn" in both.stderr
    down = make_conninfo(empty_dsn, port="1", host="127.0.0.1")
    unreachable = pgwarden("--repository-dsn", empty_dsn, "targets", "discover",
                           "--dsn", down)  # fmt: skip
    assert unreachable.returncode == 3, unreachable.stderr
    assert _password(empty_dsn) not in unreachable.stderr
    assert len(unreachable.stderr.strip().splitlines()) == 1
    bad = pgwarden("--repository-dsn", empty_dsn, "targets", "pause", "nope")
    assert bad.returncode == 2 and "no registered target" in bad.stderr
