"""``POST /api/ingest/measures``: business measures recorded by other systems.

The body is a JSON array of ``{"name", "value", "at"?, "responses"?}`` records (or
an object ``{"measures": [...]}``), at most ``dashboard.max_body_bytes``
(:mod:`pgwarden.web.limits`: 413 beyond) and :data:`~pgwarden.ops.review.measures.
MAX_ROWS` records (413). A body that is not such JSON is 422; each record is then
judged alone: the answer counts the accepted and rejected ones and gives each
rejected record's position (from 1) and reason. Admin token only (a ``POST``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from pgwarden.ops.review import measures
from pgwarden.slowlog import ensure_target

if TYPE_CHECKING:
    from pgwarden.web.context import Context

#: who recorded readings posted with the admin token
RECORDED_BY = "api"


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(prefix="/api/ingest", tags=["ingest"])

    @routes.post("/measures")
    async def post_measures(request: Request) -> dict[str, Any]:
        """Business measures (adoption, satisfaction, support tickets), each
        record accepted or rejected with its reason."""
        body = await request.body()
        return await run_in_threadpool(_store, ctx, body)

    return routes


def _reject(constant: str) -> None:
    raise ValueError(f"{constant} is not a number")


def records(body: bytes) -> list[Any]:
    """The records of a body; :class:`HTTPException` 422 when it is not a JSON
    array of records (or ``{"measures": [...]}``)."""
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_reject)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = "not UTF-8 JSON" if isinstance(exc, UnicodeDecodeError) else "not JSON"
        raise HTTPException(422, f"the body is {reason}") from None
    if isinstance(value, dict) and set(value) == {"measures"}:
        value = value["measures"]
    if not isinstance(value, list):
        raise HTTPException(
            422, 'the body is a JSON array of records (or {"measures": [...]})'
        )
    return value


def _store(ctx: Context, body: bytes) -> dict[str, Any]:
    found = records(body)
    try:
        parsed = measures.parse_records(found, ZoneInfo(ctx.settings.timezone))
    except measures.TooLarge as exc:
        raise HTTPException(413, str(exc)) from exc
    with ctx.repository() as conn:
        stored, rejected = measures.store_parsed(
            conn, parsed, lambda: ensure_target(conn, ctx.target_name), "api",
            RECORDED_BY,
        )  # fmt: skip
    return {
        "accepted": stored,
        "rejected": len(rejected),
        "reasons": [r.as_dict("record") for r in rejected],
    }
