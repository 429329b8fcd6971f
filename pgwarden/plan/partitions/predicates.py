"""Which columns the workload filters and joins on, per table (pglast).

Every SELECT, UPDATE and DELETE scope of a statement text counts once for each
table it reads, and once for each of that table's columns that appears in its
WHERE, HAVING or JOIN ... ON conditions. Aliases are resolved per scope (with the
enclosing scopes for correlated subqueries); an unqualified column is given to the
table of the scope that has it. Texts that do not parse (truncated ones) are
counted apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    tables: dict[str, TableUsage] = field(default_factory=dict)
    parsed: int = 0
    unparsed: int = 0

    def of(self, table: str) -> TableUsage:
        return self.tables.get(table, TableUsage())


@dataclass
class _Scope:
    parent: _Scope | None
    names: dict[str, str] = field(default_factory=dict)
    tables: list[str] = field(default_factory=list)

    def lookup(self, qualifier: str) -> str | None:
        scope: _Scope | None = self
        while scope is not None:
            if qualifier in scope.names:
                return scope.names[qualifier]
            scope = scope.parent
        return None


class _Walker:
    def __init__(self, catalog: Mapping[str, Iterable[str]]) -> None:
        self.catalog = {t: set(cols) for t, cols in catalog.items()}
        self.found: list[tuple[list[str], set[tuple[str, str]]]] = []

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
        columns: set[tuple[str, str]] = set()
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
            if name in self.catalog:
                scope.names[alias] = name
                scope.tables.append(name)
        elif isinstance(node, ast.JoinExpr):
            self.source(node.larg, scope, preds)
            self.source(node.rarg, scope, preds)
            preds.append(node.quals)
        elif isinstance(node, ast.RangeSubselect):
            self.statement(node.subquery, scope)

    def columns(self, node: Any, scope: _Scope, out: set[tuple[str, str]]) -> None:
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

    def resolve(self, ref: Any, scope: _Scope) -> tuple[str, str] | None:
        names = [str(f.sval) for f in ref.fields if isinstance(f, ast.String)]
        if len(names) != len(ref.fields) or not names:
            return None
        column = names[-1]
        if len(names) >= 2:
            table = scope.lookup(names[-2])
            return (table, column) if table is not None else None
        current: _Scope | None = scope
        while current is not None:
            having = [t for t in current.tables if column in self.catalog.get(t, ())]
            if len(having) == 1:
                return having[0], column
            current = current.parent
        return None


def usage(
    statements: Iterable[tuple[str, int]], catalog: Mapping[str, Iterable[str]]
) -> Usage:
    """Column usage of ``(text, calls)`` pairs over tables ``name -> columns``."""
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
    result: Usage, found: list[tuple[list[str], set[tuple[str, str]]]], calls: int
) -> None:
    tables: set[str] = set()
    columns: set[tuple[str, str]] = set()
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
