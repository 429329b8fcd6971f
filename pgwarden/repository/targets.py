"""Which target a connection reaches: one database is one target, whatever its address.

A target is what the database *is*: the server's ``system_identifier``
(``pg_control_system()``) plus the database's oid. Its address (``host:port/dbname``)
is an attribute, updated when the database is seen elsewhere (a port move, another
spelling of the DSN); its name is the one it was first registered with and does not
change. Every role may read the system identifier unless an administrator revoked
``EXECUTE`` on ``pg_control_system()`` (PostgreSQL grants it to PUBLIC): then the
address is all there is, and a port move makes a new target.

Rows written before the identity was known (an older repository, or a role that
could not read it) are adopted the first time the identity is read at their address
or under their server and database name.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.errors import PgwardenError

logger = logging.getLogger(__name__)

GROUP = "targets"


@dataclass(frozen=True)
class Identity:
    """What a connection reaches, read from the target."""

    address: str
    system_identifier: str | None
    database_oid: int
    database_name: str
    server_version_num: int

    @property
    def known(self) -> bool:
        """Whether the identity, not only the address, is known."""
        return self.system_identifier is not None


@dataclass(frozen=True)
class Target:
    """A target's row in the repository."""

    id: int
    name: str


def identity(target: psycopg.Connection[Any], address: str) -> Identity:
    """The identity of the database ``target`` is connected to (one small read)."""
    row = pg.named_rows(target, GROUP, "identity")[0]
    ident = row["system_identifier"]
    return Identity(
        address=address,
        system_identifier=None if ident is None else str(ident),
        database_oid=int(row["database_oid"]),
        database_name=str(row["database_name"]),
        server_version_num=int(row["server_version_num"]),
    )


def resolve(
    target: psycopg.Connection[Any],
    repo: psycopg.Connection[Any],
    address: str,
    *,
    create: bool = True,
) -> Target | None:
    """The target ``target`` reaches, found, adopted or (``create``) registered.

    ``address`` is how the caller names where it connected (``pg.describe`` of its
    DSN). The row's address and last sight are refreshed. None only when not
    ``create`` and the repository does not know the database.
    """
    return register(repo, identity(target, address), create=create)


def register(
    repo: psycopg.Connection[Any], ident: Identity, *, create: bool = True
) -> Target | None:
    """The row of ``ident`` in the repository (see :func:`resolve`)."""
    params = _params(ident)
    with repo.transaction():
        pg.fetch_one(repo, _q("lock"))
        found = _find(repo, ident, params)
        if found is None and not create:
            return None
        if found is None:
            params["name"] = _free_name(repo, ident.address)
            row = _one(repo, "insert", params)
        else:
            row = _one(repo, "seen", {**params, "id": found})
    assert row is not None
    return Target(int(row["id"]), str(row["name"]))


def _find(
    repo: psycopg.Connection[Any], ident: Identity, params: dict[str, Any]
) -> int | None:
    if not ident.known:
        row = _one(repo, "by_address", params)
        return None if row is None else int(row["id"])
    row = _one(repo, "by_identity", params)
    if row is not None:
        return int(row["id"])
    olds = [int(r["id"]) for r in pg.named_rows(repo, GROUP, "adoptable", params)]
    for gone in olds[1:]:
        pg.fetch_one(repo, _q("merge"), [olds[0], gone])
    if olds:
        logger.info("target %s: identity read, earlier rows adopted", ident.address)
    return olds[0] if olds else None


def _free_name(repo: psycopg.Connection[Any], address: str) -> str:
    """The address, or (another database was first seen there) the address numbered."""
    name, n = address, 1
    while pg.fetch_one(repo, _q("name_taken"), [name]) is not None:
        n += 1
        name = f"{address} ({n})"
    return name


def _params(ident: Identity) -> dict[str, Any]:
    return {
        "address": ident.address,
        "system_identifier": ident.system_identifier,
        "database_oid": ident.database_oid,
        "database_name": ident.database_name,
        "server_version_num": ident.server_version_num,
    }


def _q(name: str) -> str:
    return pg.query(GROUP, name)


def _one(
    repo: psycopg.Connection[Any], name: str, params: dict[str, Any]
) -> dict[str, Any] | None:
    found = pg.named_rows(repo, GROUP, name, params)
    return found[0] if found else None


def resolve_with(
    target_dsn: str, repo: psycopg.Connection[Any], *, create: bool = True
) -> Target | None:
    """:func:`resolve` for a caller that holds only the repository connection."""
    with pg.connect(target_dsn) as target:
        return resolve(target, repo, pg.describe(target_dsn), create=create)


def name_of(
    target_dsn: str,
    repository_dsn: str | None,
    target: psycopg.Connection[Any] | None = None,
) -> str:
    """The target's name in the repository, registering nothing.

    A database the repository does not hold yet is named by its address (the first
    command that writes registers it under that name, and its identity is adopted
    on the next resolution), or, when another database was first seen at that
    address, by the address numbered. Never raises: a target or repository that
    cannot be reached, or a repository without the pgwarden schema, leaves the
    address, and the caller meets the real problem when it connects itself.
    ``target``: a connection to the target the caller already holds.
    """
    address = pg.describe(target_dsn)
    if not repository_dsn:
        return address
    try:
        with contextlib.ExitStack() as stack:
            repo = None
            if target is None:
                target = stack.enter_context(pg.connect(target_dsn))
                repo = target if repository_dsn == target_dsn else None
            if repo is None:
                repo = stack.enter_context(pg.connect(repository_dsn))
            return known_name(target, repo, target_dsn)
    except (psycopg.Error, PgwardenError) as exc:
        logger.debug("target %s: not resolved (%s)", address, exc)
        return address


def known_name(
    target: psycopg.Connection[Any],
    repo: psycopg.Connection[Any] | None,
    target_dsn: str,
) -> str:
    """:func:`name_of` over open connections (``repo`` None: no repository)."""
    address = pg.describe(target_dsn)
    if repo is None:
        return address
    try:
        found = resolve(target, repo, address, create=False)
        return found.name if found is not None else _free_name(repo, address)
    except (psycopg.Error, PgwardenError) as exc:
        logger.debug("target %s: not resolved (%s)", address, exc)
        return address
