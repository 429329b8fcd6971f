"""``dashboard.hide_query_text``: the viewer role sees no statement text.

An ASGI middleware rewrites the JSON answers of a viewer's requests: every string
under a key that holds statement text or a plan becomes ``HIDDEN``. Applied to
every answer, so no route can forget it; the admin's answers pass untouched.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pgwarden.web.auth import VIEWER

HIDDEN = "(statement text hidden for the viewer role)"
#: keys whose string values are statement text, SQL with values, or plans
TEXT_KEYS = frozenset({"query", "query_text", "statement", "text", "sql", "plan",
                       "example", "sample_query", "current_query"})  # fmt: skip


def hide(value: Any) -> Any:
    """``value`` with every statement text replaced (a new object)."""
    if isinstance(value, dict):
        return {
            key: HIDDEN if key in TEXT_KEYS and isinstance(item, str) else hide(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [hide(item) for item in value]
    return value


class HideQueryText:
    """Rewrite the viewer's JSON answers through :func:`hide`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        role = scope.get("state", {}).get("role")
        if scope["type"] != "http" or role != VIEWER:
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def collect(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            await _send_hidden(send, start, b"".join(chunks))

        await self.app(scope, receive, collect)


async def _send_hidden(send: Send, start: Message, body: bytes) -> None:
    headers = MutableHeaders(raw=list(start["headers"]))
    if headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.dumps(hide(json.loads(body)), separators=(",", ":")).encode()
        except ValueError:
            pass  # not JSON after all: sent as it is
        headers["content-length"] = str(len(body))
    await send({**start, "headers": headers.raw})
    await send({"type": "http.response.body", "body": body})
