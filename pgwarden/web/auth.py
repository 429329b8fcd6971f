"""Tokens and roles: ``Authorization: Bearer TOKEN`` only, compared in constant time.

Two roles. The admin token may do everything. The viewer token
(``dashboard.viewer_token``, optional) may read — ``GET`` and ``HEAD`` outside the
ingest routes — and is refused with 403 anything else: acknowledge, silence,
cancel or terminate a backend, EXPLAIN, run a job, ingest.

:class:`TokenGate` decides on the request headers alone, before the app reads a
byte of the body: a request without a token is answered 401, a viewer's write 403,
whatever it carries. Every path needs a token except the public ones (the
dashboard's pages and static files, which hold no data, the OpenAPI pages, and
``/metrics`` when anonymous scraping is allowed). The role is left in
``request.state.role``.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request, status
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from pgwarden.web.limits import CLOSE, declared_length, reply
from pgwarden.web.pages import is_page

#: query parameters that look like credentials; refused rather than ignored
QUERY_CREDENTIALS = ("token", "access_token", "admin_token", "api_key")
IN_URL = "send the token in the Authorization header, not the URL"
REQUIRED = "a valid admin or viewer token is required (Authorization: Bearer)"
ADMIN_ONLY = "this needs the admin token; the viewer token may only read"
CHALLENGE = {"WWW-Authenticate": "Bearer", "Cache-Control": "no-store"}
ADMIN, VIEWER = "admin", "viewer"
#: what the viewer token may do
READ_METHODS = frozenset({"GET", "HEAD"})
#: paths the viewer may not read either
ADMIN_PREFIXES = ("/api/ingest/",)
#: paths served without a token (besides the dashboard's pages)
PUBLIC_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc",
                          "/openapi.json"})  # fmt: skip
PUBLIC_PREFIXES = ("/static/",)


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers=CHALLENGE,
    )


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header, else None."""
    if not header:
        return None
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def token_matches(given: str | None, expected: str) -> bool:
    if given is None:
        return False
    # surrogatepass: whatever the header decoded to is compared, never an error
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"),
        expected.encode("utf-8", "surrogatepass"),
    )


def may_read(method: str, path: str) -> bool:
    """Whether the viewer role may make this request."""
    return method.upper() in READ_METHODS and not path.startswith(ADMIN_PREFIXES)


class Roles:
    """Which role a request's token has, and whether that role may make it."""

    def __init__(self, token: str, viewer_token: str | None = None) -> None:
        if not token:
            raise ValueError("an admin token is required")
        if viewer_token is not None and (
            not viewer_token or token_matches(viewer_token, token)
        ):
            raise ValueError("the viewer token must be set and differ from the admin's")
        self._token = token
        self._viewer = viewer_token

    def role(self, authorization: str | None) -> str | None:
        given = bearer(authorization)
        if token_matches(given, self._token):
            return ADMIN
        if self._viewer is not None and token_matches(given, self._viewer):
            return VIEWER
        return None

    def decide(
        self, query_string: bytes, authorization: str | None, method: str, path: str
    ) -> tuple[int, str, str | None]:
        """(200, "", role), (401, why, None) or (403, why, "viewer")."""
        names = {name for name, _ in parse_qsl(query_string.decode("latin-1"), True)}
        if names.intersection(QUERY_CREDENTIALS):
            return 401, IN_URL, None
        role = self.role(authorization)
        if role is None:
            return 401, REQUIRED, None
        if role == VIEWER and not may_read(method, path):
            return 403, ADMIN_ONLY, role
        return 200, "", role


class TokenGuard:
    """A FastAPI dependency: a token, and the admin token for anything but a read.

    :class:`TokenGate` already refused such a request; the routers keep this
    guard too, so that a router is closed wherever it is mounted.
    """

    def __init__(self, token: str, viewer_token: str | None = None) -> None:
        self._roles = Roles(token, viewer_token)

    def __call__(self, request: Request) -> None:
        code, why, role = self._roles.decide(
            request.scope["query_string"], request.headers.get("authorization"),
            request.method, request.url.path,
        )  # fmt: skip
        if code == 401:
            raise unauthorized(why)
        if code == 403:
            raise HTTPException(status.HTTP_403_FORBIDDEN, why)
        request.state.role = role


def role_of(request: Request) -> str:
    """The role :class:`TokenGate` or :class:`TokenGuard` found (admin when public)."""
    return str(getattr(request.state, "role", None) or ADMIN)


class TokenGate:
    """ASGI middleware: 401 without a token, 403 for a viewer's write, on headers alone.

    Nothing downstream runs, so the body is never read; a request that announced
    a body is answered with ``Connection: close`` and the rest of it is never read.
    """

    def __init__(
        self,
        app: ASGIApp,
        token: str,
        *,
        viewer_token: str | None = None,
        also_public: Collection[str] = (),
    ) -> None:
        self.app = app
        self._roles = Roles(token, viewer_token)
        self._public = PUBLIC_PATHS | frozenset(also_public)

    def is_public(self, path: str) -> bool:
        return path in self._public or path.startswith(PUBLIC_PREFIXES) or is_page(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        code, why, role = self._roles.decide(
            scope["query_string"], headers.get("authorization"), scope["method"],
            scope["path"],
        )  # fmt: skip
        if code == 200:
            scope.setdefault("state", {})["role"] = role
            await self.app(scope, receive, send)
            return
        extra = CHALLENGE if code == 401 else {"Cache-Control": "no-store"}
        await reply(send, code, why, {**extra, **_closing(scope, headers)})


def _closing(scope: Scope, headers: Headers) -> dict[str, str]:
    """``Connection: close`` when the request announced a body we will not read."""
    if declared_length(scope) not in (None, 0) or "transfer-encoding" in headers:
        return CLOSE
    return {}
