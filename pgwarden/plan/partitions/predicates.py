"""Which columns the workload filters and joins on, per table (pglast).

Every SELECT, UPDATE and DELETE scope of a statement text counts once for each
table it reads, and once for each of that table's columns that appears in its
WHERE, HAVING or JOIN ... ON conditions. Aliases are resolved per scope (with the
enclosing scopes for correlated subqueries); an unqualified column is given to the
table of the scope that has it. Texts that do not parse (truncated ones) are
counted apart.

Tables are known by oid, never by bare name: two schemas may hold tables of the same
name. A schema-qualified name finds its table; an unqualified one the table an
unqualified name finds on the search path (``pg_table_is_visible``), else the only
table of that name, else none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pglast import ast, parse_sql
from pglast.parser import ParseError

from pgwarden.sqltext import SUBQUERIES, walk


@dataclass
class TableUsage:
    """Statements (and their calls) reading a table, and those filtering per column."""

    statements: int = 0
    calls: int = 0
    columns: dict[str, list[int]] = field(default_factory=dict)

    def share(self, column: str) -> float:
        """Share of the table's statements (by calls, else count) on ``column``."""
        found = self.columns.get(column)
        if not found:
            return 0.0
        if self.calls:
            return found[1] / self.calls
        return found[0] / self.statements if self.statements else 0.0


@dataclass
class Usage:
    """Column usage per table oid."""

    tables: dict[int, TableUsage] = field(default_factory=dict)
    parsed: int = 0
    unparsed: int = 0

    def of(self, oid: int) -> TableUsage:
        return self.tables.get(oid, TableUsage())


@dataclass(frozen=True)
class Relation:
    """A table statements may read: its oid, schema, name and columns."""

    oid: int
    schema: str
    name: str
    columns: tuple[str, ...] = ()
    #: an unqualified name finds this table (``pg_table_is_visible``)
    visible: bool = False


class Catalog:
    """The target's tables, found by schema-qualified or unqualified name."""

    def __init__(self, relations: Iterable[Relation]) -> None:
        found = list(relations)
        self.columns = {r.oid: frozenset(r.columns) for r in found}
        self._qualified = {(r.schema, r.name): r.oid for r in found}
        named: dict[str, list[Relation]] = {}
        for r in found:
            named.setdefault(r.name, []).append(r)
        self._unqualified: dict[str, int] = {}
        for name, same in named.items():
            visible = [r for r in same if r.visible]
            if len(visible) == 1 or len(same) == 1:
                self._unqualified[name] = (visible or same)[0].oid

    def find(self, schema: str | None, name: str) -> int | None:
        """The oid of ``schema.name``, or of ``name`` as the search path finds it."""
        if schema:
            return self._qualified.get((schema, name))
        return self._unqualified.get(name)


@dataclass
class _Scope:
    parent: _Scope | None
    names: dict[str, int] = field(default_factory=dict)
    tables: list[int] = field(default_factory=list)

    def lookup(self, qualifier: str) -> int | None:
        scope: _Scope | None = self
        while scope is not None:
            if qualifier in scope.names:
                return scope.names[qualifier]
            scope = scope.parent
        return None


class _Walker:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.found: list[tuple[list[int], set[tuple[int, str]]]] = []

    def statement(self, node: Any, parent: _Scope | None) -> None:
        if isinstance(node, ast.SelectStmt) and node.larg is not None:
            self.statement(node.larg, parent)
            self.statement(node.rarg, parent)
            return
        scope = _Scope(parent)
        preds: list[Any] = []
        others: list[Any] = [getattr(node, "withClause", None)]
        reads = True
        if isinstance(node, ast.SelectStmt):
            sources = list(node.fromClause or ())
            preds += [node.whereClause, node.havingClause]
            others += [node.targetList, node.valuesLists]
        elif isinstance(node, ast.UpdateStmt):
            sources = [node.relation, *(node.fromClause or ())]
            preds.append(node.whereClause)
            others.append(node.targetList)
        elif isinstance(node, ast.DeleteStmt):
            sources = [node.relation, *(node.usingClause or ())]
            preds.append(node.whereClause)
        elif isinstance(node, ast.InsertStmt):
            sources, reads = [], False
            others += [node.selectStmt, node.onConflictClause]
        else:
            self.scan(node, parent)
            return
        for source in sources:
            self.source(source, scope, preds)
        columns: set[tuple[int, str]] = set()
        for pred in preds:
            self.columns(pred, scope, columns)
        for other in others:
            self.scan(other, scope)
        if reads and scope.tables:
            self.found.append((scope.tables, columns))

    def source(self, node: Any, scope: _Scope, preds: list[Any]) -> None:
        if isinstance(node, ast.RangeVar):
            name = str(node.relname)
            alias = str(node.alias.aliasname) if node.alias is not None else name
            oid = self.catalog.find(node.schemaname, name)
            if oid is not None:
                scope.names[alias] = oid
                scope.tables.append(oid)
        elif isinstance(node, ast.JoinExpr):
            self.source(node.larg, scope, preds)
            self.source(node.rarg, scope, preds)
            preds.append(node.quals)
        elif isinstance(node, ast.RangeSubselect):
            self.statement(node.subquery, scope)

    def columns(self, node: Any, scope: _Scope, out: set[tuple[int, str]]) -> None:
        for child in walk(node, SUBQUERIES):
            if isinstance(child, ast.SubLink):
                self.statement(child.subselect, scope)
            elif isinstance(child, ast.ColumnRef):
                found = self.resolve(child, scope)
                if found is not None:
                    out.add(found)

    def scan(self, node: Any, scope: _Scope | None) -> None:
        for child in walk(node, SUBQUERIES):
            if isinstance(child, ast.SubLink):
                self.statement(child.subselect, scope)
            elif isinstance(child, ast.CommonTableExpr):
                self.statement(child.ctequery, scope)
            elif isinstance(child, ast.SelectStmt | ast.UpdateStmt | ast.DeleteStmt):
                self.statement(child, scope)

    def resolve(self, ref: Any, scope: _Scope) -> tuple[int, str] | None:
        names = [str(f.sval) for f in ref.fields if isinstance(f, ast.String)]
        if len(names) != len(ref.fields) or not names:
            return None
        column = names[-1]
        if len(names) >= 2:
            table = scope.lookup(names[-2])
            return (table, column) if table is not None else None
        current: _Scope | None = scope
        while current is not None:
            having = [t for t in current.tables if column in self.catalog.columns[t]]
            if len(having) == 1:
                return having[0], column
            current = current.parent
        return None


def usage(statements: Iterable[tuple[str, int]], catalog: Catalog) -> Usage:
    """Column usage of ``(text, calls)`` pairs over the catalog's tables, by oid."""
    result = Usage()
    for text, calls in statements:
        walker = _Walker(catalog)
        try:
            for raw in parse_sql(text):
                walker.statement(raw.stmt, None)
        except ParseError:
            result.unparsed += 1
            continue
        result.parsed += 1
        _add(result, walker.found, calls)
    return result


def _add(
    result: Usage, found: list[tuple[list[int], set[tuple[int, str]]]], calls: int
) -> None:
    tables: set[int] = set()
    columns: set[tuple[int, str]] = set()
    for scope_tables, scope_columns in found:
        tables.update(scope_tables)
        columns.update(scope_columns)
    for table in tables:
        entry = result.tables.setdefault(table, TableUsage())
        entry.statements += 1
        entry.calls += calls
    for table, column in columns:
        entry = result.tables.setdefault(table, TableUsage())
        counts = entry.columns.setdefault(column, [0, 0])
        counts[0] += 1
        counts[1] += calls
