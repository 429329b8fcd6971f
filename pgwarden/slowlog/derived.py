"""Slow queries derived from pg_stat_statements, for servers whose log is out of reach.

A hosted database (Neon, RDS, Cloud SQL) gives a ``pg_monitor`` role no server log,
but the collector stores each statement's delta per interval. From one interval's
delta of a top-level statement of the target's database:

- ``calls == 1``: the execution's exact duration (execution plus planning time when
  ``pg_stat_statements.track_planning`` is on): one record, ``exactness = 'exact'``;
- ``calls > 1``: the interval's mean; when it reaches ``slow_queries.warning_ms``,
  one record ``exactness = 'mean'`` standing for ``executions = calls`` executions
  (an estimate: a mean over the threshold says at least one call and at most every
  call was slow; counting every call keeps a uniformly slow statement visible);
- on PostgreSQL 17+, with ``slow_queries.statements_minmax_reset``, the interval's
  slowest call (``max_exec_time`` since the previous cycle's min/max-only reset):
  one record ``exactness = 'max'``, an execution known to be that slow; the other
  calls' mean is then derived from the rest of the interval's time.

Executions another source already recorded as ending in the interval (server log,
activity sampling, application reports; same ``queryid`` or fingerprint, same
database) are taken out first: their count and time are subtracted, so an execution
is never counted twice. A derived record's ``ts`` is the end of the interval (the
cycle), its ``started_at`` the start of the interval: the earliest it can have run.
pgwarden's own statements and nested statements are never derived.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from pgwarden import pg
from pgwarden.config import SlowQuerySettings
from pgwarden.skipped import Skipped
from pgwarden.slowlog import partitions
from pgwarden.slowlog.severity import DEFAULT_THRESHOLDS, Severity, Thresholds
from pgwarden.sqltext import is_own, normalise, resolve_caller

logger = logging.getLogger(__name__)

Exactness = Literal["exact", "mean", "max"]
Conn = psycopg.Connection[Any]
_GROUP = "slowlog_derived"
_FEATURE = "slow queries from pg_stat_statements (run pgwarden init)"
#: statements considered per interval (the slowest are not chosen: all that reach it)
MAX_STATEMENTS = 10_000
#: sources whose durations are exact (activity sampling sees a lower bound)
EXACT_SOURCES = frozenset({"server_log", "application"})
#: an execution another source saw is the interval's max when within this of it
MAX_MATCH_MS = 1.0


@dataclass(frozen=True)
class StatementDelta:
    """One top-level statement's interval: its counters and text."""

    queryid: int
    calls: int
    total_ms: float
    query: str | None
    database: str | None = None
    username: str | None = None
    #: the slowest call of the interval (PostgreSQL 17+ with the min/max reset)
    max_ms: float | None = None


@dataclass(frozen=True)
class Sighting:
    """An execution another source recorded as ending in the interval."""

    queryid: int | None
    fingerprint: str
    database: str | None
    duration_ms: float
    source: str

    @property
    def exact(self) -> bool:
        return self.source in EXACT_SOURCES


@dataclass(frozen=True)
class DerivedQuery:
    """A slow-query record derived from statistics, never a logged execution."""

    ts: datetime
    started_at: datetime
    duration_ms: float
    exactness: Exactness
    executions: int
    query: str
    fingerprint: str
    severity: Severity
    queryid: int
    database: str | None = None
    username: str | None = None
    caller: str | None = None


@dataclass(frozen=True)
class Derivation:
    """What one cycle derived."""

    stored: int = 0
    executions: int = 0
    #: statements left out (no text, a text the normaliser refused, bad counters)
    skipped: int = 0
    skip_reason: str | None = None
    #: why the interval's maxima were not read (PostgreSQL 17+ reset opted in)
    maxima_off: str | None = None

    def summary(self) -> str | None:
        parts = []
        if self.stored:
            parts.append(
                f"slow queries: {self.stored} derived from pg_stat_statements "
                f"({self.executions} executions)"
            )
        skipped = Skipped(self.skipped, self.skip_reason).summary("statement")
        if skipped:
            parts.append(f"derived slow queries {skipped}")
        if self.maxima_off:
            parts.append(f"interval maxima off: {self.maxima_off}")
        return "; ".join(parts) or None


def derive(
    deltas: Iterable[StatementDelta],
    sightings: Iterable[Sighting],
    interval: tuple[datetime, datetime],
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    skipped: Skipped | None = None,
) -> list[DerivedQuery]:
    """The slow-query records of one interval ``(start, end]`` (pure).

    A statement whose text is missing, pgwarden's own, or refused by the
    normaliser, or whose counters are not finite, costs only itself (counted in
    ``skipped`` when it is not pgwarden's own).
    """
    skipped = skipped if skipped is not None else Skipped()
    seen = list(sightings)
    found: list[DerivedQuery] = []
    for item in deltas:
        try:
            found += _derive_one(item, seen, interval, thresholds, skipped)
        except Exception as exc:  # a hostile text must not cost the others
            skipped.add(f"statement text not normalised ({type(exc).__name__})")
    return found


def _derive_one(
    item: StatementDelta,
    seen: list[Sighting],
    interval: tuple[datetime, datetime],
    thresholds: Thresholds,
    skipped: Skipped,
) -> list[DerivedQuery]:
    if item.query is None:
        skipped.add("no statement text")
        return []
    if is_own(item.query):
        return []
    if item.calls < 1 or not _finite(item.total_ms, item.max_ms):
        skipped.add("counters out of range")
        return []
    norm = normalise(item.query)
    others = _same_statement(item, norm.fingerprint, seen)[: item.calls]
    count, total = (
        item.calls - len(others),
        item.total_ms - sum(s.duration_ms for s in others),
    )
    exact = all(s.exact for s in others)
    records: list[tuple[float, Exactness, int]] = []
    top = item.max_ms
    if top is not None and count >= 1 and top <= item.total_ms + MAX_MATCH_MS:
        if not any(abs(s.duration_ms - top) <= MAX_MATCH_MS for s in others):
            if item.calls > 1 and thresholds.classify(top) is not None:
                records.append((top, "max", 1))
                count, total = count - 1, total - top
    if count >= 1:
        mean = max(total, 0.0) / count
        kind: Exactness = "exact" if count == 1 and exact else "mean"
        records.append((mean, kind, count))
    caller = resolve_caller(norm.comments)
    found = []
    for ms, kind, n in records:
        severity = thresholds.classify(ms)
        if severity is not None:
            found.append(
                DerivedQuery(
                    ts=interval[1],
                    started_at=interval[0],
                    duration_ms=ms,
                    exactness=kind,
                    executions=n,
                    query=norm.text,
                    fingerprint=norm.fingerprint,
                    severity=severity,
                    queryid=item.queryid,
                    database=item.database,
                    username=item.username,
                    caller=caller,
                )
            )
    return found


def _finite(*values: float | None) -> bool:
    return all(v is None or (math.isfinite(v) and v >= 0) for v in values)


def _same_statement(
    item: StatementDelta, fingerprint: str, seen: list[Sighting]
) -> list[Sighting]:
    """The executions of ``item`` other sources saw, slowest first."""
    same = [
        s
        for s in seen
        if (s.queryid == item.queryid or s.fingerprint == fingerprint)
        and (s.database is None or item.database is None or s.database == item.database)
    ]
    return sorted(same, key=lambda s: s.duration_ms, reverse=True)


class DerivedCapture:
    """The derived source's share of each collection cycle."""

    def __init__(self, settings: SlowQuerySettings) -> None:
        self.settings = settings
        self.thresholds = Thresholds.from_settings(settings)

    def active(self, reads_log: bool) -> bool:
        """Whether to derive: enabled, and no server log gives the executions."""
        return self.settings.statements_source and not reads_log

    def after_cycle(
        self,
        repo_conn: Conn,
        target_conn: Conn | None,
        target_id: int,
        interval: tuple[datetime | None, datetime],
    ) -> Derivation:
        """Derive and store the interval ending at ``interval[1]`` (a first,
        baseline cycle has no interval: nothing is derived)."""
        start, end = interval
        maxima: dict[tuple[int, int], float] = {}
        off = None
        if self.settings.statements_minmax_reset and target_conn is not None:
            maxima, off = read_maxima(target_conn, start or end)
        if start is None:
            return Derivation(maxima_off=off)
        skipped = Skipped()
        with pg.guarded(_FEATURE):
            deltas = read_deltas(repo_conn, target_id, end, self.thresholds, maxima)
            seen = read_sightings(repo_conn, target_id, (start, end))
            found = derive(deltas, seen, (start, end), self.thresholds, skipped)
            store(repo_conn, target_id, end, found)
        return Derivation(
            len(found), sum(q.executions for q in found),
            skipped.count, skipped.reason, off,
        )  # fmt: skip


def read_deltas(
    conn: Conn,
    target_id: int,
    ts: datetime,
    thresholds: Thresholds,
    maxima: Mapping[tuple[int, int], float] | None = None,
) -> list[StatementDelta]:
    """The interval's statements that could reach the warning threshold."""
    params = {"target_id": target_id, "ts": ts, "limit": MAX_STATEMENTS,
              "min_ms": thresholds.warning_ms}  # fmt: skip
    maxima = maxima or {}
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(pg.query(_GROUP, "interval_statements"), params)
        rows = cur.fetchall()
    return [
        StatementDelta(
            queryid=int(row["queryid"]),
            calls=int(row["calls"] or 0),
            total_ms=float(row["total_exec_ms"] or 0)
            + float(row["total_plan_ms"] or 0),
            query=row["query"],
            database=row["datname"],
            username=row["rolname"],
            max_ms=maxima.get((int(row["userid"]), int(row["queryid"]))),
        )
        for row in rows
    ]


def read_sightings(
    conn: Conn, target_id: int, interval: tuple[datetime, datetime]
) -> list[Sighting]:
    params = {"target_id": target_id, "prev_ts": interval[0], "ts": interval[1]}
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(pg.query(_GROUP, "sightings"), params)
        return [Sighting(**row) for row in cur.fetchall()]


def store(conn: Conn, target_id: int, ts: datetime, found: list[DerivedQuery]) -> None:
    """Replace the cycle's derived records (a cycle derived twice counts once)."""
    with conn.transaction():
        keys = {"target_id": target_id, "ts": ts}
        conn.execute(pg.query(_GROUP, "forget"), keys)
        if not found:
            return
        partitions.ensure_days(conn, {partitions.utc_day(ts)})
        with conn.cursor() as cur:
            cur.executemany(
                pg.query(_GROUP, "insert"),
                [{**asdict(q), "target_id": target_id} for q in found],
            )


def read_maxima(
    conn: Conn, since: datetime
) -> tuple[dict[tuple[int, int], float], str | None]:
    """Each statement's slowest call since the last min/max reset (when that reset
    is after ``since``, the interval's start), then reset min/max for the next
    interval; ``({}, why)`` when the server or the role cannot."""
    why = minmax_unavailable(conn)
    if why is not None:
        return {}, why
    schema = _schema(conn)
    assert schema is not None
    try:
        with pg.guarded("pg_stat_statements min/max reset"), conn.transaction():
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute(_pgss("maxima", schema))
                rows = cur.fetchall()
            conn.execute(_pgss("reset_minmax", schema))
    except Exception as exc:  # never fatal to the cycle
        return {}, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    found: dict[tuple[int, int], float] = {}
    for row in rows:
        at, top = row["minmax_stats_since"], row["max_exec_ms"]
        if isinstance(at, datetime) and at >= since and isinstance(top, float):
            found[(int(row["userid"]), int(row["queryid"]))] = top
    return found, None


def minmax_unavailable(conn: Conn) -> str | None:
    """Why the min/max-only reset cannot run on this server for this role."""
    if pg.server_version_num(conn) < 170000:
        return "needs PostgreSQL 17 or newer"
    schema = _schema(conn)
    if schema is None:
        return "pg_stat_statements is not installed"
    version = _extversion(conn)
    if version < (1, 11):
        return (
            "needs pg_stat_statements 1.11 (ALTER EXTENSION pg_stat_statements UPDATE)"
        )
    function = f"{sql.Identifier(schema).as_string(None)}.{RESET_SIGNATURE}"
    with conn.transaction():
        row = pg.fetch_one(conn, pg.query(_GROUP, "may_reset_minmax"), [function])
    if not (row and row["allowed"]):
        return f"the role may not call {function}: GRANT EXECUTE ON FUNCTION {function}"
    return None


RESET_SIGNATURE = "pg_stat_statements_reset(oid, oid, bigint, boolean)"


def _schema(conn: Conn) -> str | None:
    row = _extension(conn)
    return None if row is None else str(row["schema"])


def _extversion(conn: Conn) -> tuple[int, ...]:
    row = _extension(conn)
    text = "" if row is None else str(row["extversion"])
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return ()


def _extension(conn: Conn) -> dict[str, Any] | None:
    with conn.transaction():
        return pg.fetch_one(conn, pg.query("collect", "statements_extension"))


def _pgss(name: str, schema: str) -> sql.Composed:
    return sql.SQL(pg.query(_GROUP, name)).format(pgss=sql.Identifier(schema))
