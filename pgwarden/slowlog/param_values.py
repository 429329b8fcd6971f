"""Parameter values: which categorical value a statement compared a column with.

Where pgwarden sees a statement before normalising it (the server log's statement
text and the ``parameters: $1 = '…'`` detail of an extended-protocol execute,
auto_explain's ``Query Parameters``, pg_stat_activity texts with literals), each
``col = const``, ``col IN (consts)`` and ``col = $n`` with a known parameter value
gives a (relation, column, value). It is kept **only** when the target's
``pg_stats`` shows the column as low-cardinality (``0 < n_distinct <=
MAX_DISTINCT``, at least ``MIN_ROWS_PER_VALUE`` rows per value) and the value is
one of its ``most_common_vals`` (at most ``MAX_VALUE_CHARS`` long): nothing is
stored that the catalog does not already show to a reader of ``pg_stats``, and a
compared email, name or id (a column of many distinct values) never is. Calls are
counted per (statement fingerprint, column, value, UTC day) in
``pgwarden.parameter_value`` and dropped after the slow log's retention.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from pglast import ast, parse_sql
from pglast.parser import ParseError
from psycopg.rows import dict_row

from pgwarden import pg
from pgwarden.errors import MissingCapability
from pgwarden.slowlog.logparse import LogEntry, parse_duration
from pgwarden.sqltext import normalise, walk

logger = logging.getLogger(__name__)

GROUP = "param_values"
MAX_DISTINCT = 50
MIN_ROWS_PER_VALUE = 10
MAX_VALUE_CHARS = 64
MAX_RELATIONS = 200
MAX_EXECUTIONS = 10_000
_PARAMS_RE = re.compile(
    r"(?:^|\n)\s*(?:Query )?parameters: (?P<list>.*)", re.IGNORECASE
)
_PARAM_RE = re.compile(r"\$(?P<n>\d+) = (?:NULL|'(?P<v>(?:[^']|'')*)')")


@dataclass(frozen=True)
class ColumnFacts:
    """What pg_stats shows of one column: distinct values and most common ones."""

    n_distinct: float
    mcv: frozenset[str]


@dataclass(frozen=True)
class Relation:
    schema: str
    name: str
    rows: float
    columns: Mapping[str, ColumnFacts | None]

    def keeps(self, column: str, value: str) -> bool:
        """``value`` may be stored: a most common value of a categorical column."""
        facts = self.columns.get(column)
        if facts is None or not 0 < facts.n_distinct <= MAX_DISTINCT:
            return False
        if self.rows < MIN_ROWS_PER_VALUE * facts.n_distinct:
            return False
        return len(value) <= MAX_VALUE_CHARS and value in facts.mcv


@dataclass(frozen=True)
class Observation:
    """One statement compared a column of a relation with a (kept) value."""

    ts: datetime
    fingerprint: str
    queryid: int | None
    schema: str
    relname: str
    attname: str
    value: str


class StatsCache:
    """pg_stats of the relations one ingest pass meets (at most ``limit``)."""

    def __init__(self, conn: psycopg.Connection[Any], limit: int = MAX_RELATIONS):
        self.conn, self.limit = conn, limit
        self._found: dict[tuple[str | None, str], Relation | None] = {}

    def relation(self, name: str, schema: str | None = None) -> Relation | None:
        key = (schema, name)
        if key not in self._found:
            if len(self._found) >= self.limit:
                return None
            self._found[key] = self._read(name, schema)
        return self._found[key]

    def _read(self, name: str, schema: str | None) -> Relation | None:
        params = {"relname": name, "schema": schema}
        query = pg.query(GROUP, "column_stats")
        with pg.guarded("parameter values"):
            with self.conn.cursor(row_factory=dict_row) as cur:
                rows = cur.execute(query, params).fetchall()
        if not rows:
            return None
        columns = {r["column"]: _facts(r) for r in rows}
        first = rows[0]
        return Relation(first["schema"], first["relname"], first["reltuples"], columns)


def _facts(row: Mapping[str, Any]) -> ColumnFacts | None:
    if row["n_distinct"] is None or row["mcv"] is None:
        return None
    return ColumnFacts(float(row["n_distinct"]), frozenset(row["mcv"]))


def parameters(text: str) -> dict[int, str]:
    """``$n -> value`` of a ``parameters: $1 = '…', $2 = NULL`` line (no NULLs)."""
    match = _PARAMS_RE.search(text or "")
    if match is None:
        return {}
    return {
        int(m.group("n")): m.group("v").replace("''", "'")
        for m in _PARAM_RE.finditer(match.group("list"))
        if m.group("v") is not None
    }


def relations(text: str) -> list[tuple[str | None, str]]:
    """(schema, name) of every relation ``text`` names; [] when it does not parse."""
    try:
        stmts = parse_sql(text)
    except ParseError:
        return []
    found: dict[tuple[str | None, str], None] = {}
    for node in walk(stmts):
        if isinstance(node, ast.RangeVar):
            schema = str(node.schemaname) if node.schemaname else None
            found.setdefault((schema, str(node.relname)))
    return list(found)


def comparisons(
    text: str, params: Mapping[int, str], stats: StatsCache
) -> list[tuple[Relation, str, str]]:
    """(relation, column, value) of the kept comparisons of one executed text."""
    from pgwarden.advise.workload import EQ, IN, parse

    rels = [r for s, n in relations(text) if (r := stats.relation(n, s)) is not None]
    by_name = {r.name: r for r in rels}
    parsed = parse(text, {r.name: tuple(r.columns) for r in rels})
    out: list[tuple[Relation, str, str]] = []
    for name, access in parsed.tables.items():
        rel = by_name[name]
        for p in access.predicates:
            if p.op == EQ:
                value = p.value if p.value is not None else params.get(p.number or 0)
                values = [] if value is None else [value]
            elif p.op == IN and p.value is not None:
                values = p.value.split(",")
            else:
                continue
            out += [(rel, p.column, v) for v in values if rel.keeps(p.column, v)]
    return out


class Observer:
    """Turns what a source saw into kept observations, and stores them.

    One per capture: it remembers the activity executions already counted (a
    statement sampled several times counts once) and the target's database name.
    """

    def __init__(self, target_conn: psycopg.Connection[Any]) -> None:
        self.target_conn = target_conn
        self._datname: str | None = None
        self._counted: OrderedDict[tuple[Any, ...], None] = OrderedDict()

    @property
    def datname(self) -> str:
        if self._datname is None:
            row = self.target_conn.execute("SELECT current_database()").fetchone()
            self._datname = str(row[0]) if row else ""
        return self._datname

    def from_log(self, entries: Iterable[LogEntry]) -> list[Observation]:
        """Observations of the ``duration:`` records of the target's database.

        An auto_explain plan followed by its backend's statement is one execution:
        only the statement counts.
        """
        stats = StatsCache(self.target_conn)
        out: list[Observation] = []
        planned: dict[int | None, list[Observation]] = {}
        for entry in entries:
            if not self._ours(entry.database, entry.application_name):
                continue
            read = self._from_entry(entry, stats)
            if read is None:
                continue
            kind, seen = read
            held = planned.pop(entry.pid, [])
            if kind == "plan":
                out += held
                planned[entry.pid] = seen
                continue
            if held and not (seen and seen[0].fingerprint == held[0].fingerprint):
                out += held
            out += seen
        return out + [o for held in planned.values() for o in held]

    def _from_entry(
        self, entry: LogEntry, stats: StatsCache
    ) -> tuple[str, list[Observation]] | None:
        """The kind of a ``duration:`` record and its observations; None for another
        record, or one whose text defeats the parsers (any user may write one)."""
        try:
            found = parse_duration(entry.message)
            if found is None or not found.query.strip():
                return None
            query, values = found.query, parameters(entry.detail or "")
            if found.kind == "plan":  # auto_explain: "Query Parameters: …" line
                values = parameters(entry.message)
                query = _PARAMS_RE.sub("", query)
            return found.kind, self._observe(
                entry.ts, query, values, entry.query_id, stats
            )
        except Exception as exc:  # hostile text costs only its own record
            logger.debug("parameter values of a log record skipped: %s",
                         type(exc).__name__)  # fmt: skip
            return None

    def from_activity(self, rows: Iterable[Mapping[str, Any]]) -> list[Observation]:
        """Observations of sampled statements (texts with literals), each once."""
        stats = StatsCache(self.target_conn)
        out: list[Observation] = []
        for row in rows:
            key = (row.get("pid"), row.get("backend_start"), row.get("query_start"))
            if key in self._counted or not self._ours(row.get("datname"), None):
                continue
            self._counted[key] = None
            while len(self._counted) > MAX_EXECUTIONS:
                self._counted.popitem(last=False)
            query = row.get("query") or ""
            qid = row.get("query_id")
            try:
                out += self._observe(row["sampled_at"], query, {}, qid, stats)
            except Exception as exc:  # hostile text costs only its own row
                logger.debug("parameter values of a sampled statement skipped: %s",
                             type(exc).__name__)  # fmt: skip
        return out

    def _ours(self, database: str | None, application: str | None) -> bool:
        if application == pg.APPLICATION_NAME:
            return False
        return database is None or database == self.datname

    def _observe(
        self,
        ts: datetime,
        query: str,
        params: Mapping[int, str],
        queryid: int | None,
        stats: StatsCache,
    ) -> list[Observation]:
        try:
            kept = comparisons(query, params, stats)
        except (psycopg.Error, MissingCapability) as exc:
            logger.debug("parameter values skipped: %s", exc)
            return []
        if not kept:
            return []
        fingerprint = normalise(query).fingerprint
        return [
            Observation(ts, fingerprint, queryid or None, r.schema, r.name, c, v)
            for r, c, v in kept
        ]

    def record(
        self,
        repo_conn: psycopg.Connection[Any],
        target_id: int,
        observations: Sequence[Observation],
    ) -> int:
        """Store the observations in a savepoint of their own: a failure here (say,
        a repository not migrated yet) is logged and never stops the slow log."""
        try:
            with repo_conn.transaction():
                return record(repo_conn, target_id, observations)
        except (psycopg.Error, MissingCapability) as exc:
            logger.warning("parameter values not stored: %s", exc)
            return 0


def record(
    repo_conn: psycopg.Connection[Any],
    target_id: int,
    observations: Iterable[Observation],
) -> int:
    """Add the observations' calls to ``pgwarden.parameter_value``; rows written."""
    rows = _aggregate(target_id, observations)
    if rows:
        with pg.guarded("parameter values (run pgwarden init)"):
            with repo_conn.cursor() as cur:
                cur.executemany(pg.query(GROUP, "upsert"), rows)
    return len(rows)


def _aggregate(
    target_id: int, observations: Iterable[Observation]
) -> list[dict[str, Any]]:
    calls: Counter[tuple[Any, ...]] = Counter()
    seen: dict[tuple[Any, ...], list[Any]] = {}
    for o in observations:
        day = o.ts.astimezone(UTC).date()
        key = (day, o.fingerprint, o.schema, o.relname, o.attname, o.value)
        calls[key] += 1
        first, last, qid = seen.get(key, [o.ts, o.ts, o.queryid])
        seen[key] = [min(first, o.ts), max(last, o.ts), qid or o.queryid]
    names = ("day", "fingerprint", "schema", "relname", "attname", "value")
    return [
        {
            **dict(zip(names, key, strict=True)), "target_id": target_id,
            "calls": n, "first_seen": seen[key][0], "last_seen": seen[key][1],
            "queryid": seen[key][2],
        }
        for key, n in calls.items()
    ]  # fmt: skip


def apply_retention(
    repo_conn: psycopg.Connection[Any], now: datetime, days: int
) -> int:
    """Delete the days of observations older than ``days``; rows deleted."""
    before: date = (now - timedelta(days=days)).astimezone(UTC).date()
    with pg.guarded("parameter values (run pgwarden init)"):
        cur = repo_conn.execute(pg.query(GROUP, "retention"), {"before": before})
    return cur.rowcount
