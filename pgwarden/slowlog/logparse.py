"""Server log records (jsonlog, csvlog) and the slow statements they report.

``log_min_duration_statement`` writes ``duration: 123.456 ms  statement: …`` (simple
protocol) or ``duration: … ms  execute <name>: …`` (extended protocol; the bound
parameters are in the ``detail`` field, read only by
:mod:`pgwarden.slowlog.param_values`, never stored as such). auto_explain writes
``duration: … ms  plan:`` followed by the query text and the plan.

Any database user can write a log line (``RAISE LOG``), so every parser here is
total: a record it cannot read raises :class:`BadLogRecord`, whose message is the
reason and never the record's text, and nothing else. Values are bounded: a
duration above :data:`MAX_DURATION_MS`, a timestamp before :data:`EARLIEST` or
more than :data:`FUTURE_SLACK` ahead, a pid or query id out of range make the
record unreadable; names are cut to :data:`MAX_NAME_CHARS`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pgwarden.skipped import Skipped
from pgwarden.slowlog.model import Seen
from pgwarden.slowlog.plan import split_plan

LogFormat = Literal["jsonlog", "csvlog"]
#: the longest statement believed: a longer one is a forged or broken record
MAX_DURATION_MS = 30 * 24 * 3600 * 1000.0
#: records older than this are not from a server pgwarden can monitor
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
#: how far ahead of pgwarden's clock a server's clock may run
FUTURE_SLACK = timedelta(days=1)
#: database, user and application names are cut to this many characters
MAX_NAME_CHARS = 200
_PID_LIMIT = 2**31
_INT8_LIMIT = 2**63
_DURATION_RE = re.compile(
    r"^duration: (?P<ms>\d+(?:\.\d+)?) ms {1,2}"
    r"(?P<kind>statement|execute [^:]*|plan):[ \n]?(?P<body>.*)$",
    re.DOTALL,
)
_TS_RE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?)\s*(\S{0,64})$")
_OFFSET_RE = re.compile(r"^([+-])(\d\d):?(\d\d)?$")
_INT_RE = re.compile(r"^-?[0-9]{1,20}$")
_SQLSTATE_RE = re.compile(r"^[0-9A-Z]{5}\Z")
#: csvlog columns (PostgreSQL 14+; 13 lacks the last two).
_CSV_COLUMNS = (
    "timestamp", "user", "dbname", "pid", "remote", "session_id", "line_num", "ps",
    "session_start", "vxid", "txid", "error_severity", "state_code", "message",
    "detail", "hint", "internal_query", "internal_position", "context", "statement",
    "cursor_position", "func_name", "application_name", "backend_type", "leader_pid",
    "query_id",
)  # fmt: skip
_CSV_MIN_FIELDS = _CSV_COLUMNS.index("message") + 1
#: csv's own limit (128 KiB a field) would refuse long statements; records are
#: bounded by the reader (:data:`pgwarden.slowlog.serverlog.MAX_RECORD_BYTES`)
_CSV_FIELD_LIMIT = 64 * 1024 * 1024


class BadLogRecord(ValueError):
    """A server log record that cannot be read; the message says why, never what."""


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
    #: ``ERROR``, ``FATAL``, ``LOG``… as written (cut to 16 characters)
    severity: str | None = None
    #: the five-character SQLSTATE, or None when absent or malformed
    sqlstate: str | None = None


@dataclass(frozen=True)
class Duration:
    """A ``duration: … ms`` message: a statement, an execute or a plan."""

    kind: Literal["statement", "execute", "plan"]
    duration_ms: float
    query: str
    plan: str | None = None


def parse_timestamp(text: str) -> datetime:
    """``2024-05-01 12:00:00.123 UTC`` (or ``+02``, ``CEST``) as an aware datetime.

    Raises :class:`BadLogRecord` for anything else, a time zone PostgreSQL would
    not write included; an unknown zone name is read as UTC.
    """
    match = _TS_RE.match(text.strip()) if len(text) < 128 else None
    if match is None:
        raise BadLogRecord("timestamp: not a log timestamp")
    try:
        moment = datetime.fromisoformat(match.group(1))
        moment = moment.replace(tzinfo=_zone(match.group(2)))
        moment.astimezone(UTC)  # representable in UTC too
    except (ValueError, OverflowError) as exc:
        raise BadLogRecord("timestamp: not a valid time") from exc
    return moment


def _zone(name: str) -> tzinfo:
    offset = _OFFSET_RE.match(name)
    if offset:
        sign = -1 if offset.group(1) == "-" else 1
        minutes = int(offset.group(2)) * 60 + int(offset.group(3) or 0)
        return timezone(sign * timedelta(minutes=minutes))  # ValueError past 24 h
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return UTC


def check_time(ts: datetime, now: datetime | None = None) -> datetime:
    """``ts``, or :class:`BadLogRecord` when it is before 2000 or in the future."""
    latest = (now or datetime.now(UTC)) + FUTURE_SLACK
    if not EARLIEST <= ts <= latest:
        raise BadLogRecord("timestamp: out of range")
    return ts


def parse_json_line(line: str, now: datetime | None = None) -> LogEntry | None:
    """One jsonlog line; None for a blank line, :class:`BadLogRecord` if malformed."""
    if not line.strip():
        return None
    try:
        data = json.loads(line)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurd nesting
        raise BadLogRecord("not a JSON record") from exc
    if not isinstance(data, dict):
        raise BadLogRecord("not a JSON object")
    return _entry(data, now)


def parse_csv_record(record: str, now: datetime | None = None) -> LogEntry | None:
    """One csvlog record (may span several lines); None for a blank record,
    :class:`BadLogRecord` if malformed."""
    if not record.strip():
        return None
    return _entry(dict(zip(_CSV_COLUMNS, csv_fields(record), strict=False)), now)


def csv_fields(record: str) -> list[str]:
    """The fields of one csvlog record as PostgreSQL writes it (strictly quoted,
    starting with its timestamp); :class:`BadLogRecord` for anything else."""
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    try:
        rows = list(csv.reader(io.StringIO(record, newline=""), strict=True))
    except csv.Error as exc:
        raise BadLogRecord("not a csvlog record") from exc
    if len(rows) != 1 or len(rows[0]) < _CSV_MIN_FIELDS:
        raise BadLogRecord("not a csvlog record")
    if _TS_RE.match(rows[0][0]) is None:
        raise BadLogRecord("not a csvlog record")
    return rows[0]


def _entry(data: Mapping[str, Any], now: datetime | None) -> LogEntry:
    stamp = data.get("timestamp")
    if not isinstance(stamp, str):
        raise BadLogRecord("timestamp: missing")
    message = data.get("message")
    if message is not None and not isinstance(message, str):
        raise BadLogRecord("message: not a string")
    return LogEntry(
        ts=check_time(parse_timestamp(stamp), now),
        message=clean(message or ""),
        pid=_int(data.get("pid"), "pid", _PID_LIMIT),
        database=_name(data.get("dbname")),
        user=_name(data.get("user")),
        application_name=_name(data.get("application_name")),
        query_id=_int(data.get("query_id"), "query_id", _INT8_LIMIT),
        detail=clean(data["detail"]) if isinstance(data.get("detail"), str) else None,
        severity=_severity(data.get("error_severity")),
        sqlstate=_sqlstate(data.get("state_code")),
    )


def _severity(value: Any) -> str | None:
    return clean(value[:16]) if isinstance(value, str) and value else None


def _sqlstate(value: Any) -> str | None:
    """A SQLSTATE as PostgreSQL writes it (five of 0-9 A-Z), else None."""
    if isinstance(value, str) and _SQLSTATE_RE.match(value):
        return value
    return None


def clean(text: str) -> str:
    """``text`` as PostgreSQL can store it: no NUL, no lone surrogate."""
    text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def _name(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return clean(value[:MAX_NAME_CHARS]) or None


def _int(value: Any, field: str, limit: int) -> int | None:
    """An integer field (a JSON number, or csvlog's text); 0 and empty are None."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and _INT_RE.match(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadLogRecord(f"{field}: not an integer")
    if not -limit <= value < limit:
        raise BadLogRecord(f"{field}: out of range")
    return value or None


def duration_ms(message: str) -> float | None:
    """The duration a ``duration: … ms`` message reports (None for another message);
    :class:`BadLogRecord` when it is not believable."""
    match = _DURATION_RE.match(message)
    return None if match is None else _checked_ms(match)


def _checked_ms(match: re.Match[str]) -> float:
    ms = float(match.group("ms"))
    if not (math.isfinite(ms) and ms <= MAX_DURATION_MS):
        raise BadLogRecord("duration: out of range")
    return ms


def parse_duration(message: str) -> Duration | None:
    """The slow statement a log message reports; None when it reports none,
    :class:`BadLogRecord` when its duration is not believable."""
    match = _DURATION_RE.match(message)
    if match is None:
        return None
    ms, body = _checked_ms(match), match.group("body")
    kind = match.group("kind")
    if kind == "plan":
        query, plan = split_plan(body)
        return Duration("plan", ms, query or "", plan)
    return Duration("statement" if kind == "statement" else "execute", ms, body)


def slow_statements(
    entries: Iterable[LogEntry], skipped: Skipped | None = None
) -> Iterator[Seen]:
    """Slow statements in log order; an auto_explain plan joins its statement.

    auto_explain logs a plan just before ``log_min_duration_statement`` logs the
    statement of the same backend; a plan whose statement does not follow is reported
    on its own. An entry whose duration is not believable is left out (and counted
    in ``skipped``).
    """
    pending: dict[int | None, Seen] = {}
    for entry in entries:
        try:
            found = parse_duration(entry.message)
        except BadLogRecord as exc:
            if skipped is not None:
                skipped.add(str(exc))
            continue
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
