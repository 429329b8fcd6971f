"""What the target says about special index candidates: types, volatility, extensions.

Only IMMUTABLE functions and operators can be part of an index expression.
:func:`mutable_call` checks every call of an expression against ``pg_proc``: the
overloads of the function with as many arguments, narrowed to those whose argument
types match the columns passed (``date_trunc('day', "createdAt")`` is STABLE on a
``timestamptz``, IMMUTABLE on a ``timestamp``); when none matches exactly (an
implicit cast), every overload of that arity must be IMMUTABLE. An operator is
refused when a non-IMMUTABLE operator of that name fits the column types.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.advise.stats import TableStats
from pgwarden.advise.workload import Predicate, Workload

GROUP = "advisor_special"
VOLATILITY = {"i": "IMMUTABLE", "s": "STABLE", "v": "VOLATILE"}
_CALL_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_$]*)\s*\(")


@dataclass(frozen=True)
class ColumnType:
    type: str  # regtype text: jsonb, text[], tstzrange, timestamp with time zone
    category: str = "U"  # pg_type.typcategory: A array, G geometric, I network...
    typtype: str = "b"  # r range, m multirange, b base, d domain


@dataclass(frozen=True)
class Overload:
    name: str
    args: tuple[str, ...]  # argument types (an operator: left, right)
    volatile: str  # i, s, v


@dataclass(frozen=True)
class Facts:
    types: Mapping[tuple[str, str, str], ColumnType] = field(default_factory=dict)
    functions: tuple[Overload, ...] = ()
    mutable_operators: tuple[Overload, ...] = ()
    extensions: frozenset[str] = frozenset()

    def type_of(self, table: TableStats, column: str) -> ColumnType | None:
        return self.types.get((table.schema, table.name, column))


def mutable_call(p: Predicate, table: TableStats, facts: Facts) -> str | None:
    """Why the predicate's expression cannot be indexed, or None when it can."""
    for call in p.calls:
        types = tuple(_type_name(facts, table, a) for a in call.args)
        if call.operator:
            for o in facts.mutable_operators:
                args = o.args if len(types) == 2 else o.args[1:]
                if o.name == call.name and _fits(args, types):
                    return (
                        f"operator {call.name} ({', '.join(o.args)}) is "
                        f"{VOLATILITY.get(o.volatile, o.volatile)}, not IMMUTABLE"
                    )
            continue
        same = [
            f
            for f in facts.functions
            if f.name == call.name and len(f.args) == len(types)
        ]
        if not same:
            return f"{call.name}() with {len(types)} argument(s) is unknown here"
        chosen = [f for f in same if _fits(f.args, types)] or same
        bad = next((f for f in chosen if f.volatile != "i"), None)
        if bad is not None:
            return (
                f"{call.name}({', '.join(bad.args)}) is "
                f"{VOLATILITY.get(bad.volatile, bad.volatile)} "
                f"(pg_proc.provolatile = '{bad.volatile}'), not IMMUTABLE"
            )
    return None


def _type_name(facts: Facts, table: TableStats, column: str | None) -> str | None:
    if column is None:
        return None
    found = facts.type_of(table, column)
    return found.type if found else None


def _fits(args: Iterable[str], types: tuple[str | None, ...]) -> bool:
    args = tuple(args)
    if len(args) != len(types):
        return False
    pairs = zip(args, types, strict=True)
    return all(t is None or a == t or a.startswith("any") for a, t in pairs)


def gather(conn: psycopg.Connection[Any], workload: Workload) -> Facts:
    """Column types, the volatility of the functions the workload names, extensions."""
    names = sorted({m.lower() for s in workload.statements
                    for m in _CALL_RE.findall(s.text)})  # fmt: skip
    with pg.guarded("index advisor (special candidates)"):
        types = pg.fetch_all(conn, pg.query(GROUP, "column_types"))
        funcs = pg.fetch_all(conn, pg.query(GROUP, "functions"), [names])
        ops = pg.fetch_all(conn, pg.query(GROUP, "mutable_operators"))
        exts = pg.fetch_all(conn, pg.query(GROUP, "extensions"))
    return from_rows(types, funcs, ops, exts)


def from_rows(
    types: Iterable[Mapping[str, Any]],
    functions: Iterable[Mapping[str, Any]] = (),
    operators: Iterable[Mapping[str, Any]] = (),
    extensions: Iterable[Mapping[str, Any]] = (),
) -> Facts:
    return Facts(
        {
            (r["schema"], r["table"], r["column"]): ColumnType(
                r["type"], r["category"], r["typtype"]
            )
            for r in types
        },
        tuple(
            Overload(r["name"], tuple(r["args"] or ()), r["volatile"])
            for r in functions
        ),
        tuple(
            Overload(r["name"], (r["left_type"], r["right_type"]), r["volatile"])
            for r in operators
        ),
        frozenset(r["name"] for r in extensions),
    )
