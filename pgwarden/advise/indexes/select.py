"""Workload-level index selection: greedy by benefit per byte under a budget.

The workload's cost is the sum over statements of calls x plan cost. Each round
adds the candidate whose cost reduction, less the write overhead of maintaining it
(index entries it would add x ``write_cost`` per entry), per estimated byte is
highest, costing every statement on its table with the indexes chosen so far plus
the candidate in place (hypopg), until the byte or count budget is spent or no
candidate saves at least ``min_gain_pct`` of the workload's cost. The existing
indexes are in place throughout, so a candidate they already serve gains nothing.

Index entries a candidate adds, per statement type (:class:`WriteLoad`): an INSERT
one per row; a DELETE none (the entries go with VACUUM); an UPDATE one per row
only when it is not HOT: when it SETs a column of the candidate (or of an existing
index), or when most of the table's updates are not HOT anyway
(``pg_stat_user_tables``: ``n_tup_hot_upd`` against ``n_tup_upd``).
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
from pgwarden.advise.workload import NOT_NULL, NULL, Parsed, Statement

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


#: a table whose updates are HOT less often than this: every update adds entries
MIN_HOT_SHARE = 0.5
INSERT, UPDATE, DELETE = "insert", "update", "delete"


@dataclass(frozen=True)
class Write:
    """Rows one statement writes to one table."""

    table: str
    kind: str  # insert, update, delete
    rows: float
    changed: frozenset[str] = frozenset()  # an UPDATE's SET columns


@dataclass(frozen=True)
class WriteLoad:
    """The workload's writes, and the share of each table's updates that is HOT."""

    writes: tuple[Write, ...] = ()
    hot: Mapping[str, float] = field(default_factory=dict)

    def entries(self, c: Candidate, indexed: Mapping[str, set[str]]) -> float:
        """Index entries ``c`` would add (``indexed``: the columns the table's
        existing indexes hold, whose change makes an update non-HOT anyway)."""
        mine = set(c.columns) | set(c.include)
        if c.where_column is not None:
            mine.add(c.where_column)
        cold = self.hot.get(c.table, 1.0) < MIN_HOT_SHARE
        total = 0.0
        for w in self.writes:
            if w.table != c.table or w.kind == DELETE:
                continue
            if (
                w.kind == INSERT
                or cold
                or w.changed & mine
                or w.changed & indexed.get(c.table, set())
            ):
                total += w.rows
        return total


def write_load(
    statements: Sequence[Statement],
    parsed: Sequence[Parsed],
    hot: Mapping[str, float] | None = None,
) -> WriteLoad:
    """What the statements write (every statement: INSERTs included)."""
    out: list[Write] = []
    for s, p in zip(statements, parsed, strict=False):
        rows = float(max(s.rows, s.calls))
        out += [Write(t, INSERT, rows) for t in sorted(p.inserted)]
        out += [Write(t, DELETE, rows) for t in sorted(p.deleted)]
        out += [
            Write(t, UPDATE, rows, frozenset(cols))
            for t, cols in sorted(p.updated.items())
        ]
    return WriteLoad(tuple(out), dict(hot or {}))


def _indexed(existing: Sequence[IndexInfo]) -> dict[str, set[str]]:
    from pgwarden.advise.indexes.candidates import unquote

    out: dict[str, set[str]] = {}
    for index in existing:
        keys = [unquote(k) for k in (*index.keys, *index.include)]
        out.setdefault(index.table, set()).update(keys)
    return out


def applies(item: Item, candidate: Candidate) -> bool:
    """The candidate may change the item's plan: it leads with a column used."""
    access = item.parsed.tables.get(candidate.table)
    if access is None:
        return False
    if candidate.where_column is not None and candidate.where_value is not None:
        if sql.Literal(candidate.where_value).as_string(None) not in item.text:
            return False
    if candidate.where_column is not None and candidate.where_op != "=":
        op = NULL if candidate.where_op == "IS NULL" else NOT_NULL
        if all(
            p.column != candidate.where_column or p.op != op for p in access.predicates
        ):
            return False  # the statement does not say it: the index cannot serve it
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
    writes: WriteLoad | None = None,
) -> Selection:
    """Pick indexes for the whole workload (see the module's docstring).

    ``writes`` holds every statement's writes (INSERTs are not among ``items``);
    without it the writes of ``items`` are counted.

    Lazy greedy: a candidate's last score bounds its next one (adding indexes
    never makes another more useful in this model), so only the candidates whose
    bound beats the best fresh score are costed again each round.
    """
    state = _State(items, cost, _costs(items, frozenset(), cost))
    base = _total(items, state.current)
    if writes is None:
        writes = write_load([i.statement for i in items], [i.parsed for i in items])
    indexed = _indexed(existing)
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
            net = gain - writes.entries(c, indexed) * budget.write_cost
            fresh[c] = len(chosen)
            if gain > floor and net > 0:
                heapq.heappush(heap, (-net / max(size, 1), n, c))
            continue
        gain, trial = state.trial(c)
        table = tables[c.table]
        overhead = writes.entries(c, indexed) * budget.write_cost
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
        and _directions(a, len(b.columns)) == _directions(b, len(b.columns))
        and a.opclass == b.opclass
        and (a.where_column == b.where_column and a.where_value == b.where_value)
    )


def _directions(c: Candidate, n: int) -> tuple[str, ...]:
    return tuple(c.directions[i] if i < len(c.directions) else "" for i in range(n))


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
        if not n or n > len(keys) or [unquote(k) for k in index.keys] != keys[:n]:
            continue
        if n > 1 and any(_directions(candidate, n)):
            continue  # the existing order is not the candidate's
        if candidate.opclass is not None and n == len(keys):
            continue  # a pattern_ops key serves LIKE, not the existing's order
        out.append(index.name)
    return out
