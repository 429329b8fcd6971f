"""Per-interval statement totals: one small row per database and cycle.

The dashboard's charts and queries per second sum every statement of an interval;
reading those sums from ``statement_total`` spares unpacking the arrays of every
statement. Only top-level statements count (nested ones are inside their caller's
time). pgwarden's own statements (:func:`pgwarden.sqltext.own.is_own`, decided by
their text when collected) are summed apart, so readers can leave them out.

Each cycle also replaces the target's ``statement_window``: the top-level
statements of the last :data:`~pgwarden.collect.kinds.WINDOW` of history summed
per database and statement, from which the slowest statements are ranked
without unpacking the arrays of the hour before.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from pgwarden.collect.delta import Values
from pgwarden.collect.snapshot import Key
from pgwarden.collect.statements import StatementText
from pgwarden.sqltext import is_own


@dataclass
class Total:
    """The top-level statements of one database over one interval."""

    dbid: int
    calls: int = 0
    total_exec_ms: float = 0.0
    rows: int = 0
    shared_blks_hit: int = 0
    shared_blks_read: int = 0
    own_calls: int = 0
    own_exec_ms: float = 0.0

    def add(self, values: Values, own: bool) -> None:
        calls, ms = int(values.get("calls") or 0), values.get("total_exec_ms") or 0.0
        if own:
            self.own_calls += calls
            self.own_exec_ms += float(ms)
            return
        self.calls += calls
        self.total_exec_ms += float(ms)
        self.rows += int(values.get("rows") or 0)
        self.shared_blks_hit += int(values.get("shared_blks_hit") or 0)
        self.shared_blks_read += int(values.get("shared_blks_read") or 0)


def own_keys(texts: Iterable[StatementText]) -> frozenset[Key]:
    """The statements among ``texts`` that pgwarden sends itself."""
    return frozenset(t.key for t in texts if is_own(t.query))


def statement_totals(rows: Mapping[Key, Values], own: Collection[Key]) -> list[Total]:
    """Per database, the sums of the top-level statement deltas ``rows``."""
    found: dict[int, Total] = {}
    for key, values in rows.items():
        dbid, _userid, _queryid, toplevel = key
        if toplevel:
            total = found.setdefault(int(dbid), Total(int(dbid)))
            total.add(values, key in own)
    return [found[dbid] for dbid in sorted(found)]
