"""Nothing destructive outside what the user approved.

Each command that writes to a database is pointed, on a real server, at a database it
must not change — the target itself under another spelling, a database pgwarden did
not create, an application that merely looks like the reference one — and must
refuse (exit 3) and leave it as it was.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgwarden import pg
from pgwarden.config import load_settings
from pgwarden.maintain.cycle import plan_now, select
from pgwarden.maintain.execute import Executor
from pgwarden.maintain.store import target_id
from pgwarden.ops.rehearse.clone import drop
from pgwarden.ops.rehearse.guard import MARKER
from pgwarden.repository import migrate
from tests.cli_helpers import pgwarden
from tests.conftest import TEMPLATE_DEMO, TestServer

PRECIOUS_ROWS = 3


def toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text)


def make_precious(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE precious (id int PRIMARY KEY)")
        conn.execute("INSERT INTO precious SELECT generate_series(1, %s)", [3])


def precious_rows(dsn: str) -> int | None:
    """Rows of table ``precious``; ``None`` once it is gone."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('precious')").fetchone() == (None,):
            return None
        row = conn.execute("SELECT count(*) FROM precious").fetchone()
    assert row is not None
    return int(row[0])


def release_plan(tmp_path: Path, rehearsal_dsn: str | None, extra: str = "") -> Path:
    """A release whose only step drops table ``precious``."""
    where = f"rehearsal_dsn = {toml_string(rehearsal_dsn)}\n" if rehearsal_dsn else ""
    path = tmp_path / "release.toml"
    path.write_text(
        'title = "Drop the precious table"\nwindow_minutes = 5\n'
        f"{where}{extra}\n"
        '[checks]\nskip = ["change_request"]\n'
        '[[step]]\nname = "drop it"\nsql = "DROP TABLE precious"\n'
    )
    return path


def rehearse(target_dsn: str, plan: Path, *args: str, **env: str) -> Result:
    done = pgwarden(
        "rehearse", "run", "--plan", str(plan), "--no-store", *args,
        cwd=plan.parent, PGWARDEN_DSN=target_dsn, **env,
    )  # fmt: skip
    return Result(done.returncode, done.stdout, done.stderr)


class Result:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code, self.stdout, self.stderr = code, stdout, stderr

    @property
    def error(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else ""


@pytest.fixture
def copy_of(pg_server: TestServer) -> Iterator[list[str]]:
    """Databases a test creates on the server; dropped afterwards."""
    made: list[str] = []
    yield made
    for name in made:
        pg_server.drop(name)


def new_database(server: TestServer, made: list[str], comment: str | None) -> str:
    name = f"pgwarden_copy_{uuid.uuid4().hex[:10]}"
    with server.admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        made.append(name)
        if comment is not None:
            conn.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(name), sql.Literal(comment)
                )
            )
    dsn = server.dsn(name)
    make_precious(dsn)
    return dsn


# -- rehearse: the steps never run on the target -----------------------------------


def spellings(dsn: str) -> dict[str, str]:
    """The same database, written as differently as libpq allows."""
    p = {k: quote(str(v), safe="") for k, v in conninfo_to_dict(dsn).items()}
    uri = (
        f"postgresql://{p['user']}:{p['password']}@localhost:{p['port']}/"
        f"{p['dbname']}?application_name=rehearsal-copy"
    )
    return {
        "the same DSN": dsn,
        "localhost instead of 127.0.0.1": make_conninfo(dsn, host="localhost"),
        "extra options": make_conninfo(
            dsn, application_name="copy", connect_timeout="7", sslmode="disable"
        ),
        "a URI": uri,
        "a made-up host name with hostaddr": make_conninfo(
            dsn, host="copy.example.invalid", hostaddr="127.0.0.1"
        ),
    }


SPELLINGS = list(spellings("host=h port=1 user=u password=p dbname=d"))


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_rehearsal_dsn_naming_the_target_is_refused(
    empty_dsn: str, tmp_path: Path, spelling: str
) -> None:
    make_precious(empty_dsn)
    plan = release_plan(tmp_path, spellings(empty_dsn)[spelling])
    result = rehearse(empty_dsn, plan)
    assert result.code == 3, result.stderr
    assert result.error.startswith("error: refusing to run the release steps on ")
    assert "it is the target database" in result.error
    assert precious_rows(empty_dsn) == PRECIOUS_ROWS


def test_rehearsal_dsn_without_a_database_name_reaching_the_target_is_refused(
    empty_dsn: str, tmp_path: Path
) -> None:
    """The database comes from PGDATABASE: the DSN alone does not say it is the
    target, the connection does."""
    make_precious(empty_dsn)
    params = conninfo_to_dict(empty_dsn)
    dbname = str(params.pop("dbname"))
    plan = release_plan(tmp_path, make_conninfo("", **params))
    result = rehearse(empty_dsn, plan, PGDATABASE=dbname)
    assert result.code == 3, result.stderr
    assert "it is the target database" in result.error
    assert precious_rows(empty_dsn) == PRECIOUS_ROWS


def test_allow_existing_never_allows_the_target(empty_dsn: str, tmp_path: Path) -> None:
    make_precious(empty_dsn)
    plan = release_plan(
        tmp_path, make_conninfo(empty_dsn, host="localhost"), "allow_existing = true"
    )
    result = rehearse(empty_dsn, plan)
    assert result.code == 3, result.stderr
    assert "it is the target database" in result.error
    assert precious_rows(empty_dsn) == PRECIOUS_ROWS


def test_an_unreadable_system_identifier_does_not_hide_the_target(
    pg_server: TestServer, empty_dsn: str, tmp_path: Path
) -> None:
    """A role that may not read pg_control_system() reaches the target: same oid,
    server unknown, so it cannot be proven another database."""
    make_precious(empty_dsn)
    name = f"pgwarden_low_{uuid.uuid4().hex[:8]}"
    role = sql.Identifier(name)
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'low'").format(role))
        conn.execute("REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC")
        conn.execute(sql.SQL("ALTER TABLE precious OWNER TO {}").format(role))
    try:
        low = make_conninfo(empty_dsn, user=name, password="low")
        plan = release_plan(tmp_path, low)
        result = rehearse(empty_dsn, plan)
        assert result.code == 3, result.stderr
        assert "system identifier is unreadable" in result.error
        assert precious_rows(empty_dsn) == PRECIOUS_ROWS
    finally:
        with psycopg.connect(empty_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(role))
        with pg_server.admin() as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(role))


def database_name(dsn: str) -> str:
    return str(conninfo_to_dict(dsn)["dbname"])


def test_an_unmarked_existing_database_is_refused(
    pg_server: TestServer, empty_dsn: str, copy_of: list[str], tmp_path: Path
) -> None:
    copy = new_database(pg_server, copy_of, comment="restored from last night")
    result = rehearse(empty_dsn, release_plan(tmp_path, copy))
    assert result.code == 3, result.stderr
    assert "was not created by pgwarden and carries no rehearsal marker" in (
        result.error
    )
    assert f"IS '{MARKER}'" in result.error and "allow_existing" in result.error
    assert precious_rows(copy) == PRECIOUS_ROWS


def test_a_marked_copy_is_rehearsed_on(
    pg_server: TestServer, empty_dsn: str, copy_of: list[str], tmp_path: Path
) -> None:
    make_precious(empty_dsn)
    copy = new_database(pg_server, copy_of, comment=f"{MARKER} restored 2024-05-01")
    result = rehearse(empty_dsn, release_plan(tmp_path, copy), "--format", "json")
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    assert [s["status"] for s in report["timeline"]] == ["ok"]
    assert precious_rows(copy) is None  # the step ran on the copy
    assert precious_rows(empty_dsn) == PRECIOUS_ROWS  # and not on the target


def test_allow_existing_rehearses_on_an_unmarked_copy(
    pg_server: TestServer, empty_dsn: str, copy_of: list[str], tmp_path: Path
) -> None:
    make_precious(empty_dsn)
    copy = new_database(pg_server, copy_of, comment=None)
    result = rehearse(empty_dsn, release_plan(tmp_path, copy, "allow_existing = true"))
    assert result.code == 0, result.stderr
    assert precious_rows(copy) is None
    assert precious_rows(empty_dsn) == PRECIOUS_ROWS


def test_the_clone_pgwarden_keeps_is_marked_and_may_be_rehearsed_on_again(
    pg_server: TestServer, empty_dsn: str, copy_of: list[str], tmp_path: Path
) -> None:
    make_precious(empty_dsn)
    name = f"rehearsal_kept_{uuid.uuid4().hex[:8]}"
    copy_of.append(name)
    plan = release_plan(tmp_path, None, f"clone_name = {toml_string(name)}")
    first = rehearse(empty_dsn, plan, "--keep-clone")
    assert first.code == 0, first.stderr
    with pg_server.admin() as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
            " WHERE datname = %s",
            [name],
        ).fetchone()
    assert row is not None and str(row[0]).startswith(MARKER)
    assert precious_rows(pg_server.dsn(name)) is None
    assert precious_rows(empty_dsn) == PRECIOUS_ROWS
    make_precious(pg_server.dsn(name))
    again = rehearse(empty_dsn, release_plan(tmp_path, pg_server.dsn(name)))
    assert again.code == 0, again.stderr
    assert precious_rows(pg_server.dsn(name)) is None


def test_a_clone_name_leading_to_another_database_is_not_dropped(
    pg_server: TestServer, empty_dsn: str, copy_of: list[str]
) -> None:
    """Between creating the clone and dropping it, its name came to lead to another
    database (dropped and made again by someone else): pgwarden leaves it alone."""
    other = new_database(pg_server, copy_of, comment=None)
    name = database_name(other)
    with pg_server.admin() as conn:
        row = conn.execute(
            "SELECT oid FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
    assert row is not None
    note = drop(empty_dsn, name, int(row[0]) + 1)
    assert note.startswith(f"clone {name!r} not dropped: that name now leads to ")
    assert precious_rows(other) == PRECIOUS_ROWS
    assert drop(empty_dsn, name, int(row[0])) == f"clone {name!r} dropped"
    copy_of.remove(name)


@pytest.mark.parametrize(
    "options",
    [
        'clone_name = "dbname={target}"',
        'clone_name = "postgresql://localhost/{target}"',
        'clone_source = "{target}"\nclone_name = "{target}"',
        'clone_source = "postgres"\nclone_name = "{target}"',
    ],
)
def test_clone_options_never_lead_the_steps_to_the_target(
    pg_server: TestServer, empty_dsn: str, tmp_path: Path, options: str
) -> None:
    make_precious(empty_dsn)
    target = database_name(empty_dsn)
    result = rehearse(
        empty_dsn, release_plan(tmp_path, None, options.format(target=target))
    )
    assert result.code == 2, result.stderr
    assert result.error.startswith("error: ") and "clone_name: " in result.error
    assert precious_rows(empty_dsn) == PRECIOUS_ROWS


# -- demo-db load: only pgwarden's reference tables are dropped or overwritten -----


def an_application(dsn: str, *tables: str) -> None:
    """An application whose tables are named like the reference app's."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in tables:
            conn.execute(
                sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, name text)").format(
                    sql.Identifier(table)
                )
            )
            conn.execute(
                sql.SQL("INSERT INTO {} VALUES (1, 'customer data')").format(
                    sql.Identifier(table)
                )
            )


def rows_of(dsn: str, table: str) -> int | None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        quoted = sql.Identifier(table).as_string(conn)
        found = conn.execute("SELECT to_regclass(%s)", [quoted]).fetchone()
        if found == (None,):
            return None
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize(
    ("tables", "args"),
    [
        (("Tenant", "User", "Assessment"), ["--reset"]),
        (("Tenant",), []),
        (("User",), []),  # no "Tenant": once a traceback half-way through the load
    ],
)
def test_demo_db_load_never_drops_or_overwrites_an_applications_tables(
    empty_dsn: str, tables: tuple[str, ...], args: list[str]
) -> None:
    an_application(empty_dsn, *tables)
    result = pgwarden("--dsn", empty_dsn, "demo-db", "load", "--scale", "tiny", *args)
    assert result.returncode == 3, result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("error: refusing to drop or overwrite tables ")
    assert "pgwarden did not load them" in error
    assert all(rows_of(empty_dsn, table) == 1 for table in tables)
    assert rows_of(empty_dsn, "Answer") is None  # nothing half-loaded either


def test_demo_db_load_marks_its_tables_and_reset_replaces_them(
    empty_dsn: str,
) -> None:
    loaded = pgwarden("--dsn", empty_dsn, "demo-db", "load", "--scale", "tiny")
    assert loaded.returncode == 0, loaded.stderr
    with psycopg.connect(empty_dsn) as conn:
        row = conn.execute(
            """SELECT obj_description('"Tenant"'::regclass, 'pg_class')"""
        ).fetchone()
    assert row == ("pgwarden:reference-app",)
    reset = pgwarden(
        "--dsn", empty_dsn, "demo-db", "load", "--scale", "tiny", "--reset"
    )
    assert reset.returncode == 0, reset.stderr
    assert (rows_of(empty_dsn, "Tenant") or 0) > 0


# -- load run / elasticity: the reference scenario writes only to reference data ---

QUICK_LOAD = ["--duration", "1", "--ramp-up", "0", "--warmup", "0", "--users", "2",
              "--pool", "2", "--think-ms", "5", "--seed", "3", "--no-progress",
              "--format", "json"]  # fmt: skip
WRITTEN = ("Session", "AuditLog", "Answer")


@pytest.fixture
def lookalike_dsn(pg_server: TestServer) -> Iterator[str]:
    """The reference data without pgwarden's marker: to pgwarden, an application."""
    name = pg_server.clone(TEMPLATE_DEMO)
    dsn = pg_server.dsn(name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute('COMMENT ON TABLE "Tenant" IS NULL')
    yield dsn
    pg_server.drop(name)


def written_rows(dsn: str) -> dict[str, int | None]:
    return {table: rows_of(dsn, table) for table in WRITTEN}


@pytest.mark.parametrize(
    "command",
    [["load", "run", *QUICK_LOAD],
     ["load", "elasticity", "--pool-sizes", "2", "--skip-cache", "--step-seconds",
      "1", "--users", "2", "--warmup", "0", "--ramp-up", "0", "--format", "json"]],
    ids=["run", "elasticity"],
)  # fmt: skip
def test_the_reference_scenario_refuses_tables_pgwarden_did_not_load(
    lookalike_dsn: str, command: list[str]
) -> None:
    before = written_rows(lookalike_dsn)
    result = pgwarden("--dsn", lookalike_dsn, *command)
    assert result.returncode == 3, result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("error: refusing to run the reference scenario on ")
    assert "--allow-unmarked" in error
    assert written_rows(lookalike_dsn) == before


def test_allow_unmarked_runs_the_reference_scenario_on_them(
    lookalike_dsn: str,
) -> None:
    result = pgwarden(
        "--dsn", lookalike_dsn, "load", "run", *QUICK_LOAD, "--allow-unmarked"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["throughput_per_s"] > 0


def test_the_reference_scenario_runs_on_data_pgwarden_loaded(demo_dsn: str) -> None:
    result = pgwarden("--dsn", demo_dsn, "load", "run", *QUICK_LOAD)
    assert result.returncode == 0, result.stderr


# -- maintain run: the statement names the table the plan found --------------------


def relfilenode(dsn: str, table: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT relfilenode FROM pg_class WHERE oid = %s::regclass", [table]
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_maintenance_rebuilds_only_the_table_it_planned(empty_dsn: str) -> None:
    """The table planned for VACUUM FULL is renamed and another takes its name
    before the run: the run is refused, the other table is not rewritten."""
    settings = load_settings(overrides={"maintenance": {"vacuum_full_min_bytes": 0}})
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        migrate(conn)
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        conn.execute("INSERT INTO orders SELECT generate_series(1, 100)")
    with pg.connect(empty_dsn) as repo, pg.connect(empty_dsn) as target:
        found = target_id(repo, pg.describe(empty_dsn))
        assert found is not None
        items, _ = plan_now(settings, target, repo, found, datetime.now(UTC), True)
        [item] = select(items, ["orders"], ["vacuum_full"])
        target.execute("ALTER TABLE orders RENAME TO orders_archived")
        target.execute("CREATE TABLE orders (id int PRIMARY KEY, note text)")
        before = relfilenode(empty_dsn, "orders")
        executor = Executor(settings, empty_dsn, repo, found, "manual",
                            force_window=True)  # fmt: skip
        outcome = executor.run(item)
    assert outcome.status == "failed"
    assert "the planned table" in outcome.reason
    assert 'is now "public"."orders_archived"' in outcome.reason
    assert relfilenode(empty_dsn, "orders") == before
