"""Connection strings: their secrets kept out of output, logs and command lines.

libpq takes a password in several forms, and pgwarden hides it in all of them:

- URI userinfo: ``postgresql://user:secret@host/db`` (percent-encoded or not);
- URI query parameter: ``postgresql://host/db?password=secret`` (the key and the
  value may be percent-encoded; a key is matched in any case);
- key=value conninfo: ``password=secret``, ``password = 'se cret'`` with quotes
  and backslash escapes;
- a ``dbname`` that is itself a connection string, masked inside.

The other secrets libpq knows (``sslpassword``, ``oauth_client_secret``,
``scram_client_key``, ``scram_server_key``) are hidden the same way. A service file
(``service=name``) or a passfile keeps the password in the file, which pgwarden never
reads or prints. A string libpq would refuse is masked generously: a stray word that
is no ``key=value`` (``password=se cret``) is hidden, as is the rest of the string
after an unterminated quote.

:func:`mask` is the one masking function: every DSN shown, logged or put in an
error message goes through it (``pg.describe`` shows only ``host:port/dbname`` of
the masked string). :func:`scrub` removes the secrets of known DSNs from free text,
such as libpq's messages, which quote fragments of a malformed string.
:func:`client` hands a connection to a libpq client program (pg_repack) through its
connection options and environment, the password in a private 0600 passfile, never
on its command line.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

logger = logging.getLogger(__name__)

MASK = "********"
#: libpq's secret connection options
SECRET_KEYS = frozenset(
    {"password", "sslpassword", "oauth_client_secret", "scram_client_key",
     "scram_server_key"}
)  # fmt: skip
#: libpq's connection options (PostgreSQL 18): a query parameter starting with one
#: ends a secret value that holds a raw ``&``
KEYWORDS = SECRET_KEYS | frozenset(
    """service user passfile channel_binding connect_timeout dbname host hostaddr
    port client_encoding options application_name fallback_application_name
    keepalives keepalives_idle keepalives_interval keepalives_count tcp_user_timeout
    sslmode sslnegotiation sslcompression sslcert sslkey sslcertmode sslrootcert
    sslcrl sslcrldir sslsni requirepeer require_auth min_protocol_version
    max_protocol_version ssl_min_protocol_version ssl_max_protocol_version
    gssencmode krbsrvname gsslib gssdelegation replication target_session_attrs
    load_balance_hosts oauth_issuer oauth_client_id oauth_scope
    sslkeylogfile""".split()
)
URI_PREFIXES = ("postgresql://", "postgres://")
#: secrets shorter than this are removed from free text only where libpq quotes them
MIN_SCRUB = 4
_SPACE = " \t\n\r\v\f"
_QUOTED = re.compile(r'"([^"\n]*)"')


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    replacement: str
    #: the secret values the span holds (as written and decoded)
    secrets: tuple[str, ...]


@dataclass(frozen=True)
class Masked:
    """A connection string with its secrets replaced, and the secrets it held."""

    text: str
    secrets: tuple[str, ...]


def mask(dsn: str) -> str:
    """``dsn`` with every secret value replaced by ``********``."""
    return masked(dsn).text


def masked(dsn: str) -> Masked:
    """The masked string and the secret values it held (longest first)."""
    spans = _merged(_uri(dsn) if is_uri(dsn) else _keywords(dsn))
    parts: list[str] = []
    at = 0
    found: set[str] = set()
    for span in spans:
        parts += [dsn[at : span.start], span.replacement]
        at = span.end
        found.update(s for s in span.secrets if s)
    parts.append(dsn[at:])
    return Masked("".join(parts), tuple(sorted(found, key=lambda s: (-len(s), s))))


def _merged(spans: list[_Span]) -> list[_Span]:
    """Spans in order; overlapping ones (two readings of one string) become one."""
    out: list[_Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        last = out[-1] if out else None
        if last is not None and span.start < last.end:
            out[-1] = _Span(last.start, max(last.end, span.end), MASK,
                            last.secrets + span.secrets)  # fmt: skip
        else:
            out.append(span)
    return out


def is_uri(text: str) -> bool:
    return text[:13].lower().startswith(URI_PREFIXES)


def is_conninfo(text: str) -> bool:
    """What libpq expands when given as a database name: a URI or ``key=value``."""
    return is_uri(text) or "=" in text


# -- URIs -----------------------------------------------------------------------------


def _uri(dsn: str) -> list[_Span]:
    start = dsn.index("//") + 2
    slash = _find(dsn, "/", start)
    at = dsn.rfind("@", start, slash)
    if at < 0:  # a raw "/" in the password: userinfo up to an "@" before the query
        at = dsn.rfind("@", start, _find(dsn, "?", start))
    spans = []
    if at >= 0:
        colon = dsn.find(":", start, at)
        if 0 <= colon < at - 1:
            raw = dsn[colon + 1 : at]
            spans.append(_Span(colon + 1, at, MASK, (raw, unquote(raw))))
    # the query as libpq reads it (after the userinfo), and from the first "?" in
    # case the "@" was a raw one in a query parameter
    for query in {dsn.find("?", max(at + 1, start)), dsn.find("?", start)}:
        if query >= 0:
            spans += _query(dsn, query + 1)
    return spans


def _find(text: str, char: str, start: int) -> int:
    found = text.find(char, start)
    return len(text) if found < 0 else found


def _params(dsn: str, start: int) -> list[tuple[int, int]]:
    bounds, at = [], start
    while True:
        end = _find(dsn, "&", at)
        bounds.append((at, end))
        if end == len(dsn):
            return bounds
        at = end + 1


def _key(segment: str) -> str | None:
    key, eq, _ = segment.partition("=")
    return unquote(key).strip().lower() if eq else None


def _query(dsn: str, start: int) -> list[_Span]:
    spans = []
    bounds = _params(dsn, start)
    i = 0
    while i < len(bounds):
        begin, end = bounds[i]
        segment = dsn[begin:end]
        key = _key(segment)
        value_start = begin + segment.find("=") + 1
        if key in SECRET_KEYS:
            # a raw "&" in the value: it goes on up to the next libpq option
            while i + 1 < len(bounds) and _key(dsn[slice(*bounds[i + 1])]) not in (
                KEYWORDS
            ):
                i += 1
                end = bounds[i][1]
            raw = dsn[value_start:end]
            if raw:
                spans.append(_Span(value_start, end, MASK, (raw, unquote(raw))))
        elif key == "dbname":
            inner = _nested(unquote(segment[segment.find("=") + 1 :]))
            if inner is not None:
                encoded = quote(inner.text, safe="*")
                spans.append(_Span(value_start, end, encoded, inner.secrets))
        i += 1
    return spans


def _nested(value: str) -> Masked | None:
    """A database name that is itself a connection string, masked (else None)."""
    if not is_conninfo(value):
        return None
    inner = masked(value)
    return inner if inner.text != value else None


# -- key=value ------------------------------------------------------------------------


def _keywords(dsn: str) -> list[_Span]:
    """libpq's conninfo grammar, masking generously where libpq would refuse."""
    spans: list[_Span] = []
    at, end = 0, len(dsn)
    while at < end:
        if dsn[at] in _SPACE:
            at += 1
            continue
        key_start = at
        while at < end and dsn[at] != "=" and dsn[at] not in _SPACE:
            at += 1
        key = dsn[key_start:at]
        after = _skip_space(dsn, at)
        if after >= end or dsn[after] != "=":  # a stray word: libpq refuses it
            spans.append(_Span(key_start, at, MASK, (key,)))
            continue
        value_start = _skip_space(dsn, after + 1)
        at, value, closed = _value(dsn, value_start)
        raw = dsn[value_start:at]
        name = key.strip().lower()
        if not closed:  # unterminated quote: the rest of the string is its value
            spans.append(_Span(value_start, end, MASK, (raw, value)))
        elif name in SECRET_KEYS and raw:
            spans.append(_Span(value_start, at, MASK, (raw, value)))
        elif name == "dbname" and (inner := _nested(value)) is not None:
            spans.append(_Span(value_start, at, quote_value(inner.text), inner.secrets))
    return spans


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in _SPACE:
        at += 1
    return at


def _value(dsn: str, at: int) -> tuple[int, str, bool]:
    """End of the value starting at ``at``, the value unescaped, whether it ended."""
    out: list[str] = []
    end = len(dsn)
    quoted = at < end and dsn[at] == "'"
    at += quoted
    while at < end:
        char = dsn[at]
        if char == "\\":
            out.append(dsn[at + 1 : at + 2])
            at += 2
        elif quoted and char == "'":
            return at + 1, "".join(out), True
        elif not quoted and char in _SPACE:
            return at, "".join(out), True
        else:
            out.append(char)
            at += 1
    return end, "".join(out), not quoted


def quote_value(value: str) -> str:
    """A conninfo value in single quotes, as libpq reads it back."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


# -- free text ------------------------------------------------------------------------


def scrub(text: str, *dsns: str) -> str:
    """``text`` without the secrets of ``dsns``.

    A DSN written out whole is replaced by its masked form; every secret value of
    :data:`MIN_SCRUB` characters or more is replaced wherever it appears; a quoted
    fragment (libpq quotes what it cannot parse) that is part of a secret and not
    part of the masked DSN is replaced too.
    """
    for dsn in dsns:
        if not dsn:
            continue
        found = masked(dsn)
        if not found.secrets:
            continue
        text = text.replace(dsn, found.text)
        for secret in found.secrets:
            if len(secret) >= MIN_SCRUB:
                text = text.replace(secret, MASK)

        def hide(match: re.Match[str], found: Masked = found) -> str:
            fragment = match.group(1)
            secret = bool(fragment) and fragment not in found.text
            if secret and any(fragment in s for s in found.secrets):
                return f'"{MASK}"'
            return match.group(0)

        text = _QUOTED.sub(hide, text)
    return text


class SecretFilter(logging.Filter):
    """Scrubs the secrets of the given DSNs from every record it sees."""

    def __init__(self, *dsns: str) -> None:
        super().__init__()
        self.dsns = tuple(d for d in dsns if d)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.dsns:
            return True
        message = record.getMessage()
        clean = scrub(message, *self.dsns)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def filter_logs(*dsns: str) -> None:
    """Scrub the secrets of ``dsns`` from every record the root handlers emit.

    Replaces the filter an earlier call installed (one per process).
    """
    for handler in logging.getLogger().handlers:
        for found in [f for f in handler.filters if isinstance(f, SecretFilter)]:
            handler.removeFilter(found)
        handler.addFilter(SecretFilter(*dsns))


# -- client programs ------------------------------------------------------------------

#: connection options a client program takes on its command line (none is secret)
CLIENT_OPTIONS = (
    ("host", "--host"),
    ("port", "--port"),
    ("user", "--username"),
    ("dbname", "--dbname"),
)


class ClientError(ValueError):
    """The connection cannot be handed to a client program without a secret in argv."""


@dataclass(frozen=True)
class Client:
    """How a libpq client program reaches a database: argv options, environment."""

    args: tuple[str, ...]
    env: dict[str, str]


@contextmanager
def client(dsn: str, environ: Mapping[str, str] | None = None) -> Iterator[Client]:
    """Connection options for a client's command line, the rest in its environment.

    Host, port, user and database go on the command line (``--host=…``); every other
    option goes in its libpq ``PG*`` variable; the password goes in a passfile (mode
    0600, in a private directory removed on the way out), or in ``PGPASSWORD`` when it
    cannot be written in one. Nothing secret is put on the command line: a secret
    without an environment variable (``sslpassword``) is a :class:`ClientError`.
    """
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}
    except ProgrammingError as exc:
        raise ClientError("malformed DSN") from exc
    env = dict(os.environ if environ is None else environ)
    args = []
    for key, flag in CLIENT_OPTIONS:
        if key in params:
            value = params.pop(key)
            if key == "dbname" and is_conninfo(value):
                raise ClientError("the database name is a connection string")
            args.append(f"{flag}={value}")
    password = params.pop("password", None)
    env.update(_environment(params))
    with tempfile.TemporaryDirectory(prefix="pgwarden-") as private:
        if password is not None:
            env.pop("PGPASSWORD", None)
            if "\n" in password or "\r" in password:
                env["PGPASSWORD"] = password
            else:
                env["PGPASSFILE"] = str(_passfile(Path(private), password))
        yield Client(tuple(args), env)


def _environment(params: Mapping[str, str]) -> dict[str, str]:
    from psycopg import pq

    envvars = {
        option.keyword.decode(): option.envvar.decode()
        for option in pq.Conninfo.get_defaults()
        if option.envvar
    }
    env = {}
    for key, value in params.items():
        if key in envvars:
            env[envvars[key]] = value
        elif key in SECRET_KEYS:
            raise ClientError(
                f"{key} has no environment variable, so a client program cannot be "
                "given it without its command line"
            )
        else:  # socket tuning (keepalives, tcp_user_timeout): the defaults apply
            logger.debug("connection option %s not passed to the client", key)
    return env


def _passfile(directory: Path, password: str) -> Path:
    path = directory / "pgpass"
    escaped = password.replace("\\", "\\\\").replace(":", "\\:")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"*:*:*:*:{escaped}\n")
    return path
