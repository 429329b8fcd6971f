"""Launch dates and post-launch reviews in the repository (``pgwarden.launch``,
``pgwarden.launch_review``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from pgwarden import pg
from pgwarden.errors import ConfigurationError, PgwardenError
from pgwarden.ops.review.schedule import Key, ReviewPeriod

GROUP = "review"
FEATURE = "post-launch reviews (run pgwarden init)"


class ReviewNotFound(PgwardenError):
    """No such review."""


class NoLaunchDate(ConfigurationError):
    """No launch date is known for the target."""

    def __init__(self) -> None:
        super().__init__(
            "no launch date: run pgwarden review launch --date YYYY-MM-DD "
            "(or set reviews.launch_date)"
        )


@dataclass(frozen=True)
class Launch:
    day: date
    timezone: str
    #: ``command`` (pgwarden review launch) or ``setting`` (reviews.launch_date)
    source: str
    #: False: taken from the setting, not recorded in the repository yet
    recorded: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "launch_date": self.day.isoformat(),
            "timezone": self.timezone,
            "source": self.source,
            "recorded": self.recorded,
        }


def rows(
    conn: psycopg.Connection[Any], name: str, params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    return pg.named_rows(conn, GROUP, name, params, FEATURE)


def recorded(conn: psycopg.Connection[Any], target_id: int) -> Launch | None:
    found = rows(conn, "get_launch", {"target": target_id})
    if not found:
        return None
    row = found[0]
    return Launch(row["launch_date"], row["timezone"], row["source"], True)


def resolve(
    conn: psycopg.Connection[Any], target_id: int, setting: str | None, timezone: str
) -> Launch | None:
    """The recorded launch date; else the setting's (not recorded yet); else None."""
    found = recorded(conn, target_id)
    if found is not None or setting is None:
        return found
    try:
        day = date.fromisoformat(setting)
    except ValueError as exc:
        raise ConfigurationError(
            f"reviews.launch_date: {setting!r} is not a date (YYYY-MM-DD)"
        ) from exc
    return Launch(day, timezone, "setting", False)


def record(
    conn: psycopg.Connection[Any], target_id: int, launch: Launch, by: str
) -> Launch:
    params = {
        "target": target_id,
        "launch_date": launch.day,
        "timezone": launch.timezone,
        "source": launch.source,
        "by": by,
    }
    row = rows(conn, "set_launch", params)[0]
    return Launch(row["launch_date"], row["timezone"], row["source"], True)


def generated(
    conn: psycopg.Connection[Any], target_id: int
) -> dict[Key, tuple[int, datetime]]:
    """Stored reviews of the target: (kind, start, end) → (id, first generated)."""
    found = rows(conn, "generated", {"target": target_id})
    return {
        (r["kind"], r["period_start"], r["period_end"]): (r["id"], r["generated_at"])
        for r in found
    }


def save(
    conn: psycopg.Connection[Any],
    target_id: int,
    period: ReviewPeriod,
    report: Mapping[str, Any],
    markdown: str,
    trigger: str,
) -> dict[str, Any]:
    """Store a review; the same period again replaces it (first time kept)."""
    params = {
        "target": target_id,
        "kind": period.kind,
        "seq": period.seq,
        "start": period.start,
        "end": period.end,
        "due_at": period.due_at,
        "generated_at": datetime.fromisoformat(str(report["generated_at"])),
        "trigger": trigger,
        "summary": report["summary"]["line"],
        "metrics": Jsonb(dict(report)),
        "markdown": markdown,
    }
    return rows(conn, "save_review", params)[0]


def previous(
    conn: psycopg.Connection[Any], target_id: int, before: datetime
) -> dict[str, Any] | None:
    """The latest review whose period ended by ``before``."""
    found = rows(conn, "previous_review", {"target": target_id, "start": before})
    return dict(found[0]["metrics"]) if found else None


def list_reviews(conn: psycopg.Connection[Any], limit: int) -> list[dict[str, Any]]:
    return rows(conn, "list_reviews", {"limit": limit})


def get(conn: psycopg.Connection[Any], review_id: int) -> dict[str, Any]:
    found = rows(conn, "get_review", {"id": review_id})
    if not found:
        raise ReviewNotFound(f"no review {review_id}: see pgwarden review list")
    return found[0]
