"""Connection strings of registered targets: stored without a password.

A DSN given with a password has it removed before it is stored; the password then
comes, at connection time, from the environment variable the target names
(``password_env``) or from libpq itself (``PGPASSFILE`` / ``~/.pgpass``, a service
file). Total over any text: a string libpq cannot parse is a one-line
:class:`ConfigurationError` that never quotes the secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgwarden import dsn as dsns
from pgwarden.errors import ConfigurationError

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
#: longest DSN accepted for the registry
MAX_DSN = 4096
WHERE_FROM = (
    "give it through --password-env VAR (an environment variable of the worker), "
    "PGPASSFILE or ~/.pgpass, or a service file (PGSERVICEFILE)"
)


@dataclass(frozen=True)
class Stripped:
    """A DSN without secrets, and whether the one given held any."""

    dsn: str
    had_password: bool


def strip(text: str) -> Stripped:
    """``text`` as a keyword DSN without its password (URI or keyword form given)."""
    if len(text) > MAX_DSN:
        raise ConfigurationError(f"DSN longer than {MAX_DSN} characters")
    try:
        params = {k: str(v) for k, v in conninfo_to_dict(text).items() if v is not None}
    except (psycopg.ProgrammingError, ValueError, TypeError) as exc:
        reason = dsns.scrub(str(exc).strip().splitlines()[0] if str(exc).strip()
                            else type(exc).__name__, text)  # fmt: skip
        raise ConfigurationError(f"malformed DSN: {dsns.mask(reason)}") from None
    removed = [params.pop(key, "") for key in sorted(dsns.SECRET_KEYS)]
    had = any(removed)
    had = had or bool(dsns.masked(text).secrets)
    try:
        stripped = make_conninfo("", **params)
    except (psycopg.ProgrammingError, ValueError) as exc:
        raise ConfigurationError("malformed DSN") from exc
    if dsns.masked(stripped).secrets:  # a secret under a key libpq does not name
        raise ConfigurationError("the DSN holds a secret pgwarden cannot remove")
    return Stripped(stripped, had)


def check_env_name(name: str | None) -> str | None:
    """``name`` when it can be an environment variable's name (None stays None)."""
    if name is None:
        return None
    if not ENV_NAME_RE.match(name):
        raise ConfigurationError(
            "--password-env: not an environment variable name (letters, digits, _)"
        )
    return name


def with_password(
    dsn: str,
    password_env: str | None,
    *,
    environ: Mapping[str, str] | None = None,
    what: str = "target",
) -> str:
    """``dsn`` with the password from ``password_env`` (unset: left to libpq)."""
    if not password_env:
        return dsn
    env = os.environ if environ is None else environ
    password = env.get(password_env)
    if password is None:
        raise ConfigurationError(
            f"{what}: environment variable {password_env} (its password) is not set"
        )
    return make_conninfo(dsn, password=password)


def with_database(dsn: str, dbname: str) -> str:
    """``dsn`` reaching database ``dbname`` of the same server."""
    return make_conninfo(dsn, dbname=dbname)
