"""Bounds on what a request may carry: its body, its strings, its numbers.

:class:`BodyLimit` refuses a body larger than ``dashboard.max_body_bytes`` with 413:
at once when ``Content-Length`` says so, else as soon as the streamed bytes pass the
limit, without reading the rest. The annotated types bound the fields of the request
models: a string too long, holding a NUL or a lone surrogate, a number that is not
finite or does not fit the column it is stored in, is 422 before any work is done.
"""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import AfterValidator, Field
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
#: a response that leaves a body unread ends the connection: the rest is never read
CLOSE = {"Connection": "close"}


def _storable(text: str) -> str:
    """Text PostgreSQL can store: no NUL character, no lone surrogate."""
    if "\x00" in text:
        raise ValueError("must not contain a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (it holds a lone surrogate)") from None
    return text


Storable = AfterValidator(_storable)
#: who acts, a rule, a label name, a reporting source
Name = Annotated[str, Field(min_length=1, max_length=100), Storable]
#: a label value
LabelValue = Annotated[str, Field(max_length=200), Storable]
#: a comment a person writes
Comment = Annotated[str, Field(min_length=1, max_length=2000), Storable]
#: a PostgreSQL integer column (pool sizes, connection counts)
Int32Count = Annotated[int, Field(ge=0, le=INT32_MAX)]
#: a PostgreSQL bigint column (counters)
Int64Count = Annotated[int, Field(ge=0, le=INT64_MAX)]
#: at most this many labels on a silence
MAX_LABELS = 20


class BodyTooLarge(HTTPException):
    """The request body is larger than the limit."""

    def __init__(self, limit: int) -> None:
        detail = f"the request body is larger than {limit} bytes"
        super().__init__(413, detail, headers=CLOSE)


class BodyLimit:
    """ASGI middleware: 413 for a body over ``max_bytes``, read no further."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        if declared == -1:
            await reply(send, 400, "Content-Length is not a number", CLOSE)
        elif declared is not None and declared > self.max_bytes:
            await reply(send, 413, BodyTooLarge(self.max_bytes).detail, CLOSE)
        else:
            await self._counted(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        taken = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal taken
            if taken > self.max_bytes:
                raise BodyTooLarge(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                taken += len(message.get("body", b""))
                if taken > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await reply(send, 413, exc.detail, CLOSE)


def declared_length(scope: Scope) -> int | None:
    """The ``Content-Length`` of a request; None without one, -1 when malformed."""
    value = Headers(scope=scope).get("content-length")
    if value is None:
        return None
    value = value.strip()
    if not (value.isascii() and value.isdigit()):
        return -1
    return int(value) if len(value) < 19 else INT64_MAX


async def reply(
    send: Send, status: int, detail: str, headers: dict[str, str] | None = None
) -> None:
    """A short JSON error sent straight to the ASGI server (no body is read)."""
    body = json.dumps({"detail": detail}).encode()
    fields = {"content-type": "application/json", "cache-control": "no-store",
              "content-length": str(len(body)), **(headers or {})}  # fmt: skip
    raw = [(k.lower().encode(), v.encode()) for k, v in fields.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
