"""Server log records (jsonlog, csvlog) and the slow statements they report.

``log_min_duration_statement`` writes ``duration: 123.456 ms  statement: …`` (simple
protocol) or ``duration: … ms  execute <name>: …`` (extended protocol; the bound
parameters are in the ``detail`` field, read only by
:mod:`pgwarden.slowlog.param_values`, never stored as such). auto_explain writes
``duration: … ms  plan:`` followed by the query text and the plan.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pgwarden.slowlog.model import Seen
from pgwarden.slowlog.plan import split_plan

LogFormat = Literal["jsonlog", "csvlog"]
_DURATION_RE = re.compile(
    r"^duration: (?P<ms>\d+(?:\.\d+)?) ms {1,2}"
    r"(?P<kind>statement|execute [^:]*|plan):[ \n]?(?P<body>.*)$",
    re.DOTALL,
)
_TS_RE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)\s*(\S*)$")
_OFFSET_RE = re.compile(r"^([+-])(\d\d):?(\d\d)?$")
#: csvlog columns (PostgreSQL 14+; 13 lacks the last two).
_CSV_COLUMNS = (
    "timestamp", "user", "dbname", "pid", "remote", "session_id", "line_num", "ps",
    "session_start", "vxid", "txid", "error_severity", "state_code", "message",
    "detail", "hint", "internal_query", "internal_position", "context", "statement",
    "cursor_position", "func_name", "application_name", "backend_type", "leader_pid",
    "query_id",
)  # fmt: skip


@dataclass(frozen=True)
class LogEntry:
    """The fields of a server log record that matter here."""

    ts: datetime
    message: str
    pid: int | None = None
    database: str | None = None
    user: str | None = None
    application_name: str | None = None
    query_id: int | None = None
    detail: str | None = None  # bound parameters of an execute


@dataclass(frozen=True)
class Duration:
    """A ``duration: … ms`` message: a statement, an execute or a plan."""

    kind: Literal["statement", "execute", "plan"]
    duration_ms: float
    query: str
    plan: str | None = None


def parse_timestamp(text: str) -> datetime:
    """``2024-05-01 12:00:00.123 UTC`` (or ``+02``, ``CEST``) as an aware datetime."""
    match = _TS_RE.match(text.strip())
    if match is None:
        raise ValueError(f"not a log timestamp: {text!r}")
    naive = datetime.fromisoformat(match.group(1))
    return naive.replace(tzinfo=_zone(match.group(2)))


def _zone(name: str) -> tzinfo:
    offset = _OFFSET_RE.match(name)
    if offset:
        sign = -1 if offset.group(1) == "-" else 1
        minutes = int(offset.group(2)) * 60 + int(offset.group(3) or 0)
        return timezone(sign * timedelta(minutes=minutes))
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def parse_json_line(line: str) -> LogEntry | None:
    """One jsonlog line; None for blank or malformed lines."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return _entry(data) if isinstance(data, dict) else None


def parse_csv_record(record: str) -> LogEntry | None:
    """One csvlog record (may span several lines); None when malformed."""
    try:
        fields = next(csv.reader([record]))
    except (csv.Error, StopIteration):
        return None
    return _entry(dict(zip(_CSV_COLUMNS, fields, strict=False)))


def _entry(data: dict[str, Any]) -> LogEntry | None:
    try:
        ts = parse_timestamp(str(data["timestamp"]))
    except (KeyError, ValueError):
        return None
    return LogEntry(
        ts=ts,
        message=str(data.get("message") or ""),
        pid=_int(data.get("pid")),
        database=data.get("dbname") or None,
        user=data.get("user") or None,
        application_name=data.get("application_name") or None,
        query_id=_int(data.get("query_id")),
        detail=data.get("detail") or None,
    )


def _int(value: Any) -> int | None:
    try:
        return int(value) or None
    except (TypeError, ValueError):
        return None


def parse_duration(message: str) -> Duration | None:
    """The slow statement a log message reports, or None."""
    match = _DURATION_RE.match(message)
    if match is None:
        return None
    ms, body = float(match.group("ms")), match.group("body")
    kind = match.group("kind")
    if kind == "plan":
        query, plan = split_plan(body)
        return Duration("plan", ms, query or "", plan)
    return Duration("statement" if kind == "statement" else "execute", ms, body)


def slow_statements(entries: Iterable[LogEntry]) -> Iterator[Seen]:
    """Slow statements in log order; an auto_explain plan joins its statement.

    auto_explain logs a plan just before ``log_min_duration_statement`` logs the
    statement of the same backend; a plan whose statement does not follow is reported
    on its own.
    """
    pending: dict[int | None, Seen] = {}
    for entry in entries:
        found = parse_duration(entry.message)
        if found is None:
            continue
        seen = _seen(entry, found)
        held = pending.pop(entry.pid, None)
        if found.kind == "plan":
            if held is not None:
                yield held
            pending[entry.pid] = seen
        elif held is not None and _same(held, seen):
            yield replace(seen, plan=held.plan)
        else:
            if held is not None:
                yield held
            yield seen
    yield from pending.values()


def _seen(entry: LogEntry, found: Duration) -> Seen:
    return Seen(
        ts=entry.ts,
        duration_ms=found.duration_ms,
        query=found.query,
        source="server_log",
        database=entry.database,
        username=entry.user,
        application_name=entry.application_name,
        queryid=entry.query_id,
        plan=found.plan,
        pid=entry.pid,
    )


def _same(plan: Seen, statement: Seen) -> bool:
    if plan.queryid and statement.queryid:
        return plan.queryid == statement.queryid
    return plan.query.strip().rstrip(";") in statement.query
