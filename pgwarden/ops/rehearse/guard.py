"""Where the release steps may run: a database proven not to be the target.

The steps change the database they run on, so before the first one pgwarden reads
what that database *is*, on the very connection that will run them, and refuses
(:class:`~pgwarden.errors.WriteRefused`, exit 3):

- the target itself: the same database oid on a server with the same
  ``system_identifier``, whatever the host, port, options or spelling of the two
  DSNs. An unreadable system identifier cannot tell them apart, so it counts as the
  same. A physical copy of the target's server (a standby, a restored base backup)
  shares both and is refused too;
- a clone that no longer carries the exact marker pgwarden wrote on it;
- an existing database (``rehearsal_dsn``) whose comment does not start with
  :data:`MARKER`, unless the plan says ``allow_existing = true``;
- a database whose name libpq would read as a connection string (a command step
  given it in ``PGDATABASE`` could be sent elsewhere).

The DSN the lock samplers and command steps get is then pinned to what was checked:
the host address, port, database and role of that connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from pgwarden import pg
from pgwarden.errors import MissingCapability, WriteRefused

GROUP = "rehearse"
#: the start of the comment of a database the steps may run on
MARKER = "pgwarden:rehearsal-copy"
#: what makes libpq read a database name as a connection string
_CONNINFO_PREFIXES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class Identity:
    """What a database is: its oid and name, its comment, its server's identifier."""

    oid: int
    name: str
    comment: str | None
    system_identifier: str | None

    def same_database(self, other: Identity) -> bool:
        """Unless provably different: another oid, or another server."""
        if self.oid != other.oid:
            return False
        if self.system_identifier is None or other.system_identifier is None:
            return True
        return self.system_identifier == other.system_identifier

    def describe(self) -> str:
        server = self.system_identifier or "unreadable"
        return f"database {self.name!r}, oid {self.oid}, system identifier {server}"


def identity(conn: psycopg.Connection[Any]) -> Identity:
    """The identity of the database ``conn`` is connected to."""
    row = pg.named_rows(conn, GROUP, "identity")[0]
    try:
        found = pg.named_rows(
            conn, GROUP, "system_identifier", feature="system identifier"
        )
        system_identifier: str | None = str(found[0]["system_identifier"])
    except MissingCapability:
        system_identifier = None
    return Identity(int(row["oid"]), str(row["datname"]), row["comment"],
                    system_identifier)  # fmt: skip


def target_identity(target_dsn: str) -> Identity:
    with pg.connect(target_dsn) as conn:
        return identity(conn)


def looks_like_conninfo(name: str) -> bool:
    """Whether libpq tools would expand ``name`` as a connection string."""
    return "=" in name or name.startswith(_CONNINFO_PREFIXES)


def check(
    conn: psycopg.Connection[Any],
    target: Identity,
    *,
    marker: str | None,
    allow_existing: bool,
    where: str,
) -> Identity:
    """Refuse unless ``conn`` reaches a database the steps may change.

    ``marker`` is the exact comment pgwarden wrote on the clone it created; ``None``
    for an existing database (``rehearsal_dsn``).
    """
    found = identity(conn)
    refusal = f"refusing to run the release steps on {where}"
    if found.same_database(target):
        why = (
            "its system identifier is unreadable and its oid is the target's"
            if found.system_identifier is None or target.system_identifier is None
            else "same system identifier and database oid"
        )
        raise WriteRefused(
            f"{refusal}: it is the target database ({found.describe()}; {why}); "
            "point rehearsal_dsn at a copy, or let pgwarden clone the target"
        )
    if looks_like_conninfo(found.name):
        raise WriteRefused(
            f"{refusal}: its name {found.name!r} reads as a connection string"
        )
    if marker is not None and found.comment != marker:
        raise WriteRefused(
            f"{refusal}: it is not the clone pgwarden created (its comment is not "
            "pgwarden's marker)"
        )
    if marker is None and not allow_existing and not _marked(found.comment):
        name = sql.Identifier(found.name).as_string(conn)
        raise WriteRefused(
            f"{refusal}: database {found.name!r} was not created by pgwarden and "
            f"carries no rehearsal marker; if it is a copy, run COMMENT ON DATABASE "
            f"{name} IS '{MARKER}', or set allow_existing = true in the plan"
        )
    return found


def _marked(comment: str | None) -> bool:
    return comment is not None and comment.startswith(MARKER)


def pinned(dsn: str, conn: psycopg.Connection[Any]) -> str:
    """``dsn`` fixed to the host address, port, database and role of ``conn``."""
    info = conn.info
    params: dict[str, Any] = {
        "host": info.host,
        "port": str(info.port),
        "dbname": info.dbname,
        "user": info.user,
    }
    if info.hostaddr:
        params["hostaddr"] = info.hostaddr
    return make_conninfo(dsn, **params)
