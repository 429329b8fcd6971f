"""The driver seam: connections, guarded reads and named queries.

Every connection pgwarden opens to a monitored server is tagged
``application_name = 'pgwarden'`` and carries a ``statement_timeout``; driver errors
are translated here into :mod:`pgwarden.errors`. Every statement sent on it, named
query or not, carries pgwarden's marker comment (:class:`MarkedConnection`), so
``pg_stat_statements`` tells it from the application's workload; statements sent
on the application's behalf go on a ``workload`` connection, unmarked.

Text a server sends is not always valid in its encoding: a ``SQL_ASCII`` database
stores any bytes, and ``pg_stat_activity`` or a shared catalog shows them to every
other database unchecked. Such a value is read with its invalid bytes escaped as
``\\xNN`` (and counted, see :func:`escaped_texts`) instead of failing the whole read.
"""

from __future__ import annotations

import functools
import logging
import re
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from importlib import resources
from typing import TYPE_CHECKING, Any, Self

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql
from psycopg.abc import AdaptContext, Buffer, Params, PQGen, Query
from psycopg.adapt import Loader
from psycopg.conninfo import conninfo_to_dict
from psycopg.copy import Copy, Writer
from psycopg.pq import Format
from psycopg.pq.abc import PGresult
from psycopg.rows import Row, dict_row

from pgwarden import dsn
from pgwarden.errors import ConfigurationError, ConnectionFailed, MissingCapability
from pgwarden.sqltext import mark

if TYPE_CHECKING:
    from psycopg.abc import QueryNoTemplate  # psycopg 3.3 on

logger = logging.getLogger(__name__)

APPLICATION_NAME = "pgwarden"
CONNECT_TIMEOUT_S = 10
_NAME_RE = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


NO_TARGET = (
    "no target database given: pass --dsn, set PGWARDEN_DSN or the libpq PG* "
    "variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGSERVICE), "
    "or set dsn in pgwarden.toml"
)
#: libpq variables that say which server or database to reach
_TARGET_VARIABLES = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER",
                     "PGSERVICE")  # fmt: skip


def _libpq_environment() -> bool:
    """Whether a libpq variable names a server, database, user or service."""
    return any(_env(name) for name in _TARGET_VARIABLES)


def describe(conninfo: str) -> str:
    """``host:port/dbname`` of a DSN as libpq would resolve it, never a secret.

    Read from the masked DSN (:func:`pgwarden.dsn.mask`), so a password written where
    libpq does not expect it cannot come out as a host or a database name.
    """
    try:
        params = conninfo_to_dict(dsn.mask(conninfo))
    except psycopg.ProgrammingError:
        return "<malformed DSN>"
    host = str(params.get("host") or _env("PGHOST") or "local socket")
    port = str(params.get("port") or _env("PGPORT") or "5432")
    dbname = str(params.get("dbname") or _env("PGDATABASE") or "default database")
    return f"{host}:{port}/{dbname}"


def _env(name: str) -> str | None:
    import os

    return os.environ.get(name) or None


def marked(query: Query, context: AdaptContext | None = None) -> QueryNoTemplate:
    """``query`` (text, bytes or composed) with pgwarden's marker on each statement."""
    if isinstance(query, sql.Composable):
        query = query.as_bytes(context)
    if isinstance(query, str):
        return mark(query)
    if isinstance(query, bytes):  # latin-1 keeps every byte; the marker is ASCII
        return mark(query.decode("latin-1")).encode("latin-1")
    raise TypeError(f"cannot mark a {type(query).__name__} query")


class MarkedCursor(psycopg.Cursor[Row]):
    """A cursor that marks every statement it sends, COPY included."""

    def execute(
        self,
        query: Query,
        params: Params | None = None,
        *,
        prepare: bool | None = None,
        binary: bool | None = None,
    ) -> Self:
        query = marked(query, self)
        return super().execute(query, params, prepare=prepare, binary=binary)

    def executemany(
        self, query: Query, params_seq: Iterable[Params], *, returning: bool = False
    ) -> None:
        super().executemany(marked(query, self), params_seq, returning=returning)

    def stream(
        self,
        query: Query,
        params: Params | None = None,
        *,
        binary: bool | None = None,
        size: int = 1,
    ) -> Iterator[Row]:
        query = marked(query, self)
        return super().stream(query, params, binary=binary, size=size)

    @contextmanager
    def copy(
        self,
        statement: Query,
        params: Params | None = None,
        *,
        writer: Writer | None = None,
    ) -> Iterator[Copy]:
        with super().copy(marked(statement, self), params, writer=writer) as copy:
            yield copy


class MarkedServerCursor(psycopg.ServerCursor[Row]):
    """A server-side cursor whose query is marked (``DECLARE ... FOR`` it)."""

    def execute(
        self,
        query: Query,
        params: Params | None = None,
        *,
        binary: bool | None = None,
        **kwargs: Any,
    ) -> Self:
        return super().execute(marked(query, self), params, binary=binary, **kwargs)


class MarkedConnection(psycopg.Connection[Row]):
    """A connection whose every statement carries pgwarden's marker.

    Cursors mark what they send; the commands psycopg sends itself (``BEGIN``,
    ``COMMIT``, savepoints, ``FETCH`` and ``CLOSE`` of server-side cursors) go
    through ``_exec_command``, marked here too.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cursor_factory = MarkedCursor
        self.server_cursor_factory = MarkedServerCursor

    def _exec_command(
        self, command: QueryNoTemplate, result_format: Format = Format.TEXT
    ) -> PQGen[PGresult | None]:
        return super()._exec_command(marked(command, self), result_format)


def connect(
    conninfo: str,
    *,
    autocommit: bool = True,
    statement_timeout_ms: int | None = 5000,
    application_name: str = APPLICATION_NAME,
    workload: bool = False,
    **kwargs: Any,
) -> psycopg.Connection[Any]:
    """Open a guarded connection, or raise :class:`ConnectionFailed` in one line.

    Its statements carry pgwarden's marker, unless ``workload``: what pgwarden sends
    on the application's behalf (the reference application's data) is the
    application's workload, and is sent as it is.
    """
    kind: type[psycopg.Connection[Any]] = (
        psycopg.Connection if workload else MarkedConnection
    )
    options: dict[str, Any] = {"application_name": application_name}
    if "connect_timeout" not in conninfo:
        options["connect_timeout"] = str(CONNECT_TIMEOUT_S)
    if statement_timeout_ms is not None:
        options["options"] = f"-c statement_timeout={int(statement_timeout_ms)}"
    try:
        conn = kind.connect(conninfo, autocommit=autocommit, **options, **kwargs)
    except psycopg.ProgrammingError as exc:
        reason = dsn.scrub(_first_line(exc), conninfo)
        raise ConfigurationError(f"malformed DSN: {reason}") from None
    except psycopg.OperationalError as exc:
        if not conninfo.strip() and not _libpq_environment():
            raise ConfigurationError(NO_TARGET) from exc
        reason = dsn.scrub(_first_line(exc), conninfo)
        raise ConnectionFailed(
            f"cannot connect to {describe(conninfo)}: {reason}"
        ) from exc
    tolerate_invalid_text(conn)
    return conn


#: text values whose invalid bytes were escaped, per connection, until taken
_escaped: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
_TEXT_TYPES = ("text", "varchar", "bpchar", "name", '"char"')


class _TolerantText(Loader):
    """Text in the connection's encoding; invalid bytes escaped as ``\\xNN``.

    ``SQL_ASCII`` (no encoding at all) is read as UTF-8, what such databases hold
    most often, instead of as bytes.
    """

    def __init__(self, oid: int, context: AdaptContext | None = None):
        super().__init__(oid, context)
        try:
            encoding = self.connection.info.encoding if self.connection else "ascii"
        except psycopg.NotSupportedError:  # an encoding Python has no codec for
            encoding = "ascii"
        self._encoding = "utf-8" if encoding == "ascii" else encoding

    def load(self, data: Buffer) -> str:
        try:
            return str(data, self._encoding)
        except UnicodeDecodeError:
            if self.connection is not None:
                _escaped[self.connection] = _escaped.get(self.connection, 0) + 1
            return str(data, self._encoding, "backslashreplace")


class _TolerantBinaryText(_TolerantText):
    format = Format.BINARY


def tolerate_invalid_text(conn: psycopg.Connection[Any]) -> None:
    """Read ``conn``'s text columns with invalid bytes escaped, never failing."""
    adapters = conn.adapters
    adapters.register_loader(0, _TolerantText)  # types without a loader of their own
    for name in _TEXT_TYPES:
        adapters.register_loader(name, _TolerantText)
        adapters.register_loader(name, _TolerantBinaryText)


def escaped_texts(conn: psycopg.Connection[Any]) -> int:
    """Text values read on ``conn`` with invalid bytes escaped since the last call."""
    return _escaped.pop(conn, 0)


def _first_line(exc: BaseException) -> str:
    """libpq's reason on one line, without the per-address "connection to" prefix."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    reason = lines[-1] if "failed:" in lines[-1] else " ".join(lines)
    for line in reversed(lines):
        if "failed:" in line:
            tail = " ".join(lines[lines.index(line) + 1 :])
            reason = line.rsplit("failed:", 1)[1].strip()
            reason = f"{reason} ({tail})" if tail else reason
            break
    return reason


def server_version_num(conn: psycopg.Connection[Any]) -> int:
    """``server_version_num`` as an integer (e.g. 150004)."""
    return int(conn.info.server_version)


@functools.cache
def queries(group: str) -> Mapping[str, str]:
    """Named queries of ``pgwarden/sql/<group>.sql`` (``-- name: x`` blocks), marked."""
    text = resources.files("pgwarden.sql").joinpath(f"{group}.sql").read_text()
    parts = _NAME_RE.split(text)
    return {
        name: mark(body.strip())
        for name, body in zip(parts[1::2], parts[2::2], strict=True)
    }


def query(group: str, name: str, version_num: int | None = None) -> str:
    """The query ``name``, or its newest variant ``name_pgNN`` the server satisfies."""
    named = queries(group)
    if version_num is not None:
        major = version_num // 10000
        variants = sorted(
            (int(key.rsplit("_pg", 1)[1]), key)
            for key in named
            if key.startswith(f"{name}_pg") and key.rsplit("_pg", 1)[1].isdigit()
        )
        for min_major, key in reversed(variants):
            if major >= min_major:
                return named[key]
    return named[name]


def fetch_all(
    conn: psycopg.Connection[Any], sql: str, params: Sequence[Any] | None = None
) -> list[dict[str, Any]]:
    """Rows as dicts."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def fetch_one(
    conn: psycopg.Connection[Any], sql: str, params: Sequence[Any] | None = None
) -> dict[str, Any] | None:
    rows = fetch_all(conn, sql, params)
    return rows[0] if rows else None


def named_rows(
    conn: psycopg.Connection[Any],
    group: str,
    name: str,
    params: Mapping[str, Any] | None = None,
    feature: str | None = None,
) -> list[dict[str, Any]]:
    """Rows (as dicts) of the named query ``group.name``; none for a command.

    With ``feature``, a missing privilege or object becomes :class:`MissingCapability`.
    """
    with guarded(feature) if feature else nullcontext():
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query(group, name), params)
            return cur.fetchall() if cur.description else []


@contextmanager
def guarded(feature: str) -> Iterator[None]:
    """Turn a missing privilege, object or a timeout into :class:`MissingCapability`."""
    try:
        yield
    except pgerrors.InsufficientPrivilege as exc:
        raise MissingCapability(
            f"{feature}: permission denied ({_first_line(exc)})"
        ) from exc
    except (pgerrors.UndefinedTable, pgerrors.UndefinedFunction) as exc:
        raise MissingCapability(
            f"{feature}: not available ({_first_line(exc)})"
        ) from exc
    except pgerrors.QueryCanceled as exc:
        raise MissingCapability(f"{feature}: timed out ({_first_line(exc)})") from exc
