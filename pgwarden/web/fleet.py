"""One dashboard for many targets: the target of a request is its ``target=NAME``.

The app of the default target answers every request without a ``target``
parameter, as a single-target dashboard does. A request for another target is
handed to that target's own app (the same routers over a context of that target),
built the first time it is asked for and kept; all of them share the default
app's repository pool. An unknown name is answered 404 in one line.

:class:`TargetDispatch` runs inside the default app's :class:`~pgwarden.web.auth.
TokenGate` and :class:`~pgwarden.web.limits.BodyLimit`: the token is checked and
the body bounded before a target is even looked up. Only ``/api/*`` and
``/metrics`` are dispatched; the pages and their scripts hold no data and are the
same for every target.

The targets are the repository's (``pgwarden.target``): a registered one (with a
stored DSN) is connected to with the password from its environment variable or
libpq's password file; one only seen by a command is shown from history only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import psycopg
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from pgwarden import pg
from pgwarden.dsn import filter_logs
from pgwarden.errors import PgwardenError
from pgwarden.fleet import Registered, connect_dsn, registered
from pgwarden.web.context import Context
from pgwarden.web.limits import reply

logger = logging.getLogger(__name__)

GROUP = "web_fleet"
FEATURE = "the target registry (run pgwarden init)"
#: the query parameter naming the target
PARAM = "target"
#: a target added to the registry shows within this many seconds
MEMBERS_TTL_S = 15.0
#: longer names are no target's
MAX_NAME = 200
UNKNOWN = "no such target on this dashboard: choose one of GET /api/admin/fleet/targets"
DISPATCHED = ("/api/",)


@dataclass(frozen=True)
class Member:
    """A target of the fleet: its row, its registration (None when it was only seen
    by a command) and its last collection."""

    id: int | None
    name: str
    address: str | None = None
    registration: Registered | None = None
    last_collected_at: datetime | None = None

    @property
    def group(self) -> str | None:
        return None if self.registration is None else self.registration.group

    def connect_dsn(self) -> str | None:
        """How to reach it (None: history only): the registry's DSN with the
        password of its variable, else left to libpq."""
        if self.registration is None:
            return None
        try:
            return connect_dsn(self.registration)
        except PgwardenError as exc:
            logger.warning("target %s: shown from history only: %s", self.name, exc)
            return None


def members(conn: psycopg.Connection[Any]) -> list[Member]:
    """Every target of the repository, by name, with its registration."""
    rows = pg.named_rows(conn, GROUP, "members", {}, FEATURE)
    with pg.guarded(FEATURE):
        enrolled = {r.id: r for r in registered(conn)}
    return [
        Member(int(r["id"]), str(r["name"]), r["address"],
               enrolled.get(int(r["id"])), r["last_collected_at"])
        for r in rows
    ]  # fmt: skip


class MemberContext(Context):
    """The context of a target of the fleet: its own caches, the shared pool."""

    def __init__(self, shared: Context, name: str, dsn: str | None) -> None:
        super().__init__(shared.settings, shared.repo_dsn, name, dsn)
        self.app_cache_ratio = None
        self._shared = shared

    @contextmanager
    def repository(self) -> Iterator[psycopg.Connection[Any]]:
        with self._shared.repository() as conn:
            yield conn

    def close(self) -> None:
        """The pool is the default context's: closed with it."""


class Fleet:
    """The targets one dashboard serves and their apps.

    Without ``registry`` the fleet is the default target alone (a dashboard
    started for one target); with it, every target of the repository.
    ``build`` makes the app of a context (set by the app module).
    """

    def __init__(self, ctx: Context, *, registry: bool) -> None:
        self.ctx = ctx
        self.default = ctx.target_name
        self.registry = registry
        self.build: Callable[[Context], ASGIApp] | None = None
        self._lock = threading.Lock()
        self._contexts: dict[str, Context] = {}
        self._apps: dict[str, ASGIApp] = {}
        self._secrets: list[str] = []

    def members(self) -> list[Member]:
        """The targets served, the default first when it is not registered."""
        found: list[Member] = self.ctx.reused(
            "fleet.members", self._read_members, MEMBERS_TTL_S
        )
        if not self.registry:
            found = [m for m in found if m.name == self.default]
        if not any(m.name == self.default for m in found):
            found = [Member(None, self.default), *found]
        return found

    def _read_members(self) -> list[Member]:
        try:
            with self.ctx.repository() as conn:
                return members(conn)
        except PgwardenError:
            if self.registry:
                raise
            return []  # the default target alone, before pgwarden init

    def member(self, name: str) -> Member | None:
        if len(name) > MAX_NAME:
            return None
        return next((m for m in self.members() if m.name == name), None)

    def context(self, name: str) -> Context | None:
        """The context of target ``name`` (None when the fleet has no such target)."""
        if name == self.default:
            return self.ctx
        found = self.member(name)
        if found is None:
            return None
        with self._lock:
            ctx = self._contexts.get(name)
            if ctx is None:
                ctx = MemberContext(self.ctx, name, found.connect_dsn())
                self._contexts[name] = ctx
                if found.registration and found.registration.password_env:
                    self._scrub(ctx.target_dsn)
            return ctx

    def _scrub(self, dsn: str | None) -> None:
        """Keep the password a target's DSN got from its variable out of the logs
        (with the dashboard's own DSNs, whose filter this replaces)."""
        if dsn is None:
            return
        self._secrets.append(dsn)
        own = [d for d in (self.ctx.repo_dsn, self.ctx.target_dsn) if d]
        filter_logs(*own, *self._secrets)

    def contexts(self) -> list[Context]:
        """The context of every target served, in the order of :meth:`members`."""
        found = (self.context(m.name) for m in self.members())
        return [c for c in found if c is not None]

    def app(self, name: str) -> ASGIApp | None:
        """The app serving target ``name``, built the first time; None once the
        target left the repository."""
        ctx = self.context(name)
        if ctx is None or self.build is None:
            return None
        with self._lock:
            known = self._apps.get(name)
        if known is not None:
            return known
        built = self.build(ctx)
        with self._lock:
            return self._apps.setdefault(name, built)

    def close(self) -> None:
        with self._lock:
            contexts = list(self._contexts.values())
            self._contexts.clear()
            self._apps.clear()
        for ctx in contexts:
            ctx.close()


def target_of(query_string: bytes) -> str | None:
    """The ``target`` parameter of a query string (the last one given); None when
    absent or empty. Never raises: undecodable bytes are replaced."""
    text = query_string.decode("latin-1")
    found = None
    for name, value in parse_qsl(text, keep_blank_values=True, errors="replace"):
        if name == PARAM:
            found = value
    return found or None


def dispatched(path: str) -> bool:
    return path.startswith(DISPATCHED) or path == "/metrics"


class TargetDispatch:
    """ASGI middleware: a request with ``target=NAME`` goes to that target's app."""

    def __init__(self, app: ASGIApp, fleet: Fleet) -> None:
        self.app = app
        self.fleet = fleet

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = target_of(scope.get("query_string", b""))
        if (
            scope["type"] != "http"
            or name is None
            or name == self.fleet.default
            or not dispatched(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        found = await run_in_threadpool(self.fleet.app, name)
        if found is None:
            await reply(send, 404, UNKNOWN)
            return
        await found(scope, receive, send)
