"""The rehearsal database: a clone of the target database, or an existing copy.

``clone = "template"`` runs ``CREATE DATABASE clone TEMPLATE source`` (fast, but the
source must have no other sessions); ``clone = "dump"`` pipes ``pg_dump -Fc`` into
``pg_restore`` with the newest client binaries pgwarden can find; ``rehearsal_dsn``
uses a restored copy as it is. pgwarden writes a marker on the clone it creates
(``COMMENT ON DATABASE … IS 'pgwarden:rehearsal-copy …'``, with a random token): the
steps run only on a database that still carries it (see :mod:`.guard`). The clone is
dropped afterwards, even on failure or Ctrl-C, unless it is asked to keep it, and
only while its name still leads to the oid pgwarden created. A database pgwarden did
not create is never dropped.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgwarden import pg
from pgwarden.dsn import SECRET_KEYS
from pgwarden.embedded import system_bin_dir, wheel_bin_dir
from pgwarden.errors import ConfigurationError, MissingCapability, TargetError
from pgwarden.ops.rehearse.guard import MARKER
from pgwarden.ops.rehearse.measure import named
from pgwarden.ops.rehearse.plan import Plan

logger = logging.getLogger(__name__)
GROUP = "rehearse"
MAINTENANCE_DATABASES = ("postgres", "template1")
#: libpq connection parameters and the environment variables that carry them
LIBPQ_ENV = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "dbname": "PGDATABASE",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "passfile": "PGPASSFILE",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
}
_VERSION_RE = re.compile(r"\(PostgreSQL\)\s+(\d+)")


class CloneFailed(TargetError):
    """The rehearsal database could not be created."""


@dataclass(frozen=True)
class Database:
    """Where the steps run; ``dsn`` may hold a password: show :attr:`where`.

    ``marker`` is the exact comment pgwarden wrote on a clone it created (``None``
    for an existing copy).
    """

    dsn: str
    name: str
    method: str
    created: bool
    seconds: float = 0.0
    marker: str | None = None

    @property
    def where(self) -> str:
        return pg.describe(self.dsn)


def libpq_env(dsn: str) -> dict[str, str]:
    """A child process environment reaching ``dsn`` through libpq's PG* variables
    (and no other PG* or PGWARDEN_* setting of this process)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "PGWARDEN_"))}
    for key, value in conninfo_to_dict(dsn).items():
        if key in LIBPQ_ENV and value is not None:
            env[LIBPQ_ENV[key]] = str(value)
    return env


def without_password(dsn: str) -> str:
    """The DSN without any secret option, fit for a client's command line."""
    params = {k: v for k, v in conninfo_to_dict(dsn).items() if k not in SECRET_KEYS}
    return make_conninfo("", **params)


def clone_name(plan: Plan, now: datetime | None = None) -> str:
    if plan.clone_name:
        return plan.clone_name
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    return f"pgwarden_rehearsal_{stamp}_{secrets.token_hex(2)}"


def _admin(target_dsn: str) -> psycopg.Connection[Any]:
    """A connection to a maintenance database of the target's server."""
    failure: Exception | None = None
    for dbname in MAINTENANCE_DATABASES:
        try:
            return pg.connect(
                make_conninfo(target_dsn, dbname=dbname), statement_timeout_ms=None
            )
        except TargetError as exc:
            failure = exc
    raise CloneFailed(
        f"cannot reach a maintenance database (postgres, template1) to create the "
        f"clone: {failure}"
    )


@contextmanager
def database(
    plan: Plan,
    target_dsn: str,
    source: str,
    keep: bool,
    notes: list[str],
    progress: Callable[[str], None] = lambda _: None,
) -> Iterator[Database]:
    """The rehearsal database for ``plan``; a clone is dropped on the way out (what
    became of it is appended to ``notes`` and told to ``progress``)."""
    if plan.rehearsal_dsn:
        name = str(conninfo_to_dict(plan.rehearsal_dsn).get("dbname") or "")
        yield Database(plan.rehearsal_dsn, name, "existing copy", created=False)
        return
    source = plan.clone_source or source
    name = clone_name(plan)
    if name == source:
        raise ConfigurationError("clone_name: must differ from the source database")
    marker = f"{MARKER} {secrets.token_hex(8)}: clone of {source}"
    created: int | None = None
    attempted = False
    try:
        with _admin(target_dsn) as admin:
            _refuse_existing(admin, name)
            attempted = True
            started = datetime.now(UTC)
            _create(admin, name, "template0" if plan.clone == "dump" else source)
            created = _oid(admin, name)
            _mark(admin, name, marker)
        if plan.clone == "dump":
            _dump_restore(target_dsn, source, name)
        seconds = (datetime.now(UTC) - started).total_seconds()
        yield Database(
            make_conninfo(target_dsn, dbname=name), name, plan.clone, True, seconds,
            marker,
        )  # fmt: skip
    finally:
        if attempted and keep:
            notes.append(f"clone {name!r} kept (--keep-clone): drop it when done")
        elif attempted:
            notes.append(drop(target_dsn, name, created))
        if attempted:
            progress(notes[-1])


def _refuse_existing(admin: psycopg.Connection[Any], name: str) -> None:
    if named(admin, "database_exists", {"datname": name}):
        raise ConfigurationError(
            f"clone_name: database {name!r} already exists; pgwarden only drops "
            "clones it created: choose another name"
        )


def _oid(admin: psycopg.Connection[Any], name: str) -> int | None:
    found = named(admin, "database_oid", {"datname": name})
    return int(found[0]["oid"]) if found else None


def _mark(admin: psycopg.Connection[Any], name: str, marker: str) -> None:
    """Write ``marker`` on the new clone: the steps run only where it is found."""
    try:
        admin.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(name), sql.Literal(marker)
            )
        )
    except psycopg.Error as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CloneFailed(f"cannot mark the clone {name!r}: {reason}") from exc


def _create(admin: psycopg.Connection[Any], name: str, template: str) -> None:
    statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
        sql.Identifier(name), sql.Identifier(template)
    )
    try:
        admin.execute(statement)
    except pgerrors.ObjectInUse as exc:
        others = named(admin, "other_sessions", {"datname": template})
        count = others[0]["sessions"] if others else "some"
        raise CloneFailed(
            f"cannot clone database {template!r} with CREATE DATABASE … TEMPLATE: "
            f"{count} other session(s) use it; set rehearsal_dsn to a restored "
            'copy, or clone = "dump" in the plan'
        ) from exc
    except pgerrors.InsufficientPrivilege as exc:
        raise MissingCapability(
            f"cannot create the rehearsal clone: role {admin.info.user!r} lacks "
            "CREATEDB; grant it, or set rehearsal_dsn to a restored copy"
        ) from exc
    except pgerrors.InvalidCatalogName as exc:
        raise ConfigurationError(
            f"clone_source: no database {template!r} on the target's server"
        ) from exc


def drop(target_dsn: str, name: str, oid: int | None) -> str:
    """``DROP DATABASE IF EXISTS name WITH (FORCE)`` while ``name`` still leads to
    the clone pgwarden created (database ``oid``); what happened, in words."""
    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
        sql.Identifier(name)
    )
    try:
        with _admin(target_dsn) as admin:
            found = _oid(admin, name)
            if found is None:
                return f"clone {name!r} was not created"
            if found != oid:
                return (
                    f"clone {name!r} not dropped: that name now leads to another "
                    f"database (oid {found}, pgwarden created oid {oid}); check it "
                    "and drop it by hand"
                )
            admin.execute(statement)
    except (TargetError, psycopg.Error) as exc:
        logger.warning("could not drop the rehearsal clone", extra={"clone": name})
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"could not drop the clone {name!r} ({reason}): drop it by hand"
    return f"clone {name!r} dropped"


def client_bin_dir(server_major: int) -> Path:
    """A directory with ``pg_dump`` and ``pg_restore`` of the server's major version,
    else the oldest newer one (a newer pg_dump may emit settings an older server
    does not know)."""
    candidates = [wheel_bin_dir(), system_bin_dir()]
    found = shutil.which("pg_dump")
    candidates.append(Path(found).parent if found else None)
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    usable: dict[int, Path] = {}
    for folder in candidates:
        if folder is not None and (folder / "pg_restore").exists():
            major = _major(folder / "pg_dump")
            if major >= server_major:
                usable.setdefault(major, folder)
    if not usable:
        raise MissingCapability(
            f'clone = "dump" needs pg_dump and pg_restore {server_major} or newer; '
            "install the PostgreSQL client, or set rehearsal_dsn"
        )
    return usable[min(usable)]


def _major(binary: Path) -> int:
    try:
        done = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, check=False,
            timeout=30,
        )  # fmt: skip
    except OSError:
        return 0
    match = _VERSION_RE.search(done.stdout)
    return int(match.group(1)) if match else 0


def _dump_restore(target_dsn: str, source: str, name: str) -> None:
    with pg.connect(target_dsn) as conn:
        major = pg.server_version_num(conn) // 10000
    bin_dir = client_bin_dir(major)
    source_dsn = make_conninfo(target_dsn, dbname=source)
    clone_dsn = make_conninfo(target_dsn, dbname=name)
    dump_cmd = [str(bin_dir / "pg_dump"), "--format=custom",
                f"--dbname={without_password(source_dsn)}"]  # fmt: skip
    restore_cmd = [str(bin_dir / "pg_restore"),
                   f"--dbname={without_password(clone_dsn)}"]  # fmt: skip
    with subprocess.Popen(
        dump_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=libpq_env(source_dsn), stdin=subprocess.DEVNULL,
    ) as dump:  # fmt: skip
        restore = subprocess.run(
            restore_cmd, stdin=dump.stdout, capture_output=True, text=True,
            env=libpq_env(clone_dsn), check=False,
        )  # fmt: skip
        assert dump.stdout is not None and dump.stderr is not None
        dump.stdout.close()
        dump_err = dump.stderr.read().decode(errors="replace")
        dump.wait()
    if dump.returncode != 0:
        raise CloneFailed(f"pg_dump of {source!r} failed: {_first_error(dump_err)}")
    if restore.returncode != 0:
        raise CloneFailed(
            f"pg_restore into {name!r} failed: {_first_error(restore.stderr)}"
        )


def _first_error(text: str) -> str:
    """The first error of a pg_dump/pg_restore run, else its last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    if errors:
        return errors[0]
    return lines[-1] if lines else "no message"
