"""Which targets a load run may write to.

A load run inserts sessions, answers, evidence and audit rows, so it runs only
against a server that is obviously disposable or explicitly allowed:

1. the target's ``host:port/dbname`` is listed in ``load.allowed_targets``; or
2. it is a pgwarden embedded server: the DSN's host is a loopback address **and**
   the server reads ``listen_addresses`` from ``pgwarden.conf`` (the file
   :mod:`pgwarden.embedded` writes at every start) in a ``pgdata`` directory.

Rule 2 needs a role that may see ``pg_settings.sourcefile`` (superuser or
``pg_read_all_settings``); any other role must be allowed by rule 1. A refusal is a
:class:`TargetRefused` (exit 3).

:func:`embedded_server` finds the :class:`~pgwarden.embedded.EmbeddedServer` behind
a target by the same marker, for the elasticity steps that restart the server or
clone a standby of it; it keeps the ``pgwarden.conf`` overrides the server runs with.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from pgwarden import pg
from pgwarden.embedded import EmbeddedServer
from pgwarden.embedded_conf import governance_conf
from pgwarden.errors import TargetError

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
EMBEDDED_CONF = "pgwarden.conf"


class TargetRefused(TargetError):
    """This target may not be load-tested."""


def is_loopback(dsn: str) -> bool:
    params = conninfo_to_dict(dsn)
    host = str(
        params.get("hostaddr") or params.get("host") or os.environ.get("PGHOST") or ""
    )
    hosts = {h.strip() for h in host.split(",") if h.strip()}
    return bool(hosts) and hosts <= LOOPBACK


def is_embedded(sourcefile: str | None, data_directory: str | None) -> bool:
    """Whether the settings come from an embedded server's ``pgwarden.conf``."""
    if not sourcefile or not data_directory:
        return False
    conf = sourcefile.replace("\\", "/")
    data = data_directory.replace("\\", "/").rstrip("/")
    return conf == f"{data}/{EMBEDDED_CONF}" and data.endswith("/pgdata")


def check_target(
    conn: psycopg.Connection[Any], dsn: str, allowed: Sequence[str]
) -> str:
    """Why the target may be load-tested, or :class:`TargetRefused`."""
    name = pg.describe(dsn)
    if name in allowed:
        return f"{name} is listed in load.allowed_targets"
    row = pg.fetch_one(conn, pg.query("load", "embedded_marker")) or {}
    if is_loopback(dsn) and is_embedded(
        row.get("sourcefile"), row.get("data_directory")
    ):
        return f"{name} is a pgwarden embedded server"
    raise TargetRefused(
        f"refusing to load-test {name}: it is neither a pgwarden embedded server "
        "(loopback, pgwarden.conf, visible to a superuser) nor listed in "
        "load.allowed_targets; add it there if writing test data to it is fine"
    )


def embedded_server(conn: psycopg.Connection[Any], dsn: str) -> EmbeddedServer | None:
    """The embedded server ``dsn`` points at, when it is one on this machine."""
    row = pg.fetch_one(conn, pg.query("load", "embedded_marker")) or {}
    data_directory = row.get("data_directory")
    if not is_loopback(dsn) or not is_embedded(row.get("sourcefile"), data_directory):
        return None
    pgdata = Path(str(data_directory))
    if not (pgdata / "PG_VERSION").is_file():
        return None  # the server runs on another machine, or in a container
    server = EmbeddedServer(pgdata.parent, overrides=_overrides(pgdata))
    state = server.state()
    port = conninfo_to_dict(dsn).get("port") or os.environ.get("PGPORT") or "5432"
    return server if state is not None and str(state.port) == str(port) else None


def _overrides(pgdata: Path) -> dict[str, str]:
    """The settings of ``pgwarden.conf`` that differ from what a start writes."""
    current = _conf_lines(pgdata / EMBEDDED_CONF)
    major = int((pgdata / "PG_VERSION").read_text().split(".")[0])
    defaults = _conf_lines(None, governance_conf(int(current.get("port", 0)), major))
    return {
        key: value
        for key, value in current.items()
        if key != "port" and defaults.get(key) != value
    }


def _conf_lines(path: Path | None, text: str | None = None) -> dict[str, str]:
    if path is not None:
        try:
            text = path.read_text()
        except OSError:
            return {}
    found = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            found[key.strip()] = value.strip()
    return found
