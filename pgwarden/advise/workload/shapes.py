"""Statement shapes the reader sees through, by the planner's own rules.

- **WITH queries** (PostgreSQL 12+): one is inlined like a subquery when it is a
  plain ``SELECT``, not recursive, calls no volatile function, takes no row lock,
  and is either ``NOT MATERIALIZED`` or referenced once; otherwise (or ``AS
  MATERIALIZED``) it is a fence: the predicates inside it count, those applied to
  its output do not reach its tables.
- **Subqueries, inlined WITH queries and views** pass the predicates on their
  output down to the base column an output column is, unless the planner would
  not push them down: a set operation, LIMIT/OFFSET, a window function.
- **ORDER BY** names an output column by position (``ORDER BY 2``) or by its
  select-list alias (preferred to an input column of that name).
- **Views** are read from their definition (``pg_get_viewdef``), parsed once.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pglast import ast, parse_sql
from pglast.enums.parsenodes import CTEMaterialize
from pglast.parser import ParseError

from pgwarden.advise.workload.model import items
from pgwarden.sqltext import walk

#: volatile functions an application's WITH query may call (they stop inlining)
VOLATILE = frozenset({
    "random", "nextval", "setval", "clock_timestamp", "timeofday", "gen_random_uuid",
    "uuid_generate_v4", "uuid_generate_v1", "txid_current", "pg_sleep", "currval",
    "lastval", "statement_timestamp", "random_normal",
})  # fmt: skip
MAX_VIEW_TEXT = 200_000  # a longer definition is not read (its view stays opaque)


def names(value: Any) -> tuple[str, ...]:
    """Column names of an alias or a WITH query's column list."""
    return tuple(str(v.sval) for v in items(value) if isinstance(v, ast.String))


def renamed(columns: tuple[str, ...], new: tuple[str, ...]) -> tuple[str, ...]:
    """``columns`` with the first ones renamed by ``new`` (an alias's list)."""
    return tuple(new[i] if i < len(new) else c for i, c in enumerate(columns))


def leftmost(query: Any) -> Any:
    """The SELECT whose select list names a set operation's columns."""
    seen = 0
    while isinstance(query, ast.SelectStmt) and query.larg is not None and seen < 1000:
        query, seen = query.larg, seen + 1
    return query


def is_star(ref: Any) -> bool:
    fields = items(ref.fields)
    return bool(fields) and isinstance(fields[-1], ast.A_Star)


def default_name(val: Any) -> str:
    """The name PostgreSQL gives an output column without an alias."""
    if isinstance(val, ast.TypeCast):
        return default_name(val.arg)
    if isinstance(val, ast.ColumnRef):
        last = items(val.fields)[-1] if val.fields else None
        return str(getattr(last, "sval", "?column?"))
    if isinstance(val, ast.FuncCall) and val.funcname:
        return str(getattr(items(val.funcname)[-1], "sval", "?column?"))
    return "?column?"


def output(node: Any, select: Any) -> Any:
    """The expression an ORDER BY item names: an output column by position or,
    for a bare name, by alias (else the item itself)."""
    targets = items(getattr(select, "targetList", None))
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.Integer):
        n = int(node.val.ival or 0)
        if 1 <= n <= len(targets):
            val = getattr(targets[n - 1], "val", None)
            if not (isinstance(val, ast.ColumnRef) and is_star(val)):
                return val
        return node
    if isinstance(node, ast.ColumnRef) and len(items(node.fields)) == 1:
        name = getattr(items(node.fields)[0], "sval", None)
        for target in targets:
            if name is not None and target.name is not None and target.name == name:
                return target.val
    return node


def pushdown(query: Any) -> bool:
    """Predicates on the output of ``query`` reach its tables (planner's rules)."""
    if not isinstance(query, ast.SelectStmt) or query.larg is not None:
        return False
    if query.limitCount is not None or query.limitOffset is not None:
        return False
    if query.lockingClause:
        return False
    return not any(
        isinstance(n, ast.FuncCall) and n.over is not None
        for n in walk(query.targetList)
    )


def inlined(cte: Any, clause: Any, statement: Any) -> bool:
    """The planner inlines the WITH query ``cte`` of ``statement`` (PG 12+)."""
    if cte.ctematerialized == CTEMaterialize.CTEMaterializeAlways:
        return False
    query = cte.ctequery
    if not isinstance(query, ast.SelectStmt) or _side_effects(query):
        return False
    name = str(cte.ctename)
    if clause.recursive and references(query, name):
        return False
    if cte.ctematerialized == CTEMaterialize.CTEMaterializeNever:
        return True
    return references(statement, name) == 1


def references(node: Any, name: str) -> int:
    """How often ``node`` names the relation ``name`` without a schema."""
    return sum(
        1
        for n in walk(node)
        if isinstance(n, ast.RangeVar) and n.schemaname is None and n.relname == name
    )


def _side_effects(query: Any) -> bool:
    for n in walk(query):
        if isinstance(n, ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt):
            return True
        if isinstance(n, ast.LockingClause):
            return True
        if isinstance(n, ast.FuncCall) and n.funcname:
            last = items(n.funcname)[-1]
            if str(getattr(last, "sval", "")).lower() in VOLATILE:
                return True
    return False


@lru_cache(maxsize=512)
def view_tree(definition: str) -> Any:
    """The SELECT of a view's definition, parsed once (None if it does not read)."""
    if len(definition) > MAX_VIEW_TEXT:
        return None
    try:
        stmts = parse_sql(definition)
    except (ParseError, RecursionError):
        return None
    if len(stmts) != 1 or not isinstance(stmts[0].stmt, ast.SelectStmt):
        return None
    return stmts[0].stmt
