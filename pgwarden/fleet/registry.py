"""The registry: the targets the workers serve, with their status.

A registered target is a ``pgwarden.target`` row with a connection string (``dsn``,
never holding a password), an optional group, collection interval and password
variable, a pause switch, and the outcome of its last cycle. It is registered by
identity (:mod:`pgwarden.repository.targets`): adding a database already known
under another address or name enrols that row.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.errors import ConfigurationError
from pgwarden.fleet.passwords import check_env_name, strip, with_password
from pgwarden.repository import targets

logger = logging.getLogger(__name__)

GROUP = "fleet"
MAX_NAME = 200
MAX_REASON = 500


@dataclass(frozen=True)
class Registered:
    """A registered target's row."""

    id: int
    name: str
    group: str | None
    address: str | None
    database: str | None
    system_identifier: str | None
    dsn: str
    password_env: str | None
    interval_s: int | None
    paused: bool
    status: str | None
    status_reason: str | None
    status_at: datetime | None
    discovered_from: str | None = None

    @property
    def state(self) -> str:
        """``paused``, ``ok``, ``failing: reason`` or ``new`` (no cycle yet)."""
        if self.paused:
            return "paused"
        if self.status == "failing":
            return f"failing: {self.status_reason or 'unknown reason'}"
        return self.status or "new"


@dataclass(frozen=True)
class Listed:
    """A registered target with its collection figures (``targets list``)."""

    target: Registered
    last_collected_at: datetime | None
    cycles_last_hour: int

    def as_dict(self) -> dict[str, Any]:
        t = self.target
        return {
            "name": t.name,
            "group": t.group,
            "address": t.address,
            "database": t.database,
            "system_identifier": t.system_identifier,
            "interval_s": t.interval_s,
            "last_collected_at": _iso(self.last_collected_at),
            "cycles_last_hour": self.cycles_last_hour,
            "status": "paused" if t.paused else (t.status or "new"),
            "status_reason": t.status_reason,
            "status_at": _iso(t.status_at),
            "paused": t.paused,
        }


@dataclass(frozen=True)
class Added:
    target: Registered
    #: the DSN given held a password, which was not stored
    had_password: bool


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _registered(row: dict[str, Any]) -> Registered:
    return Registered(
        id=int(row["id"]),
        name=str(row["name"]),
        group=row["group_name"],
        address=row["address"],
        database=row["database_name"],
        system_identifier=row["system_identifier"],
        dsn=str(row["dsn"]),
        password_env=row["password_env"],
        interval_s=row["interval_s"],
        paused=bool(row["paused"]),
        status=row["status"],
        status_reason=row["status_reason"],
        status_at=row["status_at"],
        discovered_from=row["discovered_from"],
    )


def registered(
    conn: psycopg.Connection[Any], group: str | None = None
) -> list[Registered]:
    """The registered targets (of ``group``), by name."""
    return [_registered(row) for row in _rows(conn, "registered", group)]


def _rows(
    conn: psycopg.Connection[Any], name: str, group: str | None
) -> list[dict[str, Any]]:
    """The registry's rows; a repository without it is a one-line error (exit 2)."""
    try:
        return pg.named_rows(conn, GROUP, name, {"group": group})
    except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn):
        raise ConfigurationError(
            "the repository holds no target registry yet "
            "(pgwarden init or pgwarden targets add installs it)"
        ) from None


def listing(conn: psycopg.Connection[Any], group: str | None = None) -> list[Listed]:
    """The registered targets with their last cycle and cycles of the last hour."""
    rows = _rows(conn, "listing", group)
    return [
        Listed(_registered(r), r["last_collected_at"], int(r["cycles_last_hour"]))
        for r in rows
    ]


def find(conn: psycopg.Connection[Any], name: str) -> Registered:
    """The registered target ``name``; an unknown name is a one-line error (exit 2)."""
    for found in registered(conn):
        if found.name == name:
            return found
    raise ConfigurationError(
        f"no registered target named {_shown(name)}; see pgwarden targets list"
    )


def connect_dsn(target: Registered) -> str:
    """The DSN a connection to ``target`` uses: the password from its variable.

    Without ``password_env`` the password is left to libpq (``PGPASSFILE``,
    ``~/.pgpass``, a service file).
    """
    return with_password(target.dsn, target.password_env, what=f"target {target.name}")


def record_status(
    conn: psycopg.Connection[Any], target_id: int, ok: bool, reason: str | None
) -> None:
    """The outcome of a target's last cycle: ok, or failing with a one-line reason."""
    line = (reason or "").strip().splitlines()
    params = {
        "id": target_id,
        "ok": ok,
        "reason": (line[0] if line else "")[:MAX_REASON],
    }
    pg.named_rows(conn, GROUP, "record_status", params)


def check_name(name: str) -> str:
    """A target name: 1 to 200 printable characters."""
    if (
        not name
        or len(name) > MAX_NAME
        or not name.isprintable()
        or name != name.strip()
    ):
        raise ConfigurationError(
            f"target name must be 1 to {MAX_NAME} printable characters, "
            "without leading or trailing spaces"
        )
    return name


def check_group(group: str | None) -> str | None:
    if group is None:
        return None
    if not group or len(group) > MAX_NAME or not group.isprintable():
        raise ConfigurationError(
            f"--group must be 1 to {MAX_NAME} printable characters"
        )
    return group


def add(
    repo: psycopg.Connection[Any],
    dsn: str,
    *,
    name: str | None = None,
    group: str | None = None,
    interval_s: int | None = None,
    password_env: str | None = None,
    discovered_from: str | None = None,
    discover_exclude: Sequence[str] | None = None,
    target: psycopg.Connection[Any] | None = None,
) -> Added:
    """Register the database ``dsn`` reaches (by identity) under ``name``.

    The database is connected to once to read its identity (``target``: a
    connection the caller holds). The password, if ``dsn`` holds one, is not
    stored. ``name`` None keeps the row's name (new: its address).
    """
    if name is not None:
        check_name(name)
    check_group(group)
    check_env_name(password_env)
    if interval_s is not None and interval_s < 1:
        raise ConfigurationError("--interval must be at least 1 second")
    stripped = strip(dsn)
    address = pg.describe(stripped.dsn)
    if target is None:
        reach = (
            dsn
            if stripped.had_password
            else with_password(stripped.dsn, password_env, what=address)
        )
        with pg.connect(reach) as conn:
            ident = targets.identity(conn, address)
    else:
        ident = targets.identity(target, address)
    with repo.transaction():
        row = targets.register(repo, ident)
        assert row is not None
        chosen = row.name if name is None else name
        if chosen != row.name and _is_registered(repo, row.id):
            raise ConfigurationError(
                f"this database is registered already, as {_shown(row.name)}"
            )
        owner = pg.named_rows(repo, GROUP, "name_owner", {"name": chosen})
        if owner and int(owner[0]["id"]) != row.id:
            raise ConfigurationError(
                f"target name {_shown(chosen)} is taken by another database"
            )
        pg.named_rows(repo, GROUP, "enrol", {
            "id": row.id, "name": chosen, "dsn": stripped.dsn, "group": group,
            "password_env": password_env, "interval_s": interval_s,
            "discovered_from": discovered_from,
            "discover_exclude": None if discover_exclude is None
            else list(discover_exclude),
        })  # fmt: skip
    return Added(find(repo, chosen), stripped.had_password)


def _is_registered(repo: psycopg.Connection[Any], target_id: int) -> bool:
    return any(t.id == target_id for t in registered(repo))


def set_paused(conn: psycopg.Connection[Any], name: str, paused: bool) -> None:
    """Pause or resume a registered target (unknown name: exit 2)."""
    if not pg.named_rows(conn, GROUP, "set_paused", {"name": name, "paused": paused}):
        find(conn, name)  # raises the one-line error


def remove(conn: psycopg.Connection[Any], name: str) -> None:
    """Take a target out of the fleet; its history stays in the repository."""
    if not pg.named_rows(conn, GROUP, "unregister", {"name": name}):
        find(conn, name)


def _shown(name: str) -> str:
    return repr(name[:MAX_NAME])
