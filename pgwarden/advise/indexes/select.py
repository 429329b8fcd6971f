"""Workload-level index selection: greedy by benefit per byte under a budget.

The workload's cost is the sum over statements of calls x plan cost. Each round
adds the candidate whose cost reduction, less the write overhead of maintaining it
(rows written to its table x ``write_cost`` per index entry), per estimated byte is
highest, costing every statement on its table with the indexes chosen so far plus
the candidate in place (hypopg), until the byte or count budget is spent or no
candidate saves at least ``min_gain_pct`` of the workload's cost. The existing
indexes are in place throughout, so a candidate they already serve gains nothing.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from pgwarden.advise.indexes.candidates import Candidate
from pgwarden.advise.model import IndexInfo
from pgwarden.advise.stats import TableStats
from pgwarden.advise.workload import Parsed, Statement

#: cost(statement index, statement text, hypothetical indexes) -> plan cost
CostFn = Callable[[int, str, frozenset[Candidate]], float | None]


@dataclass(frozen=True)
class Budget:
    max_bytes: int | None = None
    max_indexes: int | None = 10
    min_gain_pct: float = 1.0
    write_cost: float = 1.0


@dataclass(frozen=True)
class Item:
    """A statement of the workload as the selection sees it."""

    statement: Statement
    parsed: Parsed
    text: str  # the text planned (a rare value substituted where it applies)

    @property
    def tables(self) -> frozenset[str]:
        return frozenset(self.parsed.tables)


@dataclass
class Choice:
    candidate: Candidate
    size_bytes: int
    full_size_bytes: int
    gain: float
    write_overhead: float
    affected: list[dict[str, Any]] = field(default_factory=list)
    redundant: list[str] = field(default_factory=list)


@dataclass
class Selection:
    base_cost: float
    final_cost: float
    chosen: list[Choice]
    plans: int = 0

    @property
    def reduction_pct(self) -> float:
        if not self.base_cost:
            return 0.0
        return round(100 * (self.base_cost - self.final_cost) / self.base_cost, 2)


def written_rows(items: Sequence[Item]) -> dict[str, float]:
    """Rows written per table by the workload's INSERT/UPDATE/DELETE statements."""
    out: dict[str, float] = {}
    for item in items:
        for table in item.parsed.written:
            out[table] = out.get(table, 0.0) + max(
                item.statement.rows, item.statement.calls
            )
    return out


def applies(item: Item, candidate: Candidate) -> bool:
    """The candidate may change the item's plan: it leads with a column used."""
    access = item.parsed.tables.get(candidate.table)
    if access is None:
        return False
    if candidate.where_column is not None and candidate.where_value is not None:
        if sql.Literal(candidate.where_value).as_string(None) not in item.text:
            return False
    used = {p.column for p in access.predicates} | set(access.join_keys)
    used |= {c for c, _ in access.order_by} | set(access.group_by)
    return candidate.columns[0] in used


def _costs(
    items: Sequence[Item], chosen: frozenset[Candidate], cost: CostFn
) -> list[float | None]:
    return [cost(i, item.text, frozenset()) for i, item in enumerate(items)]


@dataclass
class _State:
    items: Sequence[Item]
    cost: CostFn
    current: list[float | None]
    active: frozenset[Candidate] = frozenset()

    def trial(self, c: Candidate) -> tuple[float, list[float | None]]:
        """Workload cost saved by adding ``c``, and the costs with it."""
        trial = list(self.current)
        gain = 0.0
        for i, item in enumerate(self.items):
            if applies(item, c):
                mine = frozenset(x for x in self.active | {c} if applies(item, x))
                trial[i] = self.cost(i, item.text, mine)
                before, after = self.current[i] or 0.0, trial[i] or 0.0
                gain += item.statement.calls * (before - after)
        return gain, trial


def greedy(
    items: Sequence[Item],
    candidates: Sequence[Candidate],
    tables: Mapping[str, TableStats],
    existing: Sequence[IndexInfo],
    cost: CostFn,
    budget: Budget,
) -> Selection:
    """Pick indexes for the whole workload (see the module's docstring).

    Lazy greedy: a candidate's last score bounds its next one (adding indexes
    never makes another more useful in this model), so only the candidates whose
    bound beats the best fresh score are costed again each round.
    """
    state = _State(items, cost, _costs(items, frozenset(), cost))
    base = _total(items, state.current)
    writes = written_rows(items)
    floor = base * budget.min_gain_pct / 100
    chosen: list[Choice] = []
    spent = 0
    heap = [(-math.inf, n, c) for n, c in enumerate(candidates) if c.table in tables]
    heapq.heapify(heap)
    fresh: dict[Candidate, int] = {}
    while heap and (budget.max_indexes is None or len(chosen) < budget.max_indexes):
        bound, n, c = heapq.heappop(heap)
        size = c.size(tables[c.table])
        if budget.max_bytes is not None and spent + size > budget.max_bytes:
            continue
        if fresh.get(c) != len(chosen):
            gain, _trial = state.trial(c)
            net = gain - writes.get(c.table, 0.0) * budget.write_cost
            fresh[c] = len(chosen)
            if gain > floor and net > 0:
                heapq.heappush(heap, (-net / max(size, 1), n, c))
            continue
        gain, trial = state.trial(c)
        table = tables[c.table]
        overhead = writes.get(c.table, 0.0) * budget.write_cost
        choice = Choice(c, c.size(table), c.full_size(table), gain, overhead)
        choice.affected = _affected(items, state.current, trial)
        choice.redundant = redundant_existing(c, existing)
        chosen.append(choice)
        state.active |= {c}
        state.current = trial
        spent += choice.size_bytes
        heap = [h for h in heap if not _same_keys(h[2], c)]
        heapq.heapify(heap)
        del bound
    return Selection(base, _total(items, state.current), chosen)


def _same_keys(a: Candidate, b: Candidate) -> bool:
    return (
        a.table == b.table
        and a.columns[: len(b.columns)] == b.columns
        and a.expressions[: len(b.expressions)] == b.expressions
        and (a.where_column == b.where_column and a.where_value == b.where_value)
    )


def _total(items: Sequence[Item], costs: Sequence[float | None]) -> float:
    return sum(
        item.statement.calls * (c or 0.0) for item, c in zip(items, costs, strict=True)
    )


def _affected(
    items: Sequence[Item], before: Sequence[float | None], after: Sequence[float | None]
) -> list[dict[str, Any]]:
    out = []
    for item, b, a in zip(items, before, after, strict=True):
        if b is not None and a is not None and a < b * 0.999:
            out.append({
                "queryid": str(item.statement.queryid),
                "text": " ".join(item.statement.text.split())[:500],
                "calls": item.statement.calls,
                "total_ms": round(item.statement.total_ms, 1),
                "cost_before": round(b, 2), "cost_after": round(a, 2),
            })  # fmt: skip
    return sorted(out, key=lambda q: -q["calls"] * (q["cost_before"] - q["cost_after"]))


def redundant_existing(
    candidate: Candidate, existing: Sequence[IndexInfo]
) -> list[str]:
    """Existing, droppable indexes whose keys are a prefix of the candidate's."""
    from pgwarden.advise.indexes.candidates import unquote

    if candidate.where_column is not None:
        return []
    if candidate.method != "btree" or candidate.expressions:
        return []  # a BRIN or an expression does not replace a column B-tree
    keys = list(candidate.columns)
    out = []
    for index in existing:
        if index.table != candidate.table or index.protected or index.predicate:
            continue
        n = len(index.keys)
        if n and n <= len(keys) and [unquote(k) for k in index.keys] == keys[:n]:
            out.append(index.name)
    return out
