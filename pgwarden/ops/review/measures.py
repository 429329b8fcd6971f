"""Business measures pgwarden cannot observe, recorded by people or systems: the
fixed vocabulary, the check of one reading, CSV files, and the store
(``pgwarden.business_measure``).

A reading is (target, name, recorded_at) → value: recording the same measure for
the same timestamp again replaces the value (and its responses, source, author).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.errors import ConfigurationError

GROUP = "measures"
FEATURE = "business measures (run pgwarden init)"
#: a CSV file is at most this large, and holds at most this many rows
MAX_CSV_BYTES = 1_000_000
MAX_ROWS = 10_000
#: counts are whole numbers up to this
MAX_COUNT = 10**12
MAX_RESPONSES = 2**31 - 1
#: a reading may be for a time at most this far ahead of now (clock skew)
AHEAD = timedelta(days=1)
OLDEST = datetime(2000, 1, 1, tzinfo=UTC)
SOURCES = ("cli", "csv", "api")


class MeasureError(ConfigurationError):
    """A reading that cannot be recorded (unknown measure, value out of range)."""


class TooLarge(MeasureError):
    """A file or request over the size or row limit."""


@dataclass(frozen=True)
class Measure:
    """One measure of the vocabulary."""

    name: str
    group: str  # adoption, satisfaction or support
    label: str
    unit: str
    low: float
    high: float
    whole: bool  # a count: whole numbers only
    scored: bool  # a score: may carry its number of responses
    #: how a period's readings make its figure: last, sum or mean
    per_period: str
    up_is_good: bool

    def how_to_record(self) -> str:
        value = "SCORE --responses N" if self.scored else "VALUE"
        return f"pgwarden review measure add {self.name} {value} --at TIMESTAMP"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.group,
            "label": self.label,
            "unit": self.unit,
            "range": [self.low, self.high],
            "per_period": self.per_period,
            "up_is_good": self.up_is_good,
        }


def _count(name: str, group: str, label: str, unit: str, per: str, up: bool) -> Measure:
    return Measure(name, group, label, unit, 0, MAX_COUNT, True, False, per, up)


def _score(name: str, label: str, unit: str, low: float, high: float) -> Measure:
    group = "satisfaction"
    return Measure(name, group, label, unit, low, high, False, True, "mean", True)


VOCABULARY: dict[str, Measure] = {
    m.name: m
    for m in (
        _count("active_users", "adoption", "active users", "users", "last", True),
        _count("active_tenants", "adoption", "active tenants", "tenants", "last", True),
        _score("csat", "CSAT", "score 1-5", 1, 5),
        _score("nps", "NPS", "score -100..100", -100, 100),
        _count("tickets_opened", "support", "tickets opened", "tickets", "sum", False),
        _count("tickets_closed", "support", "tickets closed", "tickets", "sum", True),
        _count("tickets_open", "support", "open tickets", "tickets", "last", False),
    )
}
GROUPS = ("adoption", "satisfaction", "support")


@dataclass(frozen=True)
class Reading:
    name: str
    value: float
    at: datetime
    responses: int | None = None
    target: str | None = None  # a target's name (CSV); None: the command's target

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "at": self.at.isoformat(),
            "responses": self.responses,
            "target": self.target,
        }


def measure(name: str) -> Measure:
    found = VOCABULARY.get(name) if isinstance(name, str) else None
    if found is None:
        raise MeasureError(
            f"unknown measure {_short(name)}: one of {', '.join(VOCABULARY)}"
        )
    return found


def _short(value: Any, width: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def number(value: Any, what: str) -> float:
    """A finite number from a JSON number or a text; else :class:`MeasureError`."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MeasureError(f"{what} is not a number")
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 40:
            raise MeasureError(f"{what} {_short(value)} is not a number")
        try:
            value = float(text)
        except ValueError:
            raise MeasureError(f"{what} {_short(value)} is not a number") from None
    try:
        found = float(value)
    except OverflowError:
        raise MeasureError(f"{what} is out of range") from None
    if not math.isfinite(found):
        raise MeasureError(f"{what} must be a finite number")
    return found


def timestamp(value: Any, tz: tzinfo = UTC, now: datetime | None = None) -> datetime:
    """An ISO 8601 time or date (a date is its midnight; no offset: ``tz``)."""
    if not isinstance(value, str) or not value.strip() or len(value) > 40:
        raise MeasureError(f"time {_short(value)} is not an ISO 8601 timestamp")
    text = value.strip()
    try:
        if len(text) == 10:
            found = datetime.combine(date.fromisoformat(text), time(), tz)
        else:
            found = datetime.fromisoformat(text)
    except ValueError:
        raise MeasureError(
            f"time {_short(value)} is not an ISO 8601 timestamp"
        ) from None
    if found.tzinfo is None:
        found = found.replace(tzinfo=tz)
    try:
        found = found.astimezone(UTC)
    except (OverflowError, ValueError):
        raise MeasureError(f"time {_short(value)} is out of range") from None
    latest = (now or datetime.now(UTC)) + AHEAD
    if not OLDEST <= found <= latest:
        raise MeasureError(
            f"time {found.isoformat()} is before 2000 or more than a day ahead"
        )
    return found


def check(
    name: Any,
    value: Any,
    at: datetime,
    responses: Any = None,
    target: str | None = None,
) -> Reading:
    """One reading checked against the vocabulary, or :class:`MeasureError`."""
    m = measure(name)
    found = number(value, "value")
    if not m.low <= found <= m.high:
        raise MeasureError(
            f"{m.name} must be between {m.low:g} and {m.high:g}, not {found:g}"
        )
    if m.whole and not found.is_integer():
        raise MeasureError(f"{m.name} is a count: a whole number, not {found:g}")
    return Reading(m.name, found, at, _responses(m, responses), target)


def _responses(m: Measure, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if not m.scored:
        raise MeasureError(f"responses apply to csat and nps, not {m.name}")
    found = number(value, "responses")
    if not found.is_integer() or not 1 <= found <= MAX_RESPONSES:
        raise MeasureError("responses must be a whole number of at least 1")
    return int(found)


# -- records from outside: CSV files and API bodies -----------------------------


@dataclass(frozen=True)
class Rejected:
    line: int  # the CSV line, or the API record's position (from 1)
    reason: str

    def as_dict(self, key: str = "line") -> dict[str, Any]:
        return {key: self.line, "reason": self.reason}


@dataclass(frozen=True)
class Parsed:
    readings: tuple[tuple[int, Reading], ...]
    rejected: tuple[Rejected, ...]


CSV_COLUMNS = ("name", "value", "at", "responses", "target")
CSV_REQUIRED = ("name", "value", "at")


def parse_csv(data: bytes, tz: tzinfo = UTC, now: datetime | None = None) -> Parsed:
    """Readings of a CSV file with the header ``name,value,at[,responses][,target]``.

    A bad row is rejected with its line number and reason, the others are kept;
    a file that is not UTF-8, has no usable header, or is over
    :data:`MAX_CSV_BYTES` or :data:`MAX_ROWS` is a :class:`MeasureError`.
    """
    if len(data) > MAX_CSV_BYTES:
        raise TooLarge(f"the file is over {MAX_CSV_BYTES} bytes: split it")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MeasureError("the file is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        columns = _header(next(reader, None))
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise MeasureError(f"line {reader.line_num}: not CSV ({exc})") from None
    if len(rows) > MAX_ROWS:
        raise TooLarge(f"the file has over {MAX_ROWS} rows: split it")
    good, bad = [], []
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        try:
            good.append((line, _row(columns, row, tz, now)))
        except MeasureError as exc:
            bad.append(Rejected(line, str(exc)))
    return Parsed(tuple(good), tuple(bad))


def _header(row: list[str] | None) -> dict[str, int]:
    names = [c.strip().lower() for c in row or []]
    unknown = [n for n in names if n not in CSV_COLUMNS]
    if unknown or len(set(names)) != len(names):
        raise MeasureError(
            f"line 1: the header must be name,value,at[,responses][,target], "
            f"not {_short(','.join(names), 60)}"
        )
    missing = [n for n in CSV_REQUIRED if n not in names]
    if missing:
        raise MeasureError(f"line 1: the header lacks {', '.join(missing)}")
    return {n: i for i, n in enumerate(names)}


def _row(
    columns: Mapping[str, int], row: Sequence[str], tz: tzinfo, now: datetime | None
) -> Reading:
    if len(row) != len(columns):
        raise MeasureError(f"{len(row)} fields where the header has {len(columns)}")
    if any("\x00" in c for c in row):
        raise MeasureError("the row holds a NUL character")
    cell = {n: row[i].strip() for n, i in columns.items()}
    target = cell.get("target") or None
    if target is not None and len(target) > 200:
        raise MeasureError("target name longer than 200 characters")
    at = timestamp(cell["at"], tz, now)
    return check(cell["name"], cell["value"], at, cell.get("responses"), target)


def parse_records(
    records: Sequence[Any], tz: tzinfo = UTC, now: datetime | None = None
) -> Parsed:
    """Readings of decoded JSON records ``{"name","value","at"?,"responses"?}``,
    each judged alone (position from 1); ``at`` defaults to now."""
    if len(records) > MAX_ROWS:
        raise TooLarge(f"at most {MAX_ROWS} records per request, not {len(records)}")
    when = now or datetime.now(UTC)
    good, bad = [], []
    for index, record in enumerate(records, start=1):
        try:
            good.append((index, _record(record, tz, when)))
        except MeasureError as exc:
            bad.append(Rejected(index, str(exc)))
    return Parsed(tuple(good), tuple(bad))


def _record(record: Any, tz: tzinfo, now: datetime) -> Reading:
    if not isinstance(record, dict):
        raise MeasureError("a record is an object with name and value")
    extra = sorted(set(record) - {"name", "value", "at", "responses"})
    if extra:
        raise MeasureError(f"unknown field {_short(extra[0])}")
    if "name" not in record or "value" not in record:
        raise MeasureError("a record needs name and value")
    at = now if record.get("at") is None else timestamp(record["at"], tz, now)
    return check(record["name"], record["value"], at, record.get("responses"))


# -- the store ------------------------------------------------------------------


def rows(
    conn: psycopg.Connection[Any], name: str, params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    return pg.named_rows(conn, GROUP, name, params, FEATURE)


def record(
    conn: psycopg.Connection[Any],
    target_id: int,
    readings: Iterable[Reading],
    source: str,
    by: str,
) -> int:
    """Store readings of one target (same measure and time: replaced); how many."""
    if source not in SOURCES:
        raise MeasureError(f"source {source!r} is not one of {', '.join(SOURCES)}")
    params = [
        {
            "target": target_id,
            "name": r.name,
            "at": r.at,
            "value": r.value,
            "responses": r.responses,
            "source": source,
            "by": by,
        }
        for r in readings
    ]
    if params:
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(pg.query(GROUP, "upsert_measure"), params)
    return len(params)


def store_parsed(
    conn: psycopg.Connection[Any],
    parsed: Parsed,
    default_target: Callable[[], int],
    source: str,
    by: str,
) -> tuple[int, list[Rejected]]:
    """Store each reading under its target (``default_target()`` when it names
    none); a reading of an unknown target is rejected. (stored, all rejected)."""
    rejected = list(parsed.rejected)
    ids = target_ids(conn, {r.target for _, r in parsed.readings if r.target})
    default: list[int] = []
    by_target: dict[int, list[Reading]] = {}
    for line, reading in parsed.readings:
        if reading.target is None:
            default = default or [default_target()]
            target_id = default[0]
        elif reading.target in ids:
            target_id = ids[reading.target]
        else:
            reason = (
                f"no target named {_short(reading.target)} (see pgwarden fleet list)"
            )
            rejected.append(Rejected(line, reason))
            continue
        by_target.setdefault(target_id, []).append(reading)
    stored = sum(
        record(conn, target_id, found, source, by)
        for target_id, found in by_target.items()
    )
    return stored, sorted(rejected, key=lambda r: r.line)


def target_ids(conn: psycopg.Connection[Any], names: Iterable[str]) -> dict[str, int]:
    """The ids of the registered targets among ``names``."""
    found = rows(conn, "target_ids", {"names": sorted(set(names))})
    return {r["name"]: int(r["id"]) for r in found}


def listed(
    conn: psycopg.Connection[Any],
    target_id: int,
    name: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The target's readings, newest first."""
    if name is not None:
        measure(name)
    return rows(conn, "list_measures", {"target": target_id, "name": name,
                                        "limit": limit})  # fmt: skip


def readings(
    conn: psycopg.Connection[Any], target_id: int, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """The target's readings with ``start <= recorded_at < end``, oldest first."""
    return rows(conn, "period_measures", {"target": target_id, "start": start,
                                          "end": end})  # fmt: skip
