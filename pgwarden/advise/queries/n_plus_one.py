"""N+1: a cheap single-row statement run many times per run of a parent statement.

Every source pgwarden has is read, and combined into one finding per (caller,
parent, child):

- ``pg_stat_statements`` (history or live): the child's calls per call of the
  parent, and the parent's rows per call (a parent returning ~n rows drives a loop
  of n);
- caller tags (sqlcommenter/marginalia) in the statement texts;
- the slow query log (server log, activity samples, application reports): the
  callers of each execution, and the order in which one backend (or one reporting
  caller) ran them, see :mod:`pgwarden.advise.queries.sequence`.

``pg_stat_statements`` keeps one text per statement, tagged by whichever caller ran
it first. A statement run by several callers is credited to each of them in
proportion to its executions per caller in the slow query log (all of it to the
tagged caller when the log holds none), and every finding lists all its callers.

Confidence: ``high`` when the sequence of executions shows the child repeated
right after the parent and the call ratio agrees; ``medium`` from the call ratio of
statements of a known caller; ``low`` from the ratio alone (no caller anywhere),
only when the parent's rows per call match the ratio. A pair whose logged
executions mostly hold the child away from the parent (the log holding most of
them) is not an N+1 and is not reported.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pgwarden.advise.queries.findings import QueryFinding, short
from pgwarden.advise.queries.sequence import (
    Execution,
    Runs,
    executions_by_caller,
    sequence,
    streams,
)
from pgwarden.advise.workload import EQ, Parsed, Statement
from pgwarden.config import AdvisorSettings
from pgwarden.sqltext import normalise

#: without a caller, a parent's rows per call must match the ratio this closely
LOW_MAX_MISS = 0.25
#: rows per call above which a statement is not a single-row lookup
MAX_CHILD_ROWS = 1.5


def lookup_param(p: Parsed) -> tuple[str, str, int] | None:
    """(table, column, $n) of a single-table SELECT by equality on a parameter."""
    if p.command != "select" or not p.tables:
        return None
    for name, access in p.tables.items():
        for pred in access.predicates:
            if pred.op == EQ and pred.number is not None:
                return name, pred.column, pred.number
    return None


def batched(text: str, number: int) -> str:
    """``text`` (comments left out) with ``= $n`` turned into ``= ANY($n)``."""
    plain = " ".join(normalise(text).text.split())
    return re.sub(rf"=\s*\${number}\b", f"= ANY(${number})", plain, count=1)


def caller_shares(
    statements: Iterable[Statement], logged: Mapping[int, Counter[str]]
) -> dict[int, dict[str, float]]:
    """Per statement, each caller's share of its calls (none known: empty)."""
    out: dict[int, dict[str, float]] = {}
    for s in statements:
        counts = Counter(logged.get(s.queryid, {}))
        tagged = s.caller
        if tagged and tagged not in counts:
            counts[tagged] = 1  # it ran the statement at least once
        total = sum(counts.values())
        out[s.queryid] = {c: n / total for c, n in counts.items()} if total else {}
    return out


@dataclass(frozen=True)
class _Pair:
    caller: str | None
    child: Statement
    parent: Statement
    child_calls: float  # credited to the caller
    parent_calls: float
    runs: Runs

    @property
    def ratio(self) -> float:
        return self.child_calls / self.parent_calls

    @property
    def miss(self) -> float:
        """How far the parent's rows per call are from the ratio (0: a loop of n)."""
        rows = self.parent.rows / self.parent.calls
        return abs(rows - self.ratio) / self.ratio

    @property
    def confidence(self) -> str:
        if self.caller is None:
            return "low"
        return "high" if self.runs.supports else "medium"


@dataclass(frozen=True)
class _Inputs:
    settings: AdvisorSettings
    shares: Mapping[int, Mapping[str, float]]
    logged: Mapping[int, Counter[str]]
    #: per (statement, caller): its executions by source, the streams it ran in
    by_source: Mapping[tuple[int, str], Counter[str]]
    streams_of: Mapping[tuple[int, str], Mapping[Any, Sequence[Execution]]]


def n_plus_one(
    statements: Sequence[Statement],
    parsed: Sequence[Parsed],
    settings: AdvisorSettings,
    executions: Sequence[Execution] = (),
) -> list[QueryFinding]:
    """One finding per (caller, parent, child) loop, with each source's evidence."""
    logged = executions_by_caller(executions)
    inputs = _Inputs(settings, caller_shares(statements, logged), logged,
                     *_index(executions))  # fmt: skip
    groups: dict[str | None, list[tuple[Statement, Parsed]]] = {}
    for s, p in zip(statements, parsed, strict=True):
        for caller in inputs.shares[s.queryid] or [None]:
            groups.setdefault(caller, []).append((s, p))
    out = []
    for caller, group in groups.items():
        for child, cp in group:
            lookup = lookup_param(cp)
            if lookup is None or not child.calls:
                continue
            if child.rows / child.calls > MAX_CHILD_ROWS:
                continue
            pair = _parent(inputs, caller, child, group)
            if pair is not None:
                out.append(_finding(inputs, pair, lookup))
    return out


def _credited(inputs: _Inputs, caller: str | None, s: Statement) -> float:
    share = 1.0 if caller is None else inputs.shares[s.queryid].get(caller, 0.0)
    return s.calls * share


def _parent(
    inputs: _Inputs,
    caller: str | None,
    child: Statement,
    group: Sequence[tuple[Statement, Parsed]],
) -> _Pair | None:
    """The statement of the caller that best explains the child's calls as a loop."""
    settings = inputs.settings
    child_calls = _credited(inputs, caller, child)
    if child_calls < settings.n_plus_one_min_calls:
        return None
    pairs = []
    for s, _p in group:
        parent_calls = _credited(inputs, caller, s)
        if s.queryid == child.queryid or parent_calls <= 0:
            continue
        if child_calls / parent_calls < settings.n_plus_one_ratio:
            continue
        runs = Runs()
        if caller is not None and (child.queryid, caller) in inputs.streams_of:
            ran_in = inputs.streams_of[(child.queryid, caller)]
            runs = sequence(ran_in, caller, s.queryid, child.queryid)
        pair = _Pair(caller, child, s, child_calls, parent_calls, runs)
        if runs.contradicts(_coverage(inputs, pair)):
            continue  # logged executions show the child away from this parent
        if caller is None and pair.miss > LOW_MAX_MISS:
            continue  # the ratio alone, and the rows do not tell a loop
        pairs.append(pair)
    return min(pairs, key=_rank, default=None)


def _rank(pair: _Pair) -> tuple[bool, float, int]:
    """Sequence evidence first, then rows per call matching the ratio."""
    return (not pair.runs.supports, pair.miss, pair.parent.queryid)


def _coverage(inputs: _Inputs, pair: _Pair) -> float:
    """The share of the pair's (credited) calls the slow query log holds."""
    if pair.caller is None:
        return 0.0
    child = inputs.logged.get(pair.child.queryid, Counter())[pair.caller]
    parent = inputs.logged.get(pair.parent.queryid, Counter())[pair.caller]
    return min(child / pair.child_calls, parent / pair.parent_calls)


def _index(
    executions: Iterable[Execution],
) -> tuple[
    dict[tuple[int, str], Counter[str]],
    dict[tuple[int, str], dict[Any, Sequence[Execution]]],
]:
    """Per (statement, caller): executions by source, and the streams it ran in."""
    by_source: dict[tuple[int, str], Counter[str]] = {}
    streams_of: dict[tuple[int, str], dict[Any, Sequence[Execution]]] = {}
    for key, items in streams(executions).items():
        for e in items:
            if e.statement is not None and e.caller is not None:
                by_source.setdefault((e.statement, e.caller), Counter())[e.source] += 1
                streams_of.setdefault((e.statement, e.caller), {})[key] = items
    return by_source, streams_of


def _finding(
    inputs: _Inputs, pair: _Pair, lookup: tuple[str, str, int]
) -> QueryFinding:
    table, column, number = lookup
    child, parent = pair.child, pair.parent
    fix = (
        f"load the {table} rows in one statement instead of one per row of the "
        f"parent: `{batched(child.text, number)}` with an array of the "
        f'"{column}" values the parent returned (or join {table} in the parent)'
    )
    removed = pair.child_calls - pair.parent_calls  # one batched call per parent call
    evidence = {
        "confidence": pair.confidence, "caller": pair.caller,
        "callers": _callers(inputs, child), "child_calls": round(pair.child_calls),
        "parent_calls": round(pair.parent_calls),
        "calls_per_parent_call": round(pair.ratio, 1),
        "parent_rows_per_call": round(parent.rows / parent.calls, 1),
        "parent_queryid": str(parent.queryid), "parent_query": short(parent.text, 200),
        "child_mean_ms": round(child.mean_ms, 3),
        "child_total_ms": round(pair.child_calls * child.mean_ms, 1),
        "round_trips_removed": round(removed),
        "sources": _sources(inputs, pair),
    }  # fmt: skip
    severity = "info" if pair.confidence == "low" else "warning"
    return QueryFinding("n_plus_one", child.queryid, short(child.text), evidence, fix,
                        removed * child.mean_ms, pair.caller, severity)  # fmt: skip


def _callers(inputs: _Inputs, child: Statement) -> list[dict[str, Any]]:
    shares = inputs.shares[child.queryid]
    return [
        {"caller": c, "share": round(share, 3), "calls": round(child.calls * share)}
        for c, share in sorted(shares.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _sources(inputs: _Inputs, pair: _Pair) -> dict[str, Any]:
    """What each source says about the pair."""
    child, parent = pair.child, pair.parent
    out: dict[str, Any] = {
        "pg_stat_statements": {
            "child_calls": child.calls, "parent_calls": parent.calls,
            "parent_rows": parent.rows},
        "caller_tag": child.caller,
    }  # fmt: skip
    if pair.caller is not None:
        logged = inputs.by_source.get((child.queryid, pair.caller), Counter())
        out["slow_query_log"] = dict(sorted(logged.items()))
        if pair.runs.observed or pair.runs.parent_runs:
            out["sequence"] = pair.runs.as_dict()
    return out
