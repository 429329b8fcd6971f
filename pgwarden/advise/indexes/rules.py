"""Rules over the advice as a set: against the existing indexes and each other.

- **Unique order**: keys after the columns of a unique index add nothing (one row
  per value of those columns): a candidate is cut after them, and left out when an
  existing B-tree already leads with what is left (``ORDER BY id, "createdAt"``
  with ``id`` the primary key needs no new index).
- **Another method serves it**: an existing hash, GiST, SP-GiST, GIN or BRIN index
  on the candidate's leading column that the planner uses for the statements
  (their plan without the candidate names it) counts as serving them; a B-tree
  beside it stays only when hypopg measures a cut of at least
  ``SIGNIFICANT_PCT`` of those statements' cost, stated in its reasoning.
- **One index per statement for an assumed value**: partial indexes whose value
  is assumed (no observed constants) and a full index for the same statements
  are not all recommended; the one that saves most alone (measured) is kept and
  says why, and a full index that also serves other statements says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pgwarden.advise.findings import qualified
from pgwarden.advise.indexes import hypo
from pgwarden.advise.indexes.candidates import Candidate, unquote
from pgwarden.advise.indexes.select import Item, applies
from pgwarden.advise.model import IndexInfo
from pgwarden.advise.workload import EQ

#: a B-tree beside an index of another method must cut its statements' cost by this
SIGNIFICANT_PCT = 30.0
OTHER_METHODS = frozenset({"hash", "gist", "spgist", "gin", "brin"})


def _plain(index: IndexInfo) -> bool:
    return (
        index.is_valid
        and index.predicate is None
        and bool(index.key_attnums)
        and 0 not in index.key_attnums
    )


def _keys(index: IndexInfo) -> tuple[str, ...]:
    return tuple(unquote(k) for k in index.keys)


def _by_table(existing: Iterable[IndexInfo]) -> dict[str, list[IndexInfo]]:
    out: dict[str, list[IndexInfo]] = {}
    for index in existing:
        out.setdefault(index.table, []).append(index)
    return out


def unique_order(
    found: Sequence[Candidate], existing: Sequence[IndexInfo]
) -> tuple[list[Candidate], list[str]]:
    """Candidates cut after the columns of a unique index, those then served by
    an existing B-tree left out (with a note each)."""
    tables = _by_table(existing)
    kept: dict[Candidate, None] = {}
    notes: list[str] = []
    for c in found:
        unique = [
            i for i in tables.get(c.table, ())
            if i.is_unique and i.method == "btree" and _plain(i)
        ]  # fmt: skip
        if type(c) is not Candidate or c.where_column is not None or not unique:
            kept.setdefault(c)
            continue
        cut = _cut(c.columns, unique)
        if cut is None:
            kept.setdefault(c)
            continue
        n, index = cut
        keys = c.columns[:n]
        serving = _leading(keys, tables.get(c.table, ()))
        if serving is None or c.include:
            extra = tuple(x for x in c.columns[n:] if x not in c.include)
            moved = c.include + extra if c.include else ()
            kept.setdefault(replace(c, columns=keys, include=moved))
            continue
        notes.append(
            f"no index on {qualified(c.schema, c.table)} ({', '.join(c.columns)}): "
            f"the unique index {index.name} ({', '.join(_keys(index))}) already "
            f"decides the order after ({', '.join(keys)}), which {serving.name} "
            "serves"
        )
    return list(kept), notes


def _cut(
    columns: Sequence[str], unique: Sequence[IndexInfo]
) -> tuple[int, IndexInfo] | None:
    """The shortest prefix of ``columns`` holding all columns of a unique index,
    when shorter than ``columns``."""
    for n in range(1, len(columns)):
        for index in unique:
            if set(_keys(index)) <= set(columns[:n]):
                return n, index
    return None


def _leading(keys: Sequence[str], indexes: Iterable[IndexInfo]) -> IndexInfo | None:
    """An existing valid, non-partial B-tree leading with ``keys`` (in order)."""
    for index in indexes:
        if index.method == "btree" and _plain(index):
            if _keys(index)[: len(keys)] == tuple(keys):
                return index
    return None


@dataclass(frozen=True)
class Measured:
    """A B-tree kept beside an existing index of another method, and its gain."""

    index: str
    method: str
    gain_pct: float

    def text(self) -> str:
        return (
            f"the existing {self.method} index {self.index} serves these statements;"
            f" measured gain of this B-tree over the plan with it: {self.gain_pct} %"
        )


def _other(c: Candidate, indexes: Iterable[IndexInfo]) -> list[IndexInfo]:
    if c.method != "btree" or c.expressions or not c.columns:
        return []
    return [
        i for i in indexes
        if i.method in OTHER_METHODS and i.is_valid and c.columns[0] in _keys(i)
    ]  # fmt: skip


def other_method(
    found: Sequence[Candidate],
    items: Sequence[Item],
    existing: Sequence[IndexInfo],
    costing: hypo.Costing,
) -> tuple[list[Candidate], dict[Candidate, Measured], list[str]]:
    """Candidates an index of another method does not already serve (planner
    and hypopg decide), the measured gain of those kept beside one, notes."""
    tables = _by_table(existing)
    kept: list[Candidate] = []
    measured: dict[Candidate, Measured] = {}
    notes: list[str] = []
    for c in found:
        others = _other(c, tables.get(c.table, ()))
        if not others:
            kept.append(c)
            continue
        names = {i.name: i for i in others}
        before = after = 0.0
        used: IndexInfo | None = None
        for n, item in enumerate(items):
            if not applies(item, c):
                continue
            plan = costing.plan(item.text, frozenset())
            hit = sorted(hypo.used_indexes(plan) & set(names)) if plan else []
            if not hit:
                continue
            used = names[hit[0]]
            base = costing.cost(n, item.text, frozenset())
            new = costing.cost(n, item.text, frozenset({c}))
            if base is not None and new is not None:
                before += item.statement.calls * base
                after += item.statement.calls * min(new, base)
        if used is None:
            kept.append(c)
            continue
        gain = round(100 * (before - after) / before, 1) if before else 0.0
        if gain >= SIGNIFICANT_PCT:
            kept.append(c)
            measured[c] = Measured(used.name, used.method, gain)
            continue
        notes.append(
            f"no B-tree on {qualified(c.schema, c.table)} ({', '.join(c.columns)}): "
            f"the existing {used.method} index {used.name} serves its statements "
            f"(measured gain of the B-tree over it: {gain} %, under "
            f"{SIGNIFICANT_PCT:.0f} %)"
        )
    return kept, measured, notes


def other_method_heuristic(
    found: Sequence[Candidate], items: Sequence[Item], existing: Sequence[IndexInfo]
) -> tuple[list[Candidate], list[str]]:
    """Without hypopg: a hash index serves equality on its column (unverified)."""
    tables = _by_table(existing)
    kept: list[Candidate] = []
    notes: list[str] = []
    for c in found:
        hashed = [i for i in _other(c, tables.get(c.table, ())) if i.method == "hash"]
        uses = [
            p
            for item in items
            if applies(item, c)
            for access in [item.parsed.tables[c.table]]
            for p in access.predicates
            if p.column == c.columns[0]
        ]
        if hashed and uses and all(p.op == EQ for p in uses) and len(c.columns) == 1:
            notes.append(
                f"no B-tree on {qualified(c.schema, c.table)} ({c.columns[0]}): the "
                f"existing hash index {hashed[0].name} serves its equality "
                "(unverified: hypopg is not available)"
            )
            continue
        kept.append(c)
    return kept, notes


def assumed_value(c: Candidate) -> str:
    """What a partial index without observed values rests on."""
    return f"assumes {c.where} is the hot value; no observed values"


def one_per_statement(
    recs: Sequence[Any],
    observed: Mapping[tuple[str, str], Any],
    gain_of: Callable[[Candidate], float],
) -> tuple[list[Any], list[str]]:
    """Recommendations without rivals for the same statements when a partial
    index's value is assumed (no observed values); notes on those left out.

    Rivals: the partial indexes on the same column without observed values and
    the full indexes of the table, serving a statement in common. Of each group
    the one that saves most alone (``gain_of``, measured) is kept and says why;
    a full index also serving other statements stays, saying so. ``recs`` are
    :class:`advisor.Recommendation` (``candidate``, ``affected_queries``,
    ``reasoning``).
    """

    def queries(r: Any) -> set[str]:
        return {q["queryid"] for q in r.affected_queries}

    def assumed(r: Any) -> bool:
        c = r.candidate
        if c.where_column is None or c.where_op != "=":  # IS NULL: stated, not assumed
            return False
        return not observed.get((c.table, c.where_column))

    out = list(recs)
    notes: list[str] = []
    for p in [r for r in recs if assumed(r)]:
        if p not in out:
            continue
        c = p.candidate
        group = [
            r for r in out
            if r.candidate.table == c.table and queries(r) & queries(p)
            and (r.candidate.where_column in (None, c.where_column))
            and (r.candidate.where_column is None or assumed(r))
        ]  # fmt: skip
        if len(group) < 2:
            continue
        shared = set().union(*(queries(r) for r in group if assumed(r)))
        gains = {id(r): gain_of(r.candidate) for r in group}
        winner = max(group, key=lambda r: (gains[id(r)], r.candidate.where is None))
        for loser in group:
            if loser is winner:
                continue
            rest = queries(loser) - shared
            if loser.candidate.where_column is None and rest:
                why = (
                    f"; kept beside the partial index {c.name}: it also serves "
                    f"{len(rest)} statement(s) the partial one does not"
                )
                out[out.index(loser)] = replace(loser, reasoning=loser.reasoning + why)
                continue
            out.remove(loser)
            lost, won = gains[id(loser)], gains[id(winner)]
            notes.append(_dropped(loser.candidate, winner.candidate, c, lost, won))
        if winner.candidate.where_column is None:
            why = (
                f"; preferred to partial indexes on {c.where_column} for the same "
                "statements: no observed values say which value is hot, and this one "
                "saves more alone"
            )
            out[out.index(winner)] = replace(winner, reasoning=winner.reasoning + why)
    return out, notes


def _dropped(
    loser: Candidate, winner: Candidate, partial: Candidate, lost: float, won: float
) -> str:
    return (
        f"{loser.name} not recommended beside {winner.name} for the same statements:"
        f" no observed values for {partial.where_column} (each value assumed), and "
        f"{winner.name} saves more alone ({won:.0f} against {lost:.0f} cost units)"
    )
