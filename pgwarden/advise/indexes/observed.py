"""Parameter values the workload was seen to use, for the index advisor.

``pg_stat_statements`` keeps no constants. The slow query capture counts, per
statement, which most common value (pg_stats) of a categorical column it compared
with (:mod:`pgwarden.slowlog.param_values`, table ``pgwarden.parameter_value``).
The advisor splits a statement's calls over those values, plans it with each
value substituted (a custom plan) and proposes partial indexes only on values
actually asked for. A statement is matched by its ``queryid``, else by the
fingerprint of its text (constants and ``$n`` fingerprint alike).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.rows import dict_row

from pgwarden import pg
from pgwarden.advise.workload import Statement
from pgwarden.sqltext import normalise

GROUP = "param_values"
#: values of one column a statement is planned with (the rest stay generic)
MAX_VALUES = 5

Column = tuple[str, str]  # (table, column)


@dataclass(frozen=True)
class Observed:
    """Calls per value of each (table, column), per statement fingerprint."""

    by_fingerprint: Mapping[str, Mapping[Column, Mapping[str, int]]] = field(
        default_factory=dict
    )
    by_queryid: Mapping[int, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.by_fingerprint)

    def counts(self, statement: Statement) -> Mapping[Column, Mapping[str, int]]:
        """The observed values of ``statement``'s comparisons ({} when none)."""
        key = self.by_queryid.get(statement.queryid) or fingerprint(statement.text)
        return self.by_fingerprint.get(key, {})

    def shares(self, statement: Statement) -> dict[Column, dict[str, float]]:
        """Share of the observed calls per value, the ``MAX_VALUES`` most frequent."""
        return {
            col: top_shares(values) for col, values in self.counts(statement).items()
        }

    def statements(self) -> int:
        return len(self.by_fingerprint)


def top_shares(values: Mapping[str, int], top: int = MAX_VALUES) -> dict[str, float]:
    total = sum(values.values())
    ranked = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return {v: n / total for v, n in ranked} if total else {}


@lru_cache(maxsize=4096)
def fingerprint(text: str) -> str:
    return normalise(text).fingerprint


def from_rows(rows: Iterable[Mapping[str, Any]]) -> Observed:
    """Rows of the ``observed`` query: fingerprint, queryid, relname, attname, …"""
    found: dict[str, dict[Column, dict[str, int]]] = {}
    queryids: dict[int, str] = {}
    for r in rows:
        per = found.setdefault(r["fingerprint"], {})
        values = per.setdefault((r["relname"], r["attname"]), {})
        values[r["value"]] = values.get(r["value"], 0) + int(r["calls"])
        if r["queryid"] is not None:
            queryids[int(r["queryid"])] = r["fingerprint"]
    return Observed(found, queryids)


def per_column(
    observed: Observed, statements: Iterable[Statement]
) -> dict[Column, Counter[str]]:
    """Observed calls per value of each (table, column) over ``statements``."""
    out: dict[Column, Counter[str]] = {}
    for s in statements:
        for col, values in observed.counts(s).items():
            out.setdefault(col, Counter()).update(values)
    return out


def describe(counts: Mapping[str, int], value: str | None) -> str:
    """``'pending' observed 300 times (100 % of 300 observed calls; …)``."""
    total = sum(counts.values())
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:MAX_VALUES]
    shares = ", ".join(f"'{v}' {100 * n / total:.0f} %" for v, n in ranked)
    own = counts.get(value or "", 0)
    return (
        f"value observed {own} times ({100 * own / total:.0f} % of {total} observed "
        f"calls; {shares})"
    )


def gather(repo: psycopg.Connection[Any], target_id: int, since: date) -> Observed:
    """The target's observed values since ``since`` (repository)."""
    params = {"target_id": target_id, "since": since}
    with pg.guarded("parameter values (run pgwarden init)"):
        with repo.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(pg.query(GROUP, "observed"), params).fetchall()
    return from_rows(rows)
