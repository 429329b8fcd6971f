"""The workload the advisors work on: statements, their weight and what they ask.

A :class:`Statement` is one normalised statement of pg_stat_statements (from
pgwarden's history, or read live) with its calls and time; its weight is its share
of the workload's total time. :func:`parse` reads a text with pglast and returns,
per table it reads, the predicates (equality, IN, range, IS NULL, LIKE prefix),
join keys, ORDER BY, GROUP BY, LIMIT and OFFSET, and the columns it touches.
Texts that do not parse (truncated ones) are kept with ``parsed = False``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pglast import ast, parse_sql
from pglast.enums.parsenodes import A_Expr_Kind, SortByDir
from pglast.enums.primnodes import BoolExprType, NullTestType
from pglast.parser import ParseError

from pgwarden.advise.workload import operators
from pgwarden.advise.workload.model import (
    EQ,
    IN,
    LIKE,
    NULL,
    OPS_RANGE,
    RANGE,
    Parsed,
    Predicate,
    Scope,
    Statement,
    TableAccess,
    constant,
    items,
    like_prefix,
)
from pgwarden.sqltext import ONE_LEVEL, walk

_PARAM_RE = re.compile(r"\$(\d+)")
_COMMENT_RE = re.compile(r"/\*.*?\*/|--[^\n]*", re.DOTALL)


@dataclass(frozen=True)
class Workload:
    statements: tuple[Statement, ...]
    total_ms: float

    def parsed(self, catalog: Mapping[str, Iterable[str]]) -> list[Parsed]:
        return [parse(s.text, catalog) for s in self.statements]


def weighted(statements: Iterable[Statement]) -> Workload:
    """The statements with their weight: share of the workload's total time."""
    kept = [s for s in statements if s.calls > 0]
    total = sum(s.total_ms for s in kept)
    out = tuple(
        sorted(
            (replace(s, weight=s.total_ms / total if total else 0.0) for s in kept),
            key=lambda s: (-s.total_ms, s.queryid),
        )
    )
    return Workload(out, total)


class _Reader:
    def __init__(self, catalog: Mapping[str, Iterable[str]]) -> None:
        self.catalog = {t: set(c) for t, c in catalog.items()}
        self.result = Parsed()

    def statement(self, node: Any, parent: Scope | None) -> None:
        if isinstance(node, ast.SelectStmt) and node.larg is not None:
            self.statement(node.larg, parent)
            self.statement(node.rarg, parent)
            return
        scope = Scope(parent)
        where: Any = None
        quals: list[Any] = []
        others: list[Any] = [getattr(node, "withClause", None)]
        if isinstance(node, ast.SelectStmt):
            for source in node.fromClause or ():
                self.source(source, scope, quals)
            where = node.whereClause
            others += [node.targetList, node.havingClause, node.valuesLists]
        elif isinstance(node, ast.UpdateStmt | ast.DeleteStmt):
            self.source(node.relation, scope, quals)
            extra = node.fromClause if isinstance(node, ast.UpdateStmt) else None
            for source in extra or getattr(node, "usingClause", None) or ():
                self.source(source, scope, quals)
            where = node.whereClause
            others.append(getattr(node, "targetList", None))
            self.result.written.add(_relname(node))
        elif isinstance(node, ast.InsertStmt):
            self.result.written.add(_relname(node))
            others += [node.selectStmt, node.onConflictClause]
            self.scan(others, scope)
            return
        else:
            self.scan(node, scope)
            return
        self.conditions(where, scope)
        for qual in quals:
            self.conditions(qual, scope)
        self.scan(others, scope)
        if isinstance(node, ast.SelectStmt):
            self.clauses(node, scope)
        for key, access in scope.accesses.items():
            self.result.tables.setdefault(access.table, access)
            del key

    def clauses(self, node: Any, scope: Scope) -> None:
        for sort in node.sortClause or ():
            operators.ordering(self, sort.node, scope)
            found = self.resolve(sort.node, scope)
            if found is not None:
                desc = sort.sortby_dir == SortByDir.SORTBY_DESC
                found[0].order_by.append((found[1], desc))
        for item in node.groupClause or ():
            found = self.resolve(item, scope)
            if found is not None:
                found[0].group_by.append(found[1])
        if node.limitCount is not None:
            self.result.limit = True
        if node.limitOffset is not None:
            self.result.offset = _offset(node.limitOffset)

    def source(self, node: Any, scope: Scope, quals: list[Any]) -> None:
        if isinstance(node, ast.RangeVar):
            name = str(node.relname)
            alias = str(node.alias.aliasname) if node.alias is not None else name
            if name in self.catalog:
                scope.aliases[alias] = name
                scope.accesses[alias] = TableAccess(name, alias)
        elif isinstance(node, ast.JoinExpr):
            self.source(node.larg, scope, quals)
            self.source(node.rarg, scope, quals)
            quals.append(node.quals)
        elif isinstance(node, ast.RangeSubselect):
            self.statement(node.subquery, scope)

    def conditions(self, node: Any, scope: Scope) -> None:
        if node is None:
            return
        if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.AND_EXPR:
            for arg in items(node.args):
                self.conditions(arg, scope)
            return
        if isinstance(node, ast.A_Expr):
            self.expression(node, scope)
        elif isinstance(node, ast.NullTest):
            found = self.resolve(node.arg, scope)
            if found is not None and node.nulltesttype == NullTestType.IS_NULL:
                found[0].predicates.append(Predicate(found[1], NULL))
        self.scan(node, scope)

    def expression(self, node: Any, scope: Scope) -> None:
        if operators.comparison(self, node, scope):
            return
        op = str(node.name[-1].sval) if node.name else ""
        kind = node.kind
        left = self.resolve(node.lexpr, scope)
        right = (
            self.resolve(node.rexpr, scope)
            if not isinstance(node.rexpr, tuple | list)
            else None
        )
        if kind == A_Expr_Kind.AEXPR_OP and op == "=" and left and right:
            left[0].join_keys.append(left[1])
            right[0].join_keys.append(right[1])
            return
        if left is None and right is not None and kind == A_Expr_Kind.AEXPR_OP:
            left, node_r = right, node.lexpr
            op = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)
        else:
            node_r = node.rexpr
        if left is None:
            if isinstance(node.lexpr, ast.RowExpr) and op in OPS_RANGE:
                first = self.resolve(items(node.lexpr.args)[0], scope)
                if first is not None:
                    first[0].predicates.append(Predicate(first[1], RANGE, param=True))
            return
        access, column = left
        value, param = constant(node_r)
        if kind == A_Expr_Kind.AEXPR_OP and op == "=":
            inner = node_r.arg if isinstance(node_r, ast.TypeCast) else node_r
            number = inner.number if isinstance(inner, ast.ParamRef) else None
            access.predicates.append(Predicate(column, EQ, value, param, number))
        elif kind == A_Expr_Kind.AEXPR_OP_ANY and op == "=":
            access.predicates.append(Predicate(column, IN, None, param))
        elif kind == A_Expr_Kind.AEXPR_IN and op == "=":
            access.predicates.append(Predicate(column, IN, _in_values(node_r)))
        elif kind == A_Expr_Kind.AEXPR_OP and op in OPS_RANGE:
            access.predicates.append(Predicate(column, RANGE, value, param))
        elif kind in (A_Expr_Kind.AEXPR_BETWEEN, A_Expr_Kind.AEXPR_NOT_BETWEEN):
            if kind == A_Expr_Kind.AEXPR_BETWEEN:
                access.predicates.append(Predicate(column, RANGE))
        elif kind == A_Expr_Kind.AEXPR_LIKE and op == "~~":
            if param or (value is not None and like_prefix(value)):
                access.predicates.append(Predicate(column, LIKE, value, param))

    def scan(self, node: Any, scope: Scope) -> None:
        """Columns touched, and sub-statements read with ``scope`` as parent."""
        for child in walk(node, ONE_LEVEL):
            if isinstance(child, ast.SubLink):
                self.statement(child.subselect, scope)
            elif isinstance(child, ast.CommonTableExpr):
                self.statement(child.ctequery, scope)
            elif isinstance(child, ast.ColumnRef):
                self.resolve(child, scope)
            elif isinstance(child, ast.SelectStmt | ast.UpdateStmt | ast.DeleteStmt):
                self.statement(child, scope)

    def resolve(self, ref: Any, scope: Scope) -> tuple[TableAccess, str] | None:
        """The table access and column a plain column reference names."""
        if isinstance(ref, ast.TypeCast):
            ref = ref.arg
        if not isinstance(ref, ast.ColumnRef):
            return None
        fields = items(ref.fields)
        names = [str(f.sval) for f in fields if isinstance(f, ast.String)]
        if len(names) != len(fields) or not names:
            return None
        column = names[-1]
        if len(names) >= 2:
            access = scope.lookup(names[-2])
            found = (access, column) if access is not None else None
        else:
            found = self._unqualified(column, scope)
        if found is not None and column in self.catalog.get(found[0].table, ()):
            found[0].columns.add(column)
            return found
        return None

    def _unqualified(self, column: str, scope: Scope) -> tuple[TableAccess, str] | None:
        current: Scope | None = scope
        while current is not None:
            having = [
                a
                for a in current.accesses.values()
                if column in self.catalog.get(a.table, ())
            ]
            if len(having) == 1:
                return having[0], column
            current = current.parent
        return None


def _relname(node: Any) -> str:
    return str(node.relation.relname)


def _in_values(node: Any) -> str | None:
    if not isinstance(node, list | tuple):
        return None
    values = [constant(item)[0] for item in node]
    if any(v is None for v in values):
        return None
    return ",".join(str(v) for v in values)


def _offset(node: Any) -> int | None:
    value, param = constant(node)
    if param:
        return -1
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def parse(text: str, catalog: Mapping[str, Iterable[str]]) -> Parsed:
    """What ``text`` asks of the tables of ``catalog`` (``table -> columns``)."""
    reader = _Reader(catalog)
    try:
        stmts = parse_sql(text)
    except ParseError:
        return Parsed(parsed=False)
    for raw in stmts:
        node = raw.stmt
        reader.result.command = _command(node)
        if isinstance(node, ast.ExplainStmt | ast.PrepareStmt):
            continue
        reader.statement(node, None)
    folded = folded_constants(text)
    if folded:
        for access in reader.result.tables.values():
            access.predicates = [
                replace(p, folded=True) if p.number in folded else p
                for p in access.predicates
            ]
    return reader.result


def folded_constants(text: str) -> frozenset[int]:
    """Parameters that were constants of the text before pg_stat_statements.

    It numbers the constants it replaces after the client's own parameters, in
    the order they appear; a ``$n`` followed later in the text by a lower number
    is therefore one of them (the same value on every call, but unknown).
    """
    seq = [int(n) for n in _PARAM_RE.findall(_COMMENT_RE.sub(" ", text))]
    return frozenset(n for i, n in enumerate(seq) if any(m < n for m in seq[i + 1 :]))


def _command(node: Any) -> str:
    names = {
        ast.SelectStmt: "select", ast.UpdateStmt: "update",
        ast.DeleteStmt: "delete", ast.InsertStmt: "insert",
    }  # fmt: skip
    return names.get(type(node), "other")


def statements_from_rows(rows: Sequence[Mapping[str, Any]]) -> list[Statement]:
    """Statements from rows with the columns of :class:`Statement` (extra ignored)."""
    wanted = Statement.__dataclass_fields__.keys() - {"weight"}
    return [
        Statement(**{k: _plain(r[k]) for k in wanted if k in r and r[k] is not None})
        for r in rows
    ]


def _plain(value: Any) -> Any:
    if isinstance(value, int | float | str):
        return value
    return float(value)
