"""Where slow statements come from: the server log, read as files or through
``pg_read_binary_file``, else activity sampling only.

:func:`discover` decides once per target (and again now and then): a log directory
given by the operator is read as it is; otherwise the server is asked where it
writes its jsonlog/csvlog files (``data_directory``, ``log_directory``: settings a
role sees with ``pg_read_all_settings``, ``pg_monitor`` or as superuser). When
pgwarden runs beside the server and may read that directory, the files are read
directly; when the role may call ``pg_ls_logdir()`` and ``pg_read_binary_file()``,
through the connection; else only activity sampling remains, and the source says
why and what would give the log.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import psycopg
from psycopg import sql

from pgwarden import pg
from pgwarden.errors import PgwardenError

SourceKind = Literal["file", "pg_read_file", "sampling"]
READ_GRANT = (
    "GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file"
    "(text, bigint, bigint, boolean) TO {role};"
)


@dataclass(frozen=True)
class LogSource:
    """The slow query source of a target: what is read, and why."""

    kind: SourceKind
    #: one line: the source and why it is the one
    detail: str
    #: how to get the server log read, when it is not
    fix: str | None = None
    #: the log directory as this machine sees it (``file``)
    path: Path | None = None
    #: the log directory as the server names it (``pg_read_file``)
    server_dir: str | None = None
    #: the target's database: the log's statements of other databases are not kept
    #: (None: all, as in a directory the operator named)
    database: str | None = None

    @property
    def reads_log(self) -> bool:
        return self.kind != "sampling"


def configured(directory: Path) -> LogSource:
    """The directory the operator named (``--log-dir``, ``server_log_dir``)."""
    return LogSource(
        "file",
        f"server log via file path: {directory} "
        "(--log-dir / slow_queries.server_log_dir)",
        path=directory,
    )


def discover(conn: psycopg.Connection[Any], *, local_files: bool = True) -> LogSource:
    """The best source the server and the role allow (``local_files``: whether
    a directory readable on this machine may be used)."""
    try:
        with pg.guarded("server log settings"):
            rows = pg.fetch_all(conn, pg.query("slowlog", "log_settings"))
            rights = pg.fetch_one(conn, pg.query("slowlog", "log_functions")) or {}
    except (PgwardenError, psycopg.Error) as exc:
        return _sampling(f"the server log settings cannot be read ({exc})", None)
    settings = {row["name"]: row["setting"] for row in rows}
    role = sql_ident(str(rights.get("role") or conn.info.user))
    return _choose(conn, settings, rights, role, local_files)


def _choose(
    conn: psycopg.Connection[Any],
    settings: dict[str, str],
    rights: dict[str, Any],
    role: str,
    local_files: bool,
) -> LogSource:
    destinations = {d.strip() for d in settings.get("log_destination", "").split(",")}
    if not {"jsonlog", "csvlog"} & destinations or (
        settings.get("logging_collector") != "on"
    ):
        found = (
            f"log_destination = {settings.get('log_destination', 'unknown')}, "
            f"logging_collector = {settings.get('logging_collector', 'unknown')}"
        )
        return _sampling(
            f"the server writes no jsonlog/csvlog file ({found})",
            "add jsonlog (PostgreSQL 15+) or csvlog to log_destination and set "
            "logging_collector = on (see the slow_query_log check)",
        )
    log_directory = settings.get("log_directory")
    if log_directory is None:
        return _sampling(
            f"role {role} cannot see log_directory (needs pg_read_all_settings, "
            "pg_monitor or superuser)",
            f"GRANT pg_monitor TO {role}; {READ_GRANT.format(role=role)} "
            "or give --log-dir where the files can be read",
        )
    local = _local_directory(conn, settings, log_directory) if local_files else None
    if local is not None:
        detail = f"server log via file path: {local}"
        return LogSource("file", detail, path=local, database=conn.info.dbname)
    if rights.get("can_list") and rights.get("can_read"):
        return LogSource(
            "pg_read_file",
            f"server log via pg_read_file: {log_directory} on the server",
            server_dir=log_directory,
            database=conn.info.dbname,
        )
    return _sampling(
        f"{log_directory} is not readable from here and role {role} may not call "
        "pg_ls_logdir() and pg_read_binary_file()",
        f"GRANT pg_monitor TO {role}; {READ_GRANT.format(role=role)} "
        "or run pgwarden where it can read the log directory (--log-dir)",
    )


def _sampling(why: str, fix: str | None) -> LogSource:
    return LogSource("sampling", f"activity sampling only: {why}", fix)


def _local_directory(
    conn: psycopg.Connection[Any], settings: dict[str, str], log_directory: str
) -> Path | None:
    """The log directory when the server runs here and its files are readable."""
    data_directory = settings.get("data_directory")
    if not _on_this_machine(conn) or data_directory is None:
        return None
    directory = Path(data_directory) / log_directory  # an absolute one replaces it
    if not (directory.is_dir() and os.access(directory, os.R_OK | os.X_OK)):
        return None
    if not _same_server(Path(data_directory), settings.get("port")):
        return None
    return directory


def _on_this_machine(conn: psycopg.Connection[Any]) -> bool:
    host = conn.info.hostaddr or conn.info.host
    if host.startswith("/") or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _same_server(data_directory: Path, port: str | None) -> bool:
    """Whether ``postmaster.pid`` there names the server's port (when readable:
    a directory of the same path on another server, in a container, is not it)."""
    try:
        lines = (data_directory / "postmaster.pid").read_text().splitlines()
    except OSError:
        return True  # not readable by this user: the log directory is
    return len(lines) < 4 or port is None or lines[3].strip() == port


def server_path(server_dir: str, name: str) -> str:
    """A log file's path as the server resolves it (relative: in its data directory)."""
    return str(PurePosixPath(server_dir) / name)


def sql_ident(name: str) -> str:
    return sql.Identifier(name).as_string(None)
