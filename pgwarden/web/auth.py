"""The admin token: ``Authorization: Bearer TOKEN`` only, compared in constant time."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, status

#: query parameters that look like credentials; refused rather than ignored
QUERY_CREDENTIALS = ("token", "access_token", "admin_token", "api_key")


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer", "Cache-Control": "no-store"},
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
    """A FastAPI dependency requiring the admin token."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("an admin token is required")
        self._token = token

    def __call__(self, request: Request) -> None:
        if any(name in request.query_params for name in QUERY_CREDENTIALS):
            raise unauthorized(
                "send the token in the Authorization header, not the URL"
            )
        given = bearer(request.headers.get("authorization"))
        if not token_matches(given, self._token):
            raise unauthorized(
                "a valid admin token is required (Authorization: Bearer)"
            )
