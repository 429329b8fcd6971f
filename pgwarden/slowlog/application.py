"""Slow queries reported by applications (``POST /api/ingest/slow-queries``).

A record is ``{"ts", "query", "duration_ms", "caller", "database", "user",
"application_name"}``; ``ts`` is when the query finished (ISO 8601 or epoch seconds).
The query text is normalised like any other.

Each record is judged alone: a bad one is rejected with its reason and the others of
the batch are stored. A record is bad when it is not a JSON object (or not JSON, or
nested deeper than :data:`MAX_NESTING`), lacks a query, holds a string PostgreSQL
cannot store (a NUL, a lone surrogate), has a duration that is not a finite number
between 0 and :data:`MAX_DURATION_MS`, or a ``ts`` outside [now - retention, now +
:data:`CLOCK_SKEW`]: no report can reach an expired partition or create one for a
day to come. :func:`read_lines` refuses more than :data:`MAX_RECORDS` records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from pgwarden.slowlog import store
from pgwarden.slowlog.model import Seen, SlowQuery, classify
from pgwarden.slowlog.severity import DEFAULT_THRESHOLDS, Thresholds

MAX_QUERY_CHARS = 16_384
#: optional strings are kept to this many characters
MAX_TEXT_CHARS = 200
#: records in one request
MAX_RECORDS = 10_000
#: arrays and objects inside one another in one record
MAX_NESTING = 8
#: a duration longer than this is not a slow query but a wrong number
MAX_DURATION_MS = 30 * 24 * 3600 * 1000.0
#: how far ahead of pgwarden's clock a reporter's clock may be
CLOCK_SKEW = timedelta(minutes=5)
#: a reason is cut to this many characters (it never repeats a whole value)
MAX_REASON_CHARS = 200
_OPTIONAL_TEXT = ("caller", "database", "user", "application_name")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BadRecord(ValueError):
    """A reported record that cannot be stored."""


class TooManyRecords(ValueError):
    """More records in one request than :data:`MAX_RECORDS`."""


@dataclass(frozen=True)
class Rejected:
    index: int
    reason: str


@dataclass(frozen=True)
class ReportIngest:
    accepted: int
    rejected: int
    reasons: tuple[Rejected, ...] = ()


def read_lines(body: bytes, max_records: int = MAX_RECORDS) -> list[tuple[int, Any]]:
    """``(line number, value)`` of each non-empty line of a JSON-lines body.

    The value is the decoded JSON, or a :class:`BadRecord` saying why the line is
    not a record; raises :class:`TooManyRecords` beyond ``max_records``.
    """
    found = [
        (number, line)
        for number, line in enumerate(body.split(b"\n"), start=1)
        if line.strip()
    ]
    if len(found) > max_records:
        raise TooManyRecords(
            f"at most {max_records} records per request, not {len(found)}: "
            "send smaller batches"
        )
    return [(number, _decode(line)) for number, line in found]


def _decode(line: bytes) -> Any:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return BadRecord("not UTF-8 text")
    try:
        value = json.loads(text)
    except RecursionError:
        return BadRecord(f"not JSON: nested deeper than {MAX_NESTING} levels")
    except ValueError as exc:  # JSONDecodeError, or a number of 4,300+ digits
        return BadRecord(f"not JSON: {_short(getattr(exc, 'msg', str(exc)), 80)}")
    if _deeper_than(value, MAX_NESTING):
        return BadRecord(f"nested deeper than {MAX_NESTING} levels")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            item = list(item.values())
        elif not isinstance(item, list):
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in item)
    return False


def parse_report(record: Any) -> Seen:
    """Validate one record's shape and values; raise :class:`BadRecord` with the
    reason. (Its time is judged against the clock by :func:`check_time`.)"""
    if isinstance(record, BadRecord):
        raise record
    if not isinstance(record, Mapping):
        raise BadRecord("not a JSON object")
    query = record.get("query")
    if not isinstance(query, str) or not query.strip():
        raise BadRecord("query: a non-empty string is required")
    texts = {key: _text(record, key) for key in _OPTIONAL_TEXT}
    return Seen(
        ts=_timestamp(record.get("ts")),
        duration_ms=_duration(record.get("duration_ms")),
        query=_storable("query", query[:MAX_QUERY_CHARS]),
        source="application",
        database=texts["database"],
        username=texts["user"],
        application_name=texts["application_name"],
        reported_caller=texts["caller"],
    )


def check_time(
    ts: datetime, now: datetime, retention_days: int = store.RETENTION_DAYS
) -> None:
    """Raise :class:`BadRecord` unless ``ts`` lies in [now - retention, now + skew]."""
    if ts > now + CLOCK_SKEW:
        raise BadRecord(
            f"ts: in the future (more than {CLOCK_SKEW.seconds // 60} minutes "
            "ahead of pgwarden's clock)"
        )
    if ts < _oldest(now, retention_days):
        raise BadRecord(
            f"ts: older than the slow query log's retention ({retention_days} days)"
        )


def _oldest(now: datetime, days: int) -> datetime:
    try:
        return max(now - timedelta(days=days), _EPOCH)
    except OverflowError:
        return _EPOCH


def _storable(key: str, value: str) -> str:
    if "\x00" in value:
        raise BadRecord(f"{key}: must not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRecord(f"{key}: not valid Unicode (a lone surrogate)") from None
    return value


def _text(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRecord(f"{key}: must be a string")
    return _storable(key, value[:MAX_TEXT_CHARS]) or None


def _duration(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRecord("duration_ms: a number is required")
    if not 0 <= value <= MAX_DURATION_MS:  # False for NaN too
        raise BadRecord(
            f"duration_ms: must be a finite number from 0 to {MAX_DURATION_MS:.0f}"
        )
    return float(value)


def _timestamp(value: Any) -> datetime:
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                return moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise BadRecord(f"ts: not a timestamp ({_short(str(exc), 60)})") from exc
    raise BadRecord("ts: an ISO 8601 string or epoch seconds is required")


def _short(text: str, limit: int = MAX_REASON_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def screen(
    records: Iterable[Any],
    now: datetime,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    retention_days: int = store.RETENTION_DAYS,
) -> tuple[list[SlowQuery], list[Rejected]]:
    """The records fit to store, and the others with their index and reason."""
    accepted: list[SlowQuery] = []
    rejected: list[Rejected] = []
    for index, record in enumerate(records):
        try:
            accepted.append(_accept(record, now, thresholds, retention_days))
        except BadRecord as exc:
            rejected.append(Rejected(index, _short(str(exc))))
    return accepted, rejected


def _accept(
    record: Any, now: datetime, thresholds: Thresholds, retention_days: int
) -> SlowQuery:
    seen = parse_report(record)
    check_time(seen.ts, now, retention_days)
    try:
        found = classify(seen, thresholds)
    except Exception as exc:  # a text the normaliser cannot take costs only itself
        raise BadRecord(f"query: cannot be normalised ({type(exc).__name__})") from exc
    if found is None:
        raise BadRecord("duration_ms: below the slow threshold")
    return found


def ingest_application_reports(
    repo_conn: psycopg.Connection[Any],
    target_id: int,
    records: Iterable[Any],
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    retention_days: int = store.RETENTION_DAYS,
    now: datetime | None = None,
) -> ReportIngest:
    """Validate and store reported slow queries; counts and rejection reasons."""
    moment = now or datetime.now(UTC)
    accepted, rejected = screen(records, moment, thresholds=thresholds,
                                retention_days=retention_days)  # fmt: skip
    store.record(repo_conn, target_id, accepted, thresholds=thresholds,
                 retention_days=retention_days, now=moment)  # fmt: skip
    return ReportIngest(len(accepted), len(rejected), tuple(rejected))
