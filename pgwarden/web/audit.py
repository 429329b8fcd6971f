"""The audit log: what an admin did to a target from the dashboard or the API.

Every action that touches the target or starts work (cancel or terminate a
backend, EXPLAIN, a job) is recorded, refused or failed ones too, with the role,
the name the person gave and what was acted on. Nothing secret is recorded.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from pgwarden import pg


def record(
    conn: psycopg.Connection[Any],
    target_id: int | None,
    *,
    role: str,
    action: str,
    outcome: str,
    actor: str | None = None,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Append one entry; returns its ``id`` and ``at``."""
    rows = pg.named_rows(
        conn, "audit", "record",
        {"target_id": target_id, "role": role, "actor": actor, "action": action,
         "subject": subject, "outcome": outcome, "detail": Jsonb(detail or {})},
    )  # fmt: skip
    return rows[0]


def recent(
    conn: psycopg.Connection[Any], target_id: int | None, limit: int = 100
) -> list[dict[str, Any]]:
    """The newest entries first, as JSON-ready dicts."""
    rows = pg.named_rows(
        conn, "audit", "recent", {"target_id": target_id, "limit": limit}
    )
    return [{**row, "at": row["at"].isoformat()} for row in rows]
