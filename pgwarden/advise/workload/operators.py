"""Predicates beyond plain columns: expressions, index operators, infix LIKE, KNN.

The workload reader (:mod:`pgwarden.advise.workload.reader`) hands every comparison to
:func:`comparison` first, and every ORDER BY item to :func:`ordering`. They record:

- ``expr_eq`` / ``expr_range`` / ``expr_like``: an expression on the columns of one
  table (``lower(email) = $1``, ``(payload ->> 'kind') = $1``) compared by equality,
  a range or a LIKE prefix. The expression must be made of columns, constants,
  function calls, operators and casts only; a parameter inside it (a constant
  pg_stat_statements folded, as in ``date_trunc($2, "createdAt")``) makes it
  unindexable (recorded as ``expr_param``, for a note). The text is pglast's
  deparse with the table qualifiers removed; the functions and operators it calls
  are kept for the IMMUTABLE check, which needs the target
  (``pg_proc.provolatile``, :mod:`pgwarden.advise.indexes.special.candidates`).
- ``operator``: a GIN/GiST operator (``@>``, ``<@``, ``?``, ``?|``, ``?&``, ``&&``,
  ``@@``, range and geometric operators) between a column (or, for ``@@``, an
  expression such as ``to_tsvector('english', body)``) and a value.
- ``like_infix``: ``ILIKE`` with any pattern, or ``LIKE`` with any pattern but a
  literal left-anchored one: a literal ``'%…'``, a parameter (``LIKE $1``: it may
  hold ``'%x'``, and a generic plan cannot use a B-tree for it), or
  ``'%' || $1 || '%'`` (which pg_stat_statements keeps as ``$2 || $1 || $3``). Only
  a literal ``'abc%'`` stays a prefix predicate (of the plain reader, or
  ``expr_like`` on an expression), for a B-tree.
- ``knn``: ``ORDER BY column <-> value``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from pglast import ast
from pglast.enums.parsenodes import A_Expr_Kind
from pglast.stream import RawStream

from pgwarden.advise.workload.model import (
    Predicate,
    Resolver,
    Scope,
    TableAccess,
    constant,
    like_prefix,
)
from pgwarden.sqltext import ONE_LEVEL, walk

EXPR_EQ, EXPR_RANGE, EXPR_LIKE = "expr_eq", "expr_range", "expr_like"
EXPR_PARAM = "expr_param"  # compared, but holds a parameter: not indexable
OPERATOR, LIKE_INFIX, KNN = "operator", "like_infix", "knn"
EXPRESSION_OPS = frozenset({EXPR_EQ, EXPR_RANGE, EXPR_LIKE})
INDEX_OPS = frozenset({
    "@>", "<@", "?", "?|", "?&", "&&", "@@", "@?", "-|-", "<<", ">>", "&<", "&>",
    "~=", "<<=", ">>=",
})  # fmt: skip
#: the operator with its operands swapped (``$1 <@ tags`` is ``tags @> $1``)
COMMUTED = {
    "@>": "<@", "<@": "@>", "&&": "&&", "@@": "@@", "-|-": "-|-", "~=": "~=",
    "<<": ">>", ">>": "<<", "<<=": ">>=", ">>=": "<<=",
}  # fmt: skip
_RANGE = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}


@dataclass(frozen=True)
class Call:
    """A function or operator an expression calls, for the IMMUTABLE check."""

    name: str
    args: tuple[str | None, ...]  # the column an argument is, when it is one
    operator: bool = False


@dataclass(frozen=True)
class Expression:
    access: TableAccess
    text: str  # deparsed, columns unqualified
    refs: tuple[str, ...]
    calls: tuple[Call, ...]
    param: bool = False  # holds a $n: not indexable


def comparison(reader: Resolver, node: Any, scope: Scope) -> bool:
    """Record ``node`` when it is one of this module's shapes (True: handled)."""
    op = str(node.name[-1].sval) if node.name else ""
    if node.kind in (A_Expr_Kind.AEXPR_LIKE, A_Expr_Kind.AEXPR_ILIKE):
        return _like(reader, node, scope, op)
    if node.kind != A_Expr_Kind.AEXPR_OP or isinstance(node.rexpr, list | tuple):
        return False
    if op in INDEX_OPS:
        return _operator(reader, node, scope, op)
    if op == "=" or op in _RANGE:
        return _compared(reader, node, scope, op)
    return False


def ordering(reader: Resolver, node: Any, scope: Scope) -> None:
    """``ORDER BY column <-> value``: a KNN predicate of the column's table."""
    if not isinstance(node, ast.A_Expr) or node.kind != A_Expr_Kind.AEXPR_OP:
        return
    if not node.name or str(node.name[-1].sval) != "<->":
        return
    for side, other in ((node.lexpr, node.rexpr), (node.rexpr, node.lexpr)):
        found = reader.resolve(side, scope)
        if found is not None and not _has_columns(other):
            _add(found[0], found[1], KNN, operator="<->")
            return


def _compared(reader: Resolver, node: Any, scope: Scope, op: str) -> bool:
    for side, other in ((node.lexpr, node.rexpr), (node.rexpr, node.lexpr)):
        if reader.resolve(side, scope) is not None:
            return False  # a plain column: the plain reader's
        expr = indexable(reader, side, scope, params=True)
        if expr is not None and not _has_columns(other):
            kind = EXPR_EQ if op == "=" else EXPR_RANGE
            _add_expression(expr, EXPR_PARAM if expr.param else kind)
            return True
    return False


def _operator(reader: Resolver, node: Any, scope: Scope, op: str) -> bool:
    sides = [(node.lexpr, node.rexpr, op)]
    if op in COMMUTED:
        sides.append((node.rexpr, node.lexpr, COMMUTED[op]))
    for side, other, oper in sides:
        if side is None or _has_columns(other):
            continue
        found = reader.resolve(side, scope)
        if found is not None:
            _add(found[0], found[1], OPERATOR, operator=oper)
            return True
        expr = indexable(reader, side, scope)
        if expr is not None:
            _add_expression(expr, OPERATOR, oper)
            return True
    return False


def _like(reader: Resolver, node: Any, scope: Scope, op: str) -> bool:
    if op not in ("~~", "~~*"):
        return False  # NOT LIKE: no index helps
    if _has_columns(node.rexpr):
        return False
    value, _param = constant(node.rexpr)
    # only a literal left-anchored pattern is a B-tree's; a parameter may hold
    # anything ('%x'), so it takes a trigram index like an infix pattern
    prefix = op == "~~" and value is not None and like_prefix(value)
    found = reader.resolve(node.lexpr, scope)
    if found is not None:
        if prefix:
            return False  # a literal prefix on a plain column: the plain reader's
        _add(found[0], found[1], LIKE_INFIX, operator=op)
        return True
    expr = indexable(reader, node.lexpr, scope)
    if expr is None:
        return False
    _add_expression(expr, EXPR_LIKE if prefix else LIKE_INFIX, op)
    return True


def indexable(
    reader: Resolver, node: Any, scope: Scope, params: bool = False
) -> Expression | None:
    """``node`` as an index expression on one table, or None.

    With ``params``, an expression holding parameters is returned, flagged.
    """
    if node is None or isinstance(node, ast.ColumnRef | ast.ParamRef | ast.A_Const):
        return None
    if isinstance(node, ast.TypeCast) and isinstance(node.arg, ast.ColumnRef):
        return None  # the plain reader takes a cast column as the column
    walker = _Walker(reader, scope)
    if not walker.visit(node) or not walker.refs or len(walker.accesses) != 1:
        return None
    if walker.param and not params:
        return None
    clean = copy.deepcopy(node)
    for ref in _column_refs(clean):  # the base column (a view's may be renamed)
        found = reader.resolve(ref, scope)
        name = found[1] if found is not None else str(ref.fields[-1].sval)
        ref.fields = (ast.String(sval=name),)
    return Expression(
        walker.accesses[0], RawStream()(clean), tuple(dict.fromkeys(walker.refs)),
        tuple(walker.calls), walker.param,
    )  # fmt: skip


class _Walker:
    """Checks an expression's nodes, collecting its columns and calls."""

    def __init__(self, reader: Resolver, scope: Scope) -> None:
        self.reader, self.scope = reader, scope
        self.refs: list[str] = []
        self.accesses: list[TableAccess] = []
        self.calls: list[Call] = []
        self.param = False

    def visit(self, node: Any) -> bool:
        if isinstance(node, ast.A_Const):
            return True
        if isinstance(node, ast.ParamRef):
            self.param = True
            return True
        if isinstance(node, ast.ColumnRef):
            found = self.reader.resolve(node, self.scope)
            if found is None:
                return False
            self.refs.append(found[1])
            if all(a is not found[0] for a in self.accesses):
                self.accesses.append(found[0])
            return True
        if isinstance(node, ast.TypeCast):
            return self.visit(node.arg)
        if isinstance(node, ast.FuncCall):
            return self._function(node)
        if isinstance(node, ast.A_Expr) and node.kind == A_Expr_Kind.AEXPR_OP:
            operands = [n for n in (node.lexpr, node.rexpr) if n is not None]
            if not all(self.visit(n) for n in operands):
                return False
            name = str(_items(node.name)[-1].sval)
            self.calls.append(
                Call(name, tuple(self._column(n) for n in operands), True)
            )
            return True
        return False

    def _column(self, node: Any) -> str | None:
        """The base column an argument is (None: a cast or not a column)."""
        if not isinstance(node, ast.ColumnRef):
            return None  # a cast: the argument's type is the cast's, unknown here
        found = self.reader.resolve(node, self.scope)
        return found[1] if found is not None else None

    def _function(self, node: Any) -> bool:
        if node.agg_star or node.agg_distinct or node.over is not None:
            return False
        if node.agg_order or node.agg_filter is not None:
            return False
        args = tuple(node.args or ())
        if not all(self.visit(a) for a in args):
            return False
        name = str(_items(node.funcname)[-1].sval)
        self.calls.append(Call(name, tuple(self._column(a) for a in args)))
        return True


def _items(value: Any) -> tuple[Any, ...]:
    return tuple(value or ())


def _column_refs(node: Any) -> list[Any]:
    return [n for n in walk(node, ONE_LEVEL) if isinstance(n, ast.ColumnRef)]


def _has_columns(node: Any) -> bool:
    found = walk(node, ONE_LEVEL)
    return any(isinstance(n, ast.ColumnRef | ast.SubLink) for n in found)


def _add(access: TableAccess, column: str, op: str, operator: str) -> None:
    access.predicates.append(Predicate(column, op, operator=operator))


def _add_expression(expr: Expression, op: str, operator: str | None = None) -> None:
    found = Predicate(
        expr.refs[0], op, expression=expr.text, operator=operator,
        refs=expr.refs, calls=expr.calls,
    )  # fmt: skip
    expr.access.predicates.append(found)
