"""Rehearsal reports kept in ``pgwarden.rehearsal``; a linked change request gets a
``rehearsal`` entry in the decision log."""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from pgwarden import pg
from pgwarden.errors import MissingCapability, PgwardenError
from pgwarden.ops.ccb import board
from pgwarden.slowlog.store import ensure_target

GROUP = "rehearse"
FEATURE = "release rehearsals (run pgwarden init)"


class RehearsalNotFound(PgwardenError):
    """No such rehearsal."""


def _rows(
    conn: psycopg.Connection[Any], name: str, params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    return pg.named_rows(conn, GROUP, name, params, FEATURE)


def _linked_request(
    conn: psycopg.Connection[Any], report: Mapping[str, Any]
) -> int | None:
    wanted = report["plan"].get("change_request")
    if wanted is None:
        return None
    found = _rows(conn, "change_request", {"id": wanted})
    return int(wanted) if found else None


def save(conn: psycopg.Connection[Any], report: Mapping[str, Any]) -> int:
    """Store the report; log it on the linked change request. The new id."""
    found = _rows(conn, "has_repository", {})
    if not found or not found[0]["rehearsal"]:
        raise MissingCapability(
            "the repository has no pgwarden.rehearsal table: run pgwarden init"
        )
    with conn.transaction():
        target_id = ensure_target(conn, str(report["target"]))
        request_id = _linked_request(conn, report)
        times = report["durations"]
        row = _rows(conn, "insert_rehearsal", {
            "target_id": target_id, "title": report["title"],
            "change_request_id": request_id, "verdict": report["verdict"],
            "started_at": datetime.fromisoformat(report["started_at"]),
            "finished_at": datetime.fromisoformat(report["finished_at"]),
            "window_minutes": times["window_minutes"],
            "release_s": times["release_s"], "rollback_s": times["rollback_s"],
            "report": Jsonb(dict(report)),
        })[0]  # fmt: skip
        rehearsal_id = int(row["id"])
        if request_id is not None:
            board.append(conn, request_id, "rehearsal", getpass.getuser(), {
                "rehearsal": rehearsal_id, "verdict": report["verdict"],
                "release_s": times["release_s"], "reason": report["reason"],
            })  # fmt: skip
    return rehearsal_id


def list_rehearsals(
    conn: psycopg.Connection[Any], limit: int = 50
) -> list[dict[str, Any]]:
    return _rows(conn, "list_rehearsals", {"limit": limit})


def get(conn: psycopg.Connection[Any], rehearsal_id: int) -> dict[str, Any]:
    found = _rows(conn, "get_rehearsal", {"id": rehearsal_id})
    if not found:
        raise RehearsalNotFound(f"no rehearsal {rehearsal_id}")
    report = dict(found[0]["report"])
    report["id"] = rehearsal_id
    return report
