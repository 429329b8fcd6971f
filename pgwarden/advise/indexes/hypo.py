"""Plan costs of statements with hypothetical indexes (hypopg) and generic plans.

A statement with ``$n`` parameters is planned generically: ``EXPLAIN (GENERIC_PLAN)``
on PostgreSQL 16+, before that ``PREPARE`` with ``plan_cache_mode =
force_generic_plan`` and ``EXPLAIN EXECUTE`` with NULL arguments. Substituting a
constant for a parameter (:func:`substitute`, a quoted ``sql.Literal``, never text
pasted in) gives a custom plan: for the rare value a partial index targets, and
for each parameter value the slow query capture observed. Every hypothetical index
is dropped again (``hypopg_reset``) whatever happens; costs are cached per
(statement, planned text — so per value —, hypothetical indexes on its tables).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from pgwarden import pg
from pgwarden.advise.indexes.candidates import Candidate

logger = logging.getLogger(__name__)

_PARAM_RE = re.compile(r"\$(\d+)")
_PREPARED = "pgwarden_advisor_stmt"


def max_param(text: str) -> int:
    return max((int(n) for n in _PARAM_RE.findall(text)), default=0)


def substitute(text: str, values: Mapping[int, str]) -> str:
    """``text`` with ``$n`` replaced by the quoted literal ``values[n]``.

    The parameters left are numbered again from ``$1`` without gaps (a gap makes
    the type of the missing parameter unknown to PREPARE).
    """
    left = sorted({int(n) for n in _PARAM_RE.findall(text)} - set(values))
    numbers = {old: new for new, old in enumerate(left, start=1)}

    def repl(m: re.Match[str]) -> str:
        n = int(m.group(1))
        if n in values:
            return sql.Literal(values[n]).as_string(None)
        return f"${numbers[n]}"

    return _PARAM_RE.sub(repl, text)


def explain(conn: psycopg.Connection[Any], text: str) -> dict[str, Any] | None:
    """The top plan node of ``text`` (generic plan when it has parameters)."""
    params = max_param(text)
    version = pg.server_version_num(conn)
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")  # planned, never run
            if params == 0:
                return _plan(conn.execute(_explain(text)).fetchone())
            if version >= 160000:
                query = _explain(text, generic=True)
                return _plan(conn.execute(query).fetchone())
            return _explain_prepared(conn, text, params)
    except psycopg.Error as exc:
        logger.debug("cannot plan statement: %s", exc, extra={"query": text[:200]})
        return None


def _explain(text: str, generic: bool = False) -> sql.Composed:
    options = "GENERIC_PLAN, FORMAT JSON" if generic else "FORMAT JSON"
    return sql.SQL("EXPLAIN ({}) {}").format(sql.SQL(options), sql.SQL(text))


def _explain_prepared(
    conn: psycopg.Connection[Any], text: str, params: int
) -> dict[str, Any] | None:
    conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    name = sql.Identifier(_PREPARED)
    conn.execute(sql.SQL("PREPARE {} AS {}").format(name, sql.SQL(text)))
    try:
        args = sql.SQL(", ").join([sql.SQL("NULL")] * params)
        row = conn.execute(
            sql.SQL("EXPLAIN (FORMAT JSON) EXECUTE {} ({})").format(name, args)
        ).fetchone()
        return _plan(row)
    finally:
        conn.execute(sql.SQL("DEALLOCATE {}").format(name))


def _plan(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    data = row[0] if not isinstance(row[0], str) else json.loads(row[0])
    plan: dict[str, Any] = data[0]["Plan"]
    return plan


def nodes(plan: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every node of a plan, depth first."""
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


def used_indexes(plan: Mapping[str, Any]) -> set[str]:
    return {str(n["Index Name"]) for n in nodes(plan) if "Index Name" in n}


@dataclass
class Costing:
    """Costs of statements under sets of hypothetical indexes, cached."""

    conn: psycopg.Connection[Any]
    cache: dict[tuple[int, frozenset[Candidate], str], float | None] = field(
        default_factory=dict
    )
    plans: int = 0
    #: candidates hypopg would not create, with its message: they gain nothing
    refused: dict[Candidate, str] = field(default_factory=dict)
    _active: frozenset[Candidate] = frozenset()
    _oids: dict[Candidate, int] = field(default_factory=dict)

    def cost(self, key: int, text: str, indexes: frozenset[Candidate]) -> float | None:
        """Total cost of ``text`` with ``indexes`` (and the real ones) in place."""
        cached = (key, indexes, text)
        if cached in self.cache:
            return self.cache[cached]
        self._use(indexes)
        plan = explain(self.conn, text)
        self.plans += 1
        value = None if plan is None else float(plan["Total Cost"])
        self.cache[cached] = value
        return value

    def plan(self, text: str, indexes: frozenset[Candidate]) -> dict[str, Any] | None:
        self._use(indexes)
        return explain(self.conn, text)

    def hypothetical_name(self, candidate: Candidate) -> str | None:
        oid = self._oids.get(candidate)
        return None if oid is None else f"<{oid}>btree_"

    def _use(self, indexes: frozenset[Candidate]) -> None:
        if indexes == self._active:
            return
        for gone in self._active - indexes:
            oid = self._oids.pop(gone, None)
            if oid is not None:
                self.conn.execute("SELECT hypopg_drop_index(%s)", [oid])
        for new in indexes - self._active:
            if new not in self.refused:
                self._create(new)
        self._active = indexes

    def _create(self, new: Candidate) -> None:
        """One hypothetical index; one hypopg refuses (an operator class the
        column's type does not take) is costed as absent, and remembered."""
        text = new.statement().as_string(self.conn)
        try:
            with self.conn.transaction():
                row = self.conn.execute(
                    "SELECT indexrelid FROM hypopg_create_index(%s)", [text]
                ).fetchone()
        except psycopg.Error as exc:
            self.refused[new] = str(exc).splitlines()[0] if str(exc) else "refused"
            logger.info("hypopg refused %s: %s", new.name, self.refused[new])
            return
        assert row is not None
        self._oids[new] = int(row[0])


@contextmanager
def session(conn: psycopg.Connection[Any]) -> Iterator[Costing]:
    """A costing session; every hypothetical index is reset when it ends."""
    conn.execute("SELECT hypopg_reset()")
    try:
        yield Costing(conn)
    finally:
        try:
            conn.execute("SELECT hypopg_reset()")
        except psycopg.Error:
            logger.warning("hypopg_reset failed; the session's indexes end with it")


def reset(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT hypopg_reset()")


def relevant(
    candidates: Sequence[Candidate], tables: frozenset[str]
) -> frozenset[Candidate]:
    """The candidates on ``tables`` (the only ones that change a statement's plan)."""
    return frozenset(c for c in candidates if c.table in tables)
