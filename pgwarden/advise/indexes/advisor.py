"""The index advisor: workload -> candidates -> hypopg costing -> selection.

``advise(target_conn, workload, existing, tables, options)`` returns an
:class:`Advice`; with hypopg every recommendation is verified by the planner,
without it a heuristic ranks candidates and every recommendation says
``confidence: unverified``. JSON shape of a recommendation
(:meth:`Recommendation.as_dict`)::

    {"ddl": "CREATE INDEX CONCURRENTLY ...;", "schema": "public", "table": "AuditLog",
     "columns": ["entityId", "entityType"], "include": [], "where": null,
     "estimated_size_bytes": 98304, "full_index_size_bytes": null,
     "size_savings_bytes": null, "workload_cost_reduction_pct": 12.5,
     "affected_queries": [{"queryid": "...", "text": "...", "calls": 10,
                           "cost_before": 300.0, "cost_after": 8.3}],
     "makes_redundant": [], "confidence": "high", "reasoning": "...",
     "method": "btree", "expression": null, "opclass": null}

GIN/GiST candidates (hypopg cannot simulate them) come after the verified ones,
``confidence: unverified`` (:mod:`pgwarden.advise.indexes.special.advice`).

The advice is checked as a set (:mod:`.rules`: unique order, an existing index of
another method, one index per statement for an assumed value), and its DDL runs
on the relation's kind (:func:`pgwarden.advise.findings.index_steps`): ``ddl`` is
every statement of the procedure, one per line, also listed in
``ddl_statements``, with ``ddl_note`` (a partitioned table's procedure, a
partition's other partitions, the lock when allowed) and ``table_kind``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
from psycopg import sql

from pgwarden.advise.findings import FOREIGN, index_steps, qualified, skipped_foreign
from pgwarden.advise.indexes import candidates as cand
from pgwarden.advise.indexes import hypo, rules
from pgwarden.advise.indexes import observed as ov
from pgwarden.advise.indexes.candidates import Candidate
from pgwarden.advise.indexes.select import (
    Budget,
    Item,
    Selection,
    applies,
    greedy,
    redundant_existing,
    write_load,
)
from pgwarden.advise.indexes.special import Facts
from pgwarden.advise.indexes.special import advice as sa
from pgwarden.advise.model import IndexInfo
from pgwarden.advise.relations import Relations
from pgwarden.advise.stats import TableStats
from pgwarden.advise.workload import EQ, Parsed, Shapes, Statement, Workload, parse

HEURISTIC, HYPOPG = "heuristic", "hypopg"


@dataclass(frozen=True)
class Options:
    budget: Budget = field(default_factory=Budget)
    partial_max_fraction: float = 0.1
    partial_min_top: float = 0.3
    max_statements: int = 1000
    allow_lock: bool = False  # plain CREATE INDEX on a partitioned table


@dataclass(frozen=True)
class Recommendation:
    candidate: Candidate
    estimated_size_bytes: int
    full_index_size_bytes: int | None
    workload_cost_reduction_pct: float | None
    affected_queries: tuple[dict[str, Any], ...]
    makes_redundant: tuple[str, ...]
    confidence: str
    reasoning: str
    gain: float = 0.0  # workload cost saved (calls x plan cost)
    steps: tuple[str, ...] = ()  # the DDL for the relation's kind
    ddl_note: str | None = None
    table_kind: str | None = None

    @property
    def size_savings_bytes(self) -> int | None:
        if self.full_index_size_bytes is None:
            return None
        return self.full_index_size_bytes - self.estimated_size_bytes

    def as_dict(self) -> dict[str, Any]:
        c = self.candidate
        return {
            "ddl": "\n".join(self.steps) if self.steps else c.ddl(),
            "ddl_statements": list(self.steps) or [c.ddl()],
            "ddl_note": self.ddl_note, "table_kind": self.table_kind,
            "schema": c.schema, "table": c.table,
            "columns": list(c.columns), "include": list(c.include), "where": c.where,
            "estimated_size_bytes": self.estimated_size_bytes,
            "full_index_size_bytes": self.full_index_size_bytes,
            "size_savings_bytes": self.size_savings_bytes,
            "workload_cost_reduction_pct": self.workload_cost_reduction_pct,
            "affected_queries": list(self.affected_queries),
            "makes_redundant": list(self.makes_redundant),
            "confidence": self.confidence, "reasoning": self.reasoning,
        } | sa.described(c)  # fmt: skip


@dataclass(frozen=True)
class Advice:
    target: str
    mode: str
    recommendations: tuple[Recommendation, ...]
    partial: tuple[Recommendation, ...]
    statements: int
    parsed: int
    workload_cost_before: float | None
    workload_cost_after: float | None
    plans: int = 0
    notes: tuple[str, ...] = ()

    @property
    def reduction_pct(self) -> float | None:
        before, after = self.workload_cost_before, self.workload_cost_after
        if before is None or after is None or not before:
            return None
        return round(100 * (before - after) / before, 2)

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target, "mode": self.mode,
            "verified": self.mode == HYPOPG,
            "statements": self.statements, "parsed": self.parsed,
            "workload_cost_before": self.workload_cost_before,
            "workload_cost_after": self.workload_cost_after,
            "workload_cost_reduction_pct": self.reduction_pct,
            "plans": self.plans,
            "recommendations": [r.as_dict() for r in self.recommendations],
            "partial": [r.as_dict() for r in self.partial],
            "notes": list(self.notes),
        }  # fmt: skip


def catalog_of(tables: Mapping[str, TableStats]) -> dict[str, tuple[str, ...]]:
    return {name: t.columns for name, t in tables.items()}


def items_for(
    workload: Workload,
    tables: Mapping[str, TableStats],
    partials: Sequence[Candidate] = (),
    limit: int = 1000,
    observed: ov.Observed | None = None,
    views: Mapping[str, Any] | None = None,
) -> tuple[list[Item], list[Parsed]]:
    """Items to cost: each statement, and its value variants.

    A statement with observed parameter values is split over them (a custom plan
    per value, its observed share of the calls); else over the rare values the
    partial candidates target, each assumed asked for equally often.
    """
    catalog = catalog_of(tables)
    items: list[Item] = []
    parsed_all: list[Parsed] = []
    for s in workload.statements[:limit]:
        p = parse(s.text, catalog, views)
        parsed_all.append(p)
        if not p.parsed or not p.tables or p.command == "insert":
            continue
        shares = observed.shares(s) if observed else {}
        variants = _observed_variants(s.text, p, shares)
        if not variants:
            variants = _variants(s.text, p, tables, partials)
        left = max(0.0, 1.0 - sum(f for _t, f in variants))
        if left > 1e-6:
            items.append(Item(_share(s, left), p, s.text))
        for text, freq in variants:
            items.append(Item(_share(s, freq), p, text))
    return items, parsed_all


def _observed_variants(
    text: str, p: Parsed, shares: Mapping[tuple[str, str], Mapping[str, float]]
) -> list[tuple[str, float]]:
    """The text with the first observed ``col = $n`` replaced by each value seen.

    Only one column is substituted: values are counted per column, not jointly.
    """
    for name, access in p.tables.items():
        for pred in access.predicates:
            values = shares.get((name, pred.column))
            if pred.op != EQ or pred.number is None or not values:
                continue
            return [
                (hypo.substitute(text, {pred.number: value}), share)
                for value, share in values.items()
            ]
    return []


def _share(s: Statement, share: float) -> Statement:
    """``s`` for ``share`` of its calls (a rare value's share, or the rest)."""
    calls = max(1, round(s.calls * share))
    return replace(s, calls=calls, total_ms=s.total_ms * calls / max(s.calls, 1))


def _variants(
    text: str,
    p: Parsed,
    tables: Mapping[str, TableStats],
    partials: Sequence[Candidate],
) -> list[tuple[str, float]]:
    """The text with a parameter replaced by each rare value a partial targets.

    pg_stat_statements keeps no constants, so each value gets an even share of
    the calls (the generic plan's own assumption), not its share of the rows.
    """
    out: list[tuple[str, float]] = []
    for name, access in p.tables.items():
        for pred in access.predicates:
            if pred.op != EQ or pred.number is None or pred.folded:
                continue
            for c in partials:
                if c.table == name and c.where_column == pred.column:
                    assert c.where_value is not None
                    table = tables[name]
                    share = 1 / table.column(pred.column).distinct(table.rows)
                    value = {pred.number: c.where_value}
                    out.append((hypo.substitute(text, value), share))
    seen: dict[str, float] = {}
    for t, f in out:
        seen.setdefault(t, f)
    return list(seen.items())


def advise(
    conn: psycopg.Connection[Any] | None,
    target: str,
    workload: Workload,
    tables: Mapping[str, TableStats],
    existing: Sequence[IndexInfo],
    options: Options,
    notes: Sequence[str] = (),
    keys: frozenset[tuple[str, str]] = frozenset(),
    observed: ov.Observed | None = None,
    facts: Facts | None = None,
    relations: Relations | None = None,
    shapes: Shapes | None = None,
) -> Advice:
    """Recommendations for ``workload``; hypopg-verified when ``conn`` is given.

    ``keys`` are (table, column) pairs of foreign keys: never a partial predicate
    (one index per tenant or parent row is not an index strategy). ``observed``
    holds the parameter values the slow query capture saw the statements use;
    ``relations`` the kind of each table, for DDL that runs on it; ``shapes`` the
    views, collations and HOT update shares of the target.
    """
    shapes = shapes or Shapes()
    catalog = catalog_of(tables)
    statements = workload.statements[: options.max_statements]
    parsed = [parse(s.text, catalog, shapes.views) for s in statements]
    found = cand.generate(
        parsed, tables, existing, partial_max_fraction=options.partial_max_fraction,
        partial_min_top=options.partial_min_top, keys=keys,
        collate_c=shapes.collate_c,
    )  # fmt: skip
    evidence: dict[tuple[str, str], Any] = {}
    if observed:
        found = [c for c in found if c.where_column is None] + cand.observed_partials(
            parsed, tables, [observed.shares(s) for s in statements],
            partial_max_fraction=options.partial_max_fraction,
            partial_min_top=options.partial_min_top, keys=keys,
            collate_c=shapes.collate_c,
        )  # fmt: skip
        evidence = ov.per_column(observed, statements)
        notes = (*notes, _observed_note(observed, statements))
    verify, apart, more = sa.candidates(parsed, tables, existing, facts, conn)
    found, notes = [*found, *verify], (*notes, *more)
    found, more = rules.unique_order(found, existing)
    notes = (*notes, *more, *_foreign_notes(statements, relations))
    partials = [c for c in found if c.where_column is not None]
    items, _ = items_for(
        workload, tables, partials, options.max_statements, observed, shapes.views
    )
    n_parsed = sum(1 for p in parsed if p.parsed)
    kinds = _Kinds(relations, options.allow_lock)
    if conn is None:
        found, more = rules.other_method_heuristic(found, items, existing)
        notes = (*notes, *more)
        recs = heuristic(items, found, tables, existing, options.budget)
        recs += _unverified(apart, items, tables, options.budget)
        loose = [
            _partial_rec(c, tables[c.table], (), "unverified", evidence)
            for c in partials
        ]
        note = (
            "unverified: hypopg is not available, the recommendations are "
            "heuristic and not checked by the planner"
        )
        return Advice(
            target, HEURISTIC, kinds.all(recs), kinds.all(loose),
            len(workload.statements), n_parsed, None, None, 0,
            tuple(dict.fromkeys((*notes, *kinds.notes, note))),
        )  # fmt: skip
    with hypo.session(conn) as costing:
        found, measured, more = rules.other_method(found, items, existing, costing)
        notes = (*notes, *more)
        writes = write_load(statements, parsed, shapes.hot)
        selection = greedy(
            items, found, tables, existing, costing.cost, options.budget, writes=writes
        )
        partial_recs = _partial_advice(
            items, partials, tables, costing.cost, selection.base_cost, evidence
        )
        recs = [_recommendation(c, selection, evidence, measured)
                for c in selection.chosen]  # fmt: skip
        kept, more = rules.one_per_statement(
            recs, evidence, lambda c: _alone(items, c, costing.cost)
        )
        final = selection.final_cost
        if len(kept) < len(recs):
            final = _with(items, [r.candidate for r in kept], costing.cost)
        plans = costing.plans
    recs = kept + _unverified(apart, items, tables, options.budget)
    return Advice(
        target, HYPOPG, kinds.all(recs), kinds.all(partial_recs),
        len(workload.statements), n_parsed, round(selection.base_cost, 2),
        round(final, 2), plans, tuple(dict.fromkeys((*notes, *more, *kinds.notes))),
    )  # fmt: skip


def _alone(items: Sequence[Item], c: Candidate, cost: Any) -> float:
    """Workload cost ``c`` saves alone (calls x plan cost), measured."""
    gain = 0.0
    for i, item in enumerate(items):
        if applies(item, c):
            before, after = (
                cost(i, item.text, frozenset()),
                cost(i, item.text, frozenset({c})),
            )
            if before is not None and after is not None:
                gain += item.statement.calls * (before - after)
    return gain


def _with(items: Sequence[Item], chosen: Sequence[Candidate], cost: Any) -> float:
    """The workload's cost with ``chosen`` in place."""
    total = 0.0
    for i, item in enumerate(items):
        mine = frozenset(c for c in chosen if applies(item, c))
        total += item.statement.calls * (cost(i, item.text, mine) or 0.0)
    return total


@dataclass
class _Kinds:
    """Each recommendation with the DDL its relation's kind takes."""

    relations: Relations | None
    allow_lock: bool
    notes: list[str] = field(default_factory=list)

    def all(self, recs: Sequence[Recommendation]) -> tuple[Recommendation, ...]:
        return tuple(r for r in map(self.one, recs) if r is not None)

    def one(self, r: Recommendation) -> Recommendation | None:
        c = r.candidate
        rel = None if self.relations is None else self.relations.get(c.schema, c.table)
        if rel is None:
            return r
        if rel.kind == FOREIGN:
            if (skipped := skipped_foreign(rel)) not in self.notes:
                self.notes.append(skipped)
            return None
        prefix = f"CREATE INDEX ON {qualified(c.schema, c.table)}"
        text = c.statement().as_string(None)
        if not text.startswith(prefix):  # a statement of another shape: as it is
            return replace(r, table_kind=rel.kind)
        steps, note = index_steps(rel, c.name, text[len(prefix) :].strip(),
                                  self.allow_lock)  # fmt: skip
        why = r.reasoning + (f"; {note}" if note else "")
        return replace(r, steps=tuple(steps), ddl_note=note, table_kind=rel.kind,
                       reasoning=why)  # fmt: skip


def _foreign_notes(
    statements: Sequence[Statement], relations: Relations | None
) -> list[str]:
    """A line per foreign table the workload reads: no index advice for it."""
    foreign = relations.foreign() if relations is not None else []
    if not foreign:
        return []
    names = {f.name: f for f in foreign}
    found: dict[str, None] = {}
    for s in statements:
        for name in parse(s.text, dict.fromkeys(names, ())).tables:
            found.setdefault(skipped_foreign(names[name]))
    return list(found)


def _observed_note(observed: ov.Observed, statements: Sequence[Statement]) -> str:
    matched = sum(1 for s in statements if observed.counts(s))
    return (
        f"parameter values observed for {matched} of {len(statements)} statements "
        "(slow query log, activity samples): those are planned with their real "
        "constants and weighted by how often each was seen"
    )


def _value_note(c: Candidate, evidence: Mapping[tuple[str, str], Any]) -> str:
    """Where a partial index's value comes from: observed calls, or pg_stats."""
    assert c.where_column is not None
    if c.where_op != "=":
        return f"the statements ask for {c.where} themselves"
    counts = evidence.get((c.table, c.where_column))
    if counts:
        return ov.describe(counts, c.where_value)
    return (
        f"{rules.assumed_value(c)} (value assumed from pg_stats: each most common "
        "value is assumed asked for equally often)"
    )


def _recommendation(
    choice: Any,
    selection: Selection,
    evidence: Mapping[tuple[str, str], Any] | None = None,
    measured: Mapping[Candidate, rules.Measured] | None = None,
) -> Recommendation:
    c: Candidate = choice.candidate
    pct = (
        round(100 * choice.gain / selection.base_cost, 2) if selection.base_cost else 0
    )
    full = choice.full_size_bytes if c.where_column else None
    ratios = [q["cost_after"] / q["cost_before"] for q in choice.affected
              if q["cost_before"]]  # fmt: skip
    best = min(ratios) if ratios else 1.0
    confidence = "high" if best <= 0.5 and pct >= 5 else "medium"
    why = (
        f"verified with hypopg: cuts the planned cost of {len(choice.affected)} "
        f"statement(s) (best to {100 * best:.0f} % of before), {pct} % of the "
        f"workload's cost"
    )
    if choice.write_overhead:
        why += f"; write overhead counted ({choice.write_overhead:.0f} cost units)"
    if c.where_column:
        why += (
            f"; partial: only rows where {c.where} ({100 * c.where_fraction:.1f} % "
            f"of the table, from pg_stats); {_value_note(c, evidence or {})}"
        )
    if choice.redundant:
        why += "; makes " + ", ".join(choice.redundant) + " redundant"
    if measured and c in measured:
        why += "; " + measured[c].text()
    why += sa.note(c)
    return Recommendation(
        c, choice.size_bytes, full, pct, tuple(choice.affected),
        tuple(choice.redundant), confidence, why, choice.gain,
    )  # fmt: skip


def _partial_advice(
    items: Sequence[Item],
    partials: Sequence[Candidate],
    tables: Mapping[str, TableStats],
    cost: Any,
    base: float,
    evidence: Mapping[tuple[str, str], Any] | None = None,
) -> list[Recommendation]:
    """Each partial candidate alone: the statements it serves and its size savings.

    Listed when it is smaller than the full index and plans at least as cheaply
    as the indexes in place for the statements comparing with its value.
    """
    out = []
    for c in partials:
        table = tables[c.table]
        if c.size(table) >= c.full_size(table):
            continue
        affected = []
        gain = 0.0
        for i, item in enumerate(items):
            if c.table not in item.tables or c.where_value is None:
                continue
            if sql.Literal(c.where_value).as_string(None) not in item.text:
                continue
            before = cost(i, item.text, frozenset())
            after = cost(i, item.text, frozenset({c}))
            if before and after is not None and after <= before * 1.001:
                gain += item.statement.calls * max(before - after, 0.0)
                affected.append({
                    "queryid": str(item.statement.queryid),
                    "text": " ".join(item.statement.text.split())[:500],
                    "calls": item.statement.calls,
                    "total_ms": round(item.statement.total_ms, 1),
                    "cost_before": round(before, 2), "cost_after": round(after, 2),
                })  # fmt: skip
        if affected:
            better = any(q["cost_after"] < 0.99 * q["cost_before"] for q in affected)
            rec = _partial_rec(
                c, table, tuple(affected), "high" if better else "medium", evidence
            )
            pct = round(100 * gain / base, 2) if base else 0.0
            out.append(replace(rec, workload_cost_reduction_pct=pct))
    return sorted(out, key=lambda r: -(r.size_savings_bytes or 0))


def _partial_rec(
    c: Candidate,
    table: TableStats,
    affected: tuple[dict[str, Any], ...],
    conf: str,
    evidence: Mapping[tuple[str, str], Any] | None = None,
) -> Recommendation:
    size, full = c.size(table), c.full_size(table)
    why = (
        f"{c.where_column} is skewed (pg_stats): {c.where} matches "
        f"{100 * c.where_fraction:.1f} % of {table.rows:.0f} rows, so a partial index "
        f"is {100 * (1 - size / full):.0f} % smaller than the full one; "
        f"{_value_note(c, evidence or {})}"
    )
    if conf == "unverified":
        why += "; unverified: hypopg is not available"
    return Recommendation(c, size, full, None, affected, (), conf, why)


def heuristic(
    items: Sequence[Item],
    found: Sequence[Candidate],
    tables: Mapping[str, TableStats],
    existing: Sequence[IndexInfo],
    budget: Budget,
) -> list[Recommendation]:
    """Without hypopg: rank full-key candidates by the time share they may serve."""
    scores: dict[Candidate, float] = {}
    for c in found:
        if c.include:
            continue
        for item in items:
            access = item.parsed.tables.get(c.table)
            if access is None:
                continue
            keys = access.columns_with("eq", "null", "in", "range", "like_prefix")
            if (
                keys
                and c.columns[0] in keys
                and set(c.columns) <= set(keys) | {col for col, _ in access.order_by}
            ):
                literal = sql.Literal(c.where_value).as_string(None)
                if c.where_column and literal not in item.text:
                    continue
                scores[c] = scores.get(c, 0.0) + item.statement.weight
    ranked = sorted(scores, key=lambda c: -scores[c] / max(c.size(tables[c.table]), 1))
    out: list[Recommendation] = []
    spent = 0
    for c in ranked:
        table = tables[c.table]
        if table.rows < 1000 or scores[c] < budget.min_gain_pct / 100:
            continue
        size = c.size(table)
        if budget.max_bytes is not None and spent + size > budget.max_bytes:
            continue
        if budget.max_indexes is not None and len(out) >= budget.max_indexes:
            break
        spent += size
        why = (
            "unverified: hypopg is not available; statements filtering on these "
            f"columns take {100 * scores[c]:.1f} % of the workload's time"
        )
        full = c.full_size(table) if c.where_column else None
        out.append(Recommendation(c, size, full, None, (), tuple(
            redundant_existing(c, existing)), "unverified", why))  # fmt: skip
    return out


def _unverified(
    loose: Sequence[Candidate],
    items: Sequence[Item],
    tables: Mapping[str, TableStats],
    budget: Budget,
) -> list[Recommendation]:
    """GIN/GiST (and, without hypopg, every special) candidate: listed unverified."""
    listed = sa.unverified(loose, items, tables, budget)
    return [
        Recommendation(c, size, None, None, affected, (), "unverified", why)
        for c, size, affected, why in listed
    ]
