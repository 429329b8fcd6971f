"""The admin token: ``Authorization: Bearer TOKEN`` only, compared in constant time.

:class:`TokenGate` checks it on the request headers alone, before the app reads a
byte of the body: an unauthenticated request is answered 401 whatever it carries.
Every path needs the token except the public ones (the dashboard page, its static
files, the OpenAPI pages, and ``/metrics`` when anonymous scraping is allowed).
"""

from __future__ import annotations

import hmac
from collections.abc import Collection
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request, status
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from pgwarden.web.limits import CLOSE, declared_length, reply

#: query parameters that look like credentials; refused rather than ignored
QUERY_CREDENTIALS = ("token", "access_token", "admin_token", "api_key")
IN_URL = "send the token in the Authorization header, not the URL"
REQUIRED = "a valid admin token is required (Authorization: Bearer)"
CHALLENGE = {"WWW-Authenticate": "Bearer", "Cache-Control": "no-store"}
#: paths served without the token
PUBLIC_PATHS = frozenset({"/", "/docs", "/docs/oauth2-redirect", "/redoc",
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
    return hmac.compare_digest(given.encode(), expected.encode())


class TokenGuard:
    """A FastAPI dependency requiring the admin token.

    :class:`TokenGate` already refused a request without it; the routers keep this
    guard too, so that a router is closed wherever it is mounted.
    """

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("an admin token is required")
        self._token = token

    def __call__(self, request: Request) -> None:
        given = request.headers.get("authorization")
        why = refusal(self._token, request.scope["query_string"], given)
        if why is not None:
            raise unauthorized(why)


def refusal(token: str, query_string: bytes, authorization: str | None) -> str | None:
    """Why a request may not pass (None: it carries the token, and only where due)."""
    names = {name for name, _ in parse_qsl(query_string.decode("latin-1"), True)}
    if names.intersection(QUERY_CREDENTIALS):
        return IN_URL
    if not token_matches(bearer(authorization), token):
        return REQUIRED
    return None


class TokenGate:
    """ASGI middleware: 401 for a request without the token, on its headers alone.

    Nothing downstream runs, so the body is never read; a request that announced
    a body is answered with ``Connection: close`` and the rest of it is never read.
    """

    def __init__(
        self, app: ASGIApp, token: str, *, also_public: Collection[str] = ()
    ) -> None:
        if not token:
            raise ValueError("an admin token is required")
        self.app = app
        self._token = token
        self._public = PUBLIC_PATHS | frozenset(also_public)

    def is_public(self, path: str) -> bool:
        return path in self._public or path.startswith(PUBLIC_PREFIXES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        why = refusal(self._token, scope["query_string"], headers.get("authorization"))
        if why is None:
            await self.app(scope, receive, send)
            return
        await reply(send, 401, why, {**CHALLENGE, **_closing(scope, headers)})


def _closing(scope: Scope, headers: Headers) -> dict[str, str]:
    """``Connection: close`` when the request announced a body we will not read."""
    if declared_length(scope) not in (None, 0) or "transfer-encoding" in headers:
        return CLOSE
    return {}
