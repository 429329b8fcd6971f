"""The workload the advisors work on: statements, their weight and what they ask.

A :class:`Statement` is one normalised statement of pg_stat_statements (from
pgwarden's history, or read live) with its calls and time; its weight is its share
of the workload's total time. :func:`parse` reads a text with pglast and returns,
per table it reads, the predicates (equality, IN, range, IS [NOT] NULL, LIKE
prefix), join keys, ORDER BY (by position and select-list alias too, with its
directions), GROUP BY, LIMIT and OFFSET, the columns it touches, and the tables it
inserts into, updates (with the columns SET) and deletes from.

Subqueries in FROM, WITH queries and views are seen through as the planner does
(:mod:`.shapes`): a predicate on a column of one that is a base table's column
is a predicate on that table, unless a fence stands between (a materialized WITH
query, LIMIT, a window function, a set operation).
Texts that do not parse (truncated ones) are kept with ``parsed = False``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pglast import ast, parse_sql
from pglast.enums.parsenodes import A_Expr_Kind, SortByDir, SortByNulls
from pglast.enums.primnodes import BoolExprType, NullTestType
from pglast.parser import ParseError

from pgwarden.advise.workload import operators, shapes
from pgwarden.advise.workload.model import (
    EQ,
    IN,
    LIKE,
    NOT_NULL,
    NULL,
    OPS_RANGE,
    RANGE,
    Cte,
    Derived,
    Parsed,
    Predicate,
    Scope,
    Statement,
    TableAccess,
    Target,
    View,
    constant,
    items,
    like_prefix,
)
from pgwarden.sqltext import ONE_LEVEL, walk

MAX_DEPTH = 16  # nested derived relations (views of views) read at most
MAX_EXPANDED = 256  # derived relations read per statement at most
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
    def __init__(
        self,
        catalog: Mapping[str, Iterable[str]],
        views: Mapping[str, View] | None = None,
    ) -> None:
        self.ordered = {t: tuple(c) for t, c in catalog.items()}
        self.catalog = {t: set(c) for t, c in self.ordered.items()}
        self.views = views or {}
        self.result = Parsed()
        self.depth = 0  # derived relations being read, nested
        self.expanded = 0  # derived relations read in all

    def statement(
        self, node: Any, parent: Scope | None, derived: bool = False
    ) -> Scope | None:
        """Read one statement level; its scope (None for a set operation)."""
        if isinstance(node, ast.SelectStmt) and node.larg is not None:
            self.statement(node.larg, parent)
            self.statement(node.rarg, parent)
            return None
        scope = Scope(parent)
        if getattr(node, "withClause", None) is not None:
            self.ctes(node.withClause, node, scope)
        where: Any = None
        quals: list[Any] = []
        others: list[Any] = []
        if isinstance(node, ast.SelectStmt):
            for source in node.fromClause or ():
                self.source(source, scope, quals)
            where = node.whereClause
            targets = [t for t in items(node.targetList) if not derived or not
                       isinstance(getattr(t, "val", None), ast.ColumnRef)]  # fmt: skip
            others += [targets, node.havingClause, node.valuesLists]
        elif isinstance(node, ast.UpdateStmt | ast.DeleteStmt):
            self.source(node.relation, scope, quals)
            extra = node.fromClause if isinstance(node, ast.UpdateStmt) else None
            for source in extra or getattr(node, "usingClause", None) or ():
                self.source(source, scope, quals)
            where = node.whereClause
            others.append(getattr(node, "targetList", None))
            self._written(node)
        elif isinstance(node, ast.InsertStmt):
            self._written(node)
            others += [node.selectStmt, node.onConflictClause]
            self.scan(others, scope)
            return scope
        else:
            self.scan(node, scope)
            return scope
        self.conditions(where, scope)
        for qual in quals:
            self.conditions(qual, scope)
        self.scan(others, scope)
        if isinstance(node, ast.SelectStmt):
            self.clauses(node, scope)
        for access in scope.accesses.values():
            self.result.tables.setdefault(access.table, access)
        return scope

    def _written(self, node: Any) -> None:
        table = _relname(node)
        self.result.written.add(table)
        if isinstance(node, ast.InsertStmt):
            self.result.inserted.add(table)
        elif isinstance(node, ast.DeleteStmt):
            self.result.deleted.add(table)
        else:
            changed = {str(t.name) for t in items(node.targetList) if t.name}
            self.result.updated.setdefault(table, set()).update(changed)

    def ctes(self, clause: Any, node: Any, scope: Scope) -> None:
        """The WITH queries: inlined ones are read where FROM names them, the
        others (fences) once here, their predicates counted, their columns opaque."""
        defs = Scope(scope.parent)  # a WITH query does not see its statement's FROM
        scope.ctes = defs.ctes
        for cte in items(clause.ctes):
            if not isinstance(cte, ast.CommonTableExpr):
                continue
            names = shapes.names(cte.aliascolnames)
            if shapes.inlined(cte, clause, node):
                defs.ctes[str(cte.ctename)] = Cte(cte.ctequery, names, True, defs)
                continue
            inner = self.statement(cte.ctequery, defs)  # its columns are read here
            derived = self.outputs(cte.ctequery, inner, names, fence=True)
            defs.ctes[str(cte.ctename)] = Cte(cte.ctequery, names, False, defs, derived)

    def clauses(self, node: Any, scope: Scope) -> None:
        for sort in node.sortClause or ():
            key = shapes.output(sort.node, node)
            operators.ordering(self, key, scope)
            found = self.resolve(key, scope)
            if found is not None:
                desc = sort.sortby_dir == SortByDir.SORTBY_DESC
                first = (
                    desc
                    if sort.sortby_nulls == SortByNulls.SORTBY_NULLS_DEFAULT
                    else sort.sortby_nulls == SortByNulls.SORTBY_NULLS_FIRST
                )
                found[0].order_by.append((found[1], desc))
                found[0].nulls_first.append(first)
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
            renamed = shapes.names(getattr(node.alias, "colnames", None))
            cte = scope.cte(name) if node.schemaname is None else None
            if cte is not None:
                self.cte_source(cte, alias, renamed, scope)
            elif name in self.catalog:
                scope.aliases[alias] = name
                scope.accesses[alias] = TableAccess(name, alias)
                scope.order.append(alias)
            elif name in self.views:
                view = self.views[name]
                tree = shapes.view_tree(view.definition)
                if tree is not None:
                    names = shapes.renamed(view.columns, renamed)
                    self.derive(tree, alias, names, None, scope)
        elif isinstance(node, ast.JoinExpr):
            self.source(node.larg, scope, quals)
            self.source(node.rarg, scope, quals)
            quals.append(node.quals)
        elif isinstance(node, ast.RangeSubselect):
            named = str(node.alias.aliasname) if node.alias is not None else None
            renamed = shapes.names(getattr(node.alias, "colnames", None))
            self.derive(node.subquery, named, renamed, scope, scope)

    def cte_source(
        self, cte: Cte, alias: str, renamed: tuple[str, ...], scope: Scope
    ) -> None:
        names = shapes.renamed(cte.colnames, renamed)
        if cte.inline:
            self.derive(cte.query, alias, names, cte.scope, scope)
        elif cte.derived is not None:
            columns = list(cte.derived.columns)
            fenced = dict.fromkeys(shapes.renamed(tuple(columns), renamed))
            scope.derived[alias] = Derived(dict(fenced))
            scope.order.append(alias)

    def derive(
        self,
        query: Any,
        alias: str | None,
        names: tuple[str, ...],
        parent: Scope | None,
        scope: Scope,
    ) -> None:
        """A subquery, inlined CTE or view of FROM: read, its columns mapped to the
        base columns they are (a predicate on them is one on the base table)."""
        if self.depth >= MAX_DEPTH or self.expanded >= MAX_EXPANDED:
            return
        self.expanded += 1
        passes = shapes.pushdown(query)
        self.depth += 1
        try:  # through a fence the columns are read here, not where they are used
            inner = self.statement(query, parent, derived=passes)
        finally:
            self.depth -= 1
        derived = self.outputs(query, inner, names, fence=not passes)
        if alias is not None:
            scope.derived[alias] = derived
            scope.order.append(alias)

    def outputs(
        self, query: Any, inner: Scope | None, names: tuple[str, ...], fence: bool
    ) -> Derived:
        """The output columns of ``query`` read in ``inner``, by name."""
        found: list[tuple[str, Target]] = []
        for target in items(getattr(shapes.leftmost(query), "targetList", None)):
            val = getattr(target, "val", None)
            if isinstance(val, ast.ColumnRef) and shapes.is_star(val):
                found += self.star(val, inner) if inner is not None else []
                continue
            name = str(target.name) if target.name else shapes.default_name(val)
            resolved = self.resolve(val, inner, mark=False) if inner else None
            plain = isinstance(val, ast.ColumnRef | ast.TypeCast)
            found.append((name, resolved if plain else None))
        renamed = shapes.renamed(tuple(n for n, _t in found), names)
        columns: dict[str, Target] = {}
        for name, (_n, target) in zip(renamed, found, strict=True):
            columns.setdefault(name, None if fence or inner is None else target)
        return Derived(columns)

    def star(self, ref: Any, scope: Scope) -> list[tuple[str, Target]]:
        """The columns ``*`` or ``alias.*`` stands for."""
        fields = items(ref.fields)
        if len(fields) >= 2:
            qualifier = str(getattr(fields[-2], "sval", ""))
            aliases = [qualifier] if qualifier in scope.order else []
        else:
            aliases = list(scope.order)
        out: list[tuple[str, Target]] = []
        for alias in aliases:
            if alias in scope.accesses:
                access = scope.accesses[alias]
                out += [(c, (access, c)) for c in self.ordered.get(access.table, ())]
            elif alias in scope.derived:
                out += list(scope.derived[alias].columns.items())
        return out

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
            if found is not None:
                null = node.nulltesttype == NullTestType.IS_NULL
                found[0].predicates.append(Predicate(found[1], NULL if null
                                                     else NOT_NULL))  # fmt: skip
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
            if value is not None and like_prefix(value):
                access.predicates.append(Predicate(column, LIKE, value, param))

    def scan(self, node: Any, scope: Scope) -> None:
        """Columns touched, and sub-statements read with ``scope`` as parent."""
        for child in walk(node, ONE_LEVEL):
            if isinstance(child, ast.SubLink):
                self.statement(child.subselect, scope)
            elif isinstance(child, ast.ColumnRef):
                self.resolve(child, scope)
            elif isinstance(child, ast.SelectStmt | ast.UpdateStmt | ast.DeleteStmt):
                self.statement(child, scope)

    def resolve(
        self, ref: Any, scope: Scope, mark: bool = True
    ) -> tuple[TableAccess, str] | None:
        """The table access and column a plain column reference names (through
        subqueries, inlined CTEs and views to the base table)."""
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
            found = self._qualified(names[-2], column, scope)
        else:
            found = self._unqualified(column, scope)
        if found is not None and found[1] in self.catalog.get(found[0].table, ()):
            if mark:
                found[0].columns.add(found[1])
            return found
        return None

    def _qualified(self, qualifier: str, column: str, scope: Scope) -> Target:
        current: Scope | None = scope
        while current is not None:
            if qualifier in current.accesses:
                return current.accesses[qualifier], column
            if qualifier in current.derived:
                return current.derived[qualifier].columns.get(column)
            current = current.parent
        return None

    def _unqualified(self, column: str, scope: Scope) -> Target:
        current: Scope | None = scope
        while current is not None:
            having: list[Target] = [
                (a, column)
                for a in current.accesses.values()
                if column in self.catalog.get(a.table, ())
            ]
            having += [
                d.columns[column]
                for d in current.derived.values()
                if column in d.columns
            ]
            if len(having) == 1:
                return having[0]
            if having:
                return None  # ambiguous
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


def parse(
    text: str,
    catalog: Mapping[str, Iterable[str]],
    views: Mapping[str, View] | None = None,
) -> Parsed:
    """What ``text`` asks of the tables of ``catalog`` (``table -> columns``).

    A view of ``views`` (a name the catalog does not hold) is read through its
    definition: what the statement asks of the view's columns, it asks of the
    base tables' columns they are.
    """
    reader = _Reader(catalog, views)
    try:
        stmts = parse_sql(text)
        for raw in stmts:
            node = raw.stmt
            reader.result.command = _command(node)
            if isinstance(node, ast.ExplainStmt | ast.PrepareStmt):
                continue
            reader.statement(node, None)
    except (ParseError, RecursionError):
        return Parsed(parsed=False)
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
