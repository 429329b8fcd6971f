"""Slow queries reported by applications (``POST /api/ingest/slow-queries``).

A record is ``{"ts", "query", "duration_ms", "caller", "database", "user",
"application_name"}``; ``ts`` is when the query finished (ISO 8601 or epoch seconds).
Bad records are rejected with a reason; the query text is normalised like any other.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from pgwarden.slowlog import store
from pgwarden.slowlog.model import Seen, classify
from pgwarden.slowlog.severity import DEFAULT_THRESHOLDS, Thresholds

MAX_QUERY_CHARS = 16_384
_OPTIONAL_TEXT = ("caller", "database", "user", "application_name")


class BadRecord(ValueError):
    """A reported record that cannot be stored."""


@dataclass(frozen=True)
class Rejected:
    index: int
    reason: str


@dataclass(frozen=True)
class ReportIngest:
    accepted: int
    rejected: int
    reasons: tuple[Rejected, ...] = ()


def parse_report(record: Any) -> Seen:
    """Validate one record; raise :class:`BadRecord` with the reason."""
    if not isinstance(record, Mapping):
        raise BadRecord("not a JSON object")
    query = record.get("query")
    if not isinstance(query, str) or not query.strip():
        raise BadRecord("query: a non-empty string is required")
    texts = {key: _text(record, key) for key in _OPTIONAL_TEXT}
    return Seen(
        ts=_timestamp(record.get("ts")),
        duration_ms=_duration(record.get("duration_ms")),
        query=query[:MAX_QUERY_CHARS],
        source="application",
        database=texts["database"],
        username=texts["user"],
        application_name=texts["application_name"],
        reported_caller=texts["caller"],
    )


def _text(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRecord(f"{key}: must be a string")
    return value[:200] or None


def _duration(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRecord("duration_ms: a number is required")
    if not math.isfinite(value) or value < 0:
        raise BadRecord("duration_ms: must be a finite number >= 0")
    return float(value)


def _timestamp(value: Any) -> datetime:
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise BadRecord(f"ts: not a timestamp ({exc})") from exc
    raise BadRecord("ts: an ISO 8601 string or epoch seconds is required")


def ingest_application_reports(
    repo_conn: psycopg.Connection[Any],
    target_id: int,
    records: Iterable[Any],
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    retention_days: int = store.RETENTION_DAYS,
) -> ReportIngest:
    """Validate and store reported slow queries; counts and rejection reasons."""
    accepted, rejected = [], []
    for index, record in enumerate(records):
        try:
            found = classify(parse_report(record), thresholds)
        except BadRecord as exc:
            rejected.append(Rejected(index, str(exc)))
            continue
        if found is None:
            rejected.append(Rejected(index, "duration_ms: below the slow threshold"))
        else:
            accepted.append(found)
    store.record(repo_conn, target_id, accepted, thresholds=thresholds,
                 retention_days=retention_days)  # fmt: skip
    return ReportIngest(len(accepted), len(rejected), tuple(rejected))
