"""Passwords stay secret: in every form libpq takes them, in every output of the CLI,
in error messages and on the command line of the programs pgwarden starts.

Run against a real PostgreSQL; pg_repack on the servers that have it (the machine's
PostgreSQL 15 with postgresql-15-repack).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from pgwarden.repository import migrate
from tests.cli_helpers import pgwarden
from tests.conftest import TestServer

SECRET = "s3cr3t-Pa55 w'rd"
MASK = "********"
HOSTILE = 'Repack "Q" t'


def _quoted(value: str) -> str:
    """A conninfo value in single quotes, as libpq reads it."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def _as_query_uri(dsn: str, password: str | None = None) -> str:
    """The same connection as a URI whose password is a ``?password=`` parameter."""
    p = conninfo_to_dict(dsn)
    secret = quote(str(password if password is not None else p["password"]), safe="")
    return (f"postgresql://{p['user']}@{p['host']}:{p['port']}/{p['dbname']}"
            f"?sslmode=disable&password={secret}")  # fmt: skip


FORMS = {
    "uri userinfo": f"postgresql://app:{quote(SECRET, safe='')}@db:5432/app",
    "uri query": f"postgresql://app@db/app?password={quote(SECRET, safe='')}",
    "uri query, key in capitals": f"postgresql://db/app?PASSWORD={quote(SECRET)}",
    "uri query, key encoded": f"postgresql://db/app?pass%77ord={quote(SECRET)}",
    "key=value quoted": f"host=db password={_quoted(SECRET)} user=app",
    "key=value escaped": "host=db password=s3cr3t-Pa55\\ w\\'rd user=app",
    "nested dbname": "host=db dbname=" + _quoted(f"host=db password={_quoted(SECRET)}"),
}


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("fmt", ["json", "table", "md"])
def test_config_show_masks_the_password_in_every_form(form: str, fmt: str) -> None:
    result = pgwarden("config", "show", "--format", fmt, PGWARDEN_DSN=FORMS[form],
                      PGWARDEN_REPOSITORY_DSN=FORMS[form])  # fmt: skip
    assert result.returncode == 0, result.stderr
    shown = result.stdout + result.stderr
    for fragment in ("s3cr3t", quote(SECRET, safe=""), "Pa55"):
        assert fragment not in shown, (form, shown)
    assert MASK in shown


def test_no_command_prints_the_password_of_a_query_parameter(
    pg_server: TestServer, empty_dsn: str
) -> None:
    """init, collect, doctor and a worker cycle print where they work, never how."""
    uri = _as_query_uri(empty_dsn)
    password = str(conninfo_to_dict(empty_dsn)["password"])
    where = f"127.0.0.1:{conninfo_to_dict(empty_dsn)['port']}/"
    runs = [
        pgwarden("--dsn", uri, "init"),
        pgwarden("--debug", "--dsn", uri, "collect", "--once"),
        pgwarden("--dsn", uri, "doctor", "--format", "json"),
        pgwarden("--dsn", uri, "worker", "--once"),
        pgwarden("--dsn", uri, "config", "show", "--format", "json"),
    ]
    for result in runs:
        assert result.returncode == 0, (result.args, result.stderr)
        assert password not in result.stdout + result.stderr, result.args
    assert where in runs[0].stderr
    assert json.loads(runs[4].stdout)["dsn"].endswith(f"password={MASK}")


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (
            lambda port: f"host=127.0.0.1 port={port} password=open sesame-42 dbname=x",
            2,
        ),
        (lambda port: f"postgresql://u@127.0.0.1:{port}/x?password=a%zzsesame-42", 2),
        (lambda port: f"host=127.0.0.1 port={port} password='open sesame-42", 2),
        # libpq reads this one as host "u", port "open": it parses, and cannot connect
        (lambda port: f"postgresql://u:open/sesame-42@127.0.0.1:{port}/x", 3),
    ],
    ids=["stray word", "bad percent-encoding", "unterminated quote", "raw slash"],
)
def test_a_malformed_dsn_fails_without_echoing_the_password(
    admin_dsn: str, make: Any, code: int
) -> None:
    text = make(conninfo_to_dict(admin_dsn)["port"])
    result = pgwarden("--dsn", text, "doctor")
    assert result.returncode == code  # 2: libpq rejects it; 3: it cannot connect
    line = _one_error_line(result.stderr)
    assert "sesame" not in line and "open" not in line.replace("connection", ""), line


def test_a_wrong_password_fails_without_echoing_it(empty_dsn: str) -> None:
    uri = _as_query_uri(empty_dsn, password="wrong-" + SECRET)
    result = pgwarden("--dsn", uri, "doctor")
    assert result.returncode == 3
    line = _one_error_line(result.stderr)
    assert "password authentication failed" in line
    assert "wrong-" not in line and "s3cr3t" not in line


# -- pg_repack -----------------------------------------------------------------------


def _bloated(dsn: str) -> None:
    table = sql.Identifier(HOSTILE)
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrate(conn)
        conn.execute("CREATE EXTENSION pg_repack")
        create = "CREATE TABLE {} (id int PRIMARY KEY, payload text) WITH "
        conn.execute(sql.SQL(create + "(autovacuum_enabled = false)").format(table))
        fill = "INSERT INTO {} SELECT g, repeat(md5(g::text), 3) FROM "
        conn.execute(sql.SQL(fill + "generate_series(1, 20000) g").format(table))
        conn.execute(sql.SQL("DELETE FROM {} WHERE id % 4 <> 0").format(table))
        conn.execute(sql.SQL("ANALYZE {}").format(table))


def _size(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        quoted = sql.Identifier(HOSTILE).as_string(conn)
        row = conn.execute("SELECT pg_relation_size(%s::regclass)", [quoted]).fetchone()
    assert row is not None
    return int(row[0])


def _spy(directory: Path, real: str) -> Path:
    """A ``pg_repack`` that notes its argv and passfile, then runs the real one."""
    directory.mkdir()
    spy = directory / "pg_repack"
    spy.write_text(
        "#!/bin/sh\n"
        f'log="{directory}"\n'
        'printf "%s\\n" "$@" > "$log/argv"\n'
        'printf "%s" "$PGPASSFILE" > "$log/passfile"\n'
        'stat -c %a "$PGPASSFILE" > "$log/mode"\n'
        'printf "%s" "${PGPASSWORD:-}" > "$log/pgpassword"\n'
        f'exec "{real}" "$@"\n'
    )
    spy.chmod(0o755)
    return directory


def test_repack_runs_with_no_password_on_its_command_line(
    pg_server: TestServer, empty_dsn: str, tmp_path: Path
) -> None:
    real = shutil.which("pg_repack")
    if real is None or not pg_server.has_extension("pg_repack"):
        pytest.skip("pg_repack (client and extension) is not installed for this server")
    _bloated(empty_dsn)
    before = _size(empty_dsn)
    spy = _spy(tmp_path / "bin", real)
    result = pgwarden(
        "--dsn", empty_dsn, "maintain", "run", "--table", HOSTILE, "--operation",
        "repack", "--force-window", "--format", "json",
        PATH=f"{spy}{os.pathsep}{os.environ['PATH']}",
    )  # fmt: skip
    assert result.returncode == 0, (result.stdout, result.stderr)
    runs = {r["operation"]: r for r in json.loads(result.stdout)["runs"]}
    assert runs["repack"]["status"] == "ok", runs
    assert _size(empty_dsn) < before
    params = conninfo_to_dict(empty_dsn)
    argv = (spy / "argv").read_text().splitlines()
    assert not any(str(params["password"]) in arg for arg in argv), argv
    assert f"--host={params['host']}" in argv and f"--port={params['port']}" in argv
    assert f"--dbname={params['dbname']}" in argv and "--no-password" in argv
    assert (spy / "pgpassword").read_text() == ""
    assert (spy / "mode").read_text().strip() == "600"
    passfile = Path((spy / "passfile").read_text())
    assert passfile.is_absolute() and not passfile.exists()  # removed after
    assert not passfile.parent.exists()


def test_a_passfile_is_private_and_gone_afterwards() -> None:
    from pgwarden.dsn import client

    with client("host=db port=5433 user=app password=a:b\\\\c dbname=x") as c:
        passfile = Path(c.env["PGPASSFILE"])
        assert stat.S_IMODE(passfile.stat().st_mode) == 0o600
        assert stat.S_IMODE(passfile.parent.stat().st_mode) == 0o700
        assert passfile.read_text() == "*:*:*:*:a\\:b\\\\c\n"
        assert c.args == ("--host=db", "--port=5433", "--username=app", "--dbname=x")
        assert "PGPASSWORD" not in c.env
    assert not passfile.exists()
