"""Discovery: register every database of a server the role may connect to.

Templates, databases that refuse connections, databases this role has no
``CONNECT`` privilege on, pgwarden's own repository database and the names matching
an ``--exclude`` pattern are left out. Each database is registered by identity,
named by its address (``host:port/dbname``) unless it is registered already, and
remembers the server it was discovered from, so the worker's ``discover`` job can
run the discovery again and pick up new databases.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.errors import PgwardenError
from pgwarden.fleet.passwords import strip, with_database, with_password
from pgwarden.fleet.registry import GROUP, add
from pgwarden.repository import targets

logger = logging.getLogger(__name__)

#: what :func:`_one` says of a database removed from the fleet
_REMOVED = "\0removed"


@dataclass
class Discovery:
    """What one discovery of a server found."""

    server: str
    added: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    #: (database, why it was left out)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    had_password: bool = False

    def summary(self) -> str:
        return (
            f"{self.server}: {len(self.added)} added, {len(self.known)} already "
            f"registered, {len(self.skipped)} skipped"
        )


def discover(
    repo: psycopg.Connection[Any],
    server_dsn: str,
    *,
    group: str | None = None,
    exclude: Sequence[str] = (),
    password_env: str | None = None,
    interval_s: int | None = None,
    again: bool = False,
) -> Discovery:
    """Register the databases of the server ``server_dsn`` reaches.

    The server unreachable is :class:`~pgwarden.errors.ConnectionFailed` (exit 3);
    one database that cannot be reached is skipped with its reason. ``again`` (the
    worker's rediscovery) leaves out the databases removed from the fleet.
    """
    stripped = strip(server_dsn)
    reach = (
        server_dsn
        if stripped.had_password
        else with_password(stripped.dsn, password_env, what=pg.describe(stripped.dsn))
    )
    known = {t["id"] for t in pg.named_rows(repo, GROUP, "registered", {"group": None})}
    removed = (
        {r["id"] for r in pg.named_rows(repo, GROUP, "removed")} if again else set()
    )
    here = targets.identity(repo, "repository")
    with pg.connect(reach) as server:
        ident = targets.identity(server, "server")
        rows = pg.named_rows(server, GROUP, "databases")
    source = _server_of(stripped.dsn)
    shown = pg.describe(stripped.dsn).rsplit("/", 1)[0]
    found = Discovery(server=shown, had_password=stripped.had_password)
    for row in rows:
        name = str(row["datname"])
        if _is_repository(here, ident.system_identifier, int(row["oid"]), name):
            found.skipped.append((name, "pgwarden's repository"))
            continue
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in exclude):
            found.skipped.append((name, "excluded"))
            continue
        try:
            done = _one(repo, stripped.dsn, reach, name, group, password_env,
                        interval_s, source, known, removed, exclude)  # fmt: skip
        except (PgwardenError, psycopg.Error) as exc:
            found.skipped.append((name, _first_line(exc)))
            continue
        if done is _REMOVED:
            found.skipped.append((name, "removed from the fleet"))
            continue
        (found.known if done is None else found.added).append(done or name)
    return found


def _one(
    repo: psycopg.Connection[Any],
    stored: str,
    reach: str,
    dbname: str,
    group: str | None,
    password_env: str | None,
    interval_s: int | None,
    source: str,
    known: set[Any],
    removed: set[Any],
    exclude: Sequence[str],
) -> str | None:
    """The name of the database newly registered; None when it already was."""
    with pg.connect(with_database(reach, dbname)) as conn:
        ident = targets.identity(conn, pg.describe(with_database(stored, dbname)))
        row = targets.register(repo, ident, create=False)
        if row is not None and row.id in known:
            return None
        if row is not None and row.id in removed:
            return _REMOVED
        added = add(
            repo, with_database(stored, dbname), group=group, interval_s=interval_s,
            password_env=password_env, discovered_from=source,
            discover_exclude=list(exclude), target=conn,
        )  # fmt: skip
    return added.target.name


def _is_repository(
    here: targets.Identity, system_identifier: str | None, oid: int, name: str
) -> bool:
    if here.system_identifier is not None and system_identifier is not None:
        return here.system_identifier == system_identifier and here.database_oid == oid
    return False


def _server_of(dsn: str) -> str:
    """The stored server DSN (no password): discovery runs again from it."""
    return dsn


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def rediscover(repo: psycopg.Connection[Any]) -> list[Discovery]:
    """Discovery again of every server targets were discovered from.

    A server that cannot be reached is reported in its Discovery's ``skipped``.
    """
    done = []
    for row in pg.named_rows(repo, GROUP, "discovered_servers"):
        server = str(row["discovered_from"])
        try:
            done.append(discover(repo, server, group=row["group_name"],
                                 exclude=row["discover_exclude"] or (),
                                 password_env=row["password_env"],
                                 again=True))  # fmt: skip
        except PgwardenError as exc:
            lost = Discovery(server=pg.describe(server).rsplit("/", 1)[0])
            lost.skipped.append(("*", _first_line(exc)))
            done.append(lost)
    return done
