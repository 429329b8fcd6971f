"""What the workload reader finds: statements, predicates, table accesses.

:mod:`.reader` reads a text with pglast into these shapes; :mod:`.operators` adds
the expression, index-operator and KNN predicates through the same shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pglast import ast

from pgwarden.sqltext import caller_from_comments, normalise

OPS_RANGE = frozenset({"<", "<=", ">", ">="})
EQ, IN, RANGE, NULL, LIKE = "eq", "in", "range", "null", "like_prefix"
NOT_NULL = "not_null"


@dataclass(frozen=True)
class Statement:
    """One statement of the workload with its counters over the period."""

    queryid: int
    text: str
    calls: int
    total_ms: float
    rows: int = 0
    plans: int = 0
    total_plan_ms: float = 0.0
    shared_blks_hit: int = 0
    shared_blks_read: int = 0
    temp_blks_written: int = 0
    weight: float = 0.0

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0

    @property
    def caller(self) -> str | None:
        """The application caller named by the text's sqlcommenter/marginalia tag."""
        return caller_from_comments(normalise(self.text).comments)


@dataclass(frozen=True)
class Predicate:
    column: str
    op: str  # eq, in, range, null, not_null, like_prefix
    value: str | None = None  # a literal constant, when the text has one
    param: bool = False  # compared with a $n parameter
    number: int | None = None  # that parameter's number
    folded: bool = False  # a constant pg_stat_statements turned into $n
    # expression, operator and KNN predicates (pgwarden.advise.workload.operators):
    expression: str | None = None  # the indexable expression, deparsed
    operator: str | None = None  # @>, &&, @@, ~~*, <-> ...
    refs: tuple[str, ...] = ()  # the columns the expression reads
    calls: tuple[Any, ...] = ()  # its functions and operators (workload_ops.Call)


@dataclass
class TableAccess:
    """What one statement asks of one table."""

    table: str
    alias: str
    predicates: list[Predicate] = field(default_factory=list)
    join_keys: list[str] = field(default_factory=list)
    order_by: list[tuple[str, bool]] = field(default_factory=list)  # (col, desc)
    #: NULLS FIRST of each ``order_by`` entry (the default: DESC sorts them first)
    nulls_first: list[bool] = field(default_factory=list)
    group_by: list[str] = field(default_factory=list)
    columns: set[str] = field(default_factory=set)

    def columns_with(self, *ops: str) -> list[str]:
        seen: list[str] = []
        for p in self.predicates:
            if p.op in ops and p.column not in seen:
                seen.append(p.column)
        return seen


@dataclass(frozen=True)
class View:
    """A view of the target: its columns and its definition (``pg_get_viewdef``)."""

    name: str
    columns: tuple[str, ...]
    definition: str


@dataclass(frozen=True)
class Shapes:
    """What the reader and the candidates need of the target beyond the columns:
    its views, the collation of its text columns and how its updates go."""

    views: Mapping[str, View] = field(default_factory=dict)
    #: (table, column) -> its collation is C (or POSIX), for every collatable column
    collate_c: Mapping[tuple[str, str], bool] | None = None
    #: table -> share of its updates that were HOT (pg_stat_user_tables)
    hot: Mapping[str, float] = field(default_factory=dict)


@dataclass
class Parsed:
    """A statement's text read by pglast."""

    command: str = ""  # select, update, delete, insert, other
    tables: dict[str, TableAccess] = field(default_factory=dict)
    limit: bool = False
    offset: int | None = None  # the constant, or -1 for a parameter
    parsed: bool = True
    written: set[str] = field(default_factory=set)
    inserted: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    updated: dict[str, set[str]] = field(default_factory=dict)  # table -> SET columns

    def access(self, table: str) -> TableAccess | None:
        return self.tables.get(table)


#: where a column of a derived relation comes from: a base table's column, or
#: None (an expression, or a fence the planner does not push predicates through)
Target = tuple[TableAccess, str] | None


@dataclass
class Derived:
    """A relation of FROM made of a statement: a subquery, a CTE or a view."""

    columns: dict[str, Target] = field(default_factory=dict)  # in output order


@dataclass(frozen=True)
class Cte:
    """A WITH query as the statements below it see it."""

    query: Any
    colnames: tuple[str, ...]
    inline: bool  # the planner inlines it (else it is a fence)
    scope: Scope | None  # where it was defined: the parent of its body
    derived: Derived | None = None  # a fence's columns, read once


@dataclass
class Scope:
    """The tables of one statement level by alias, and its enclosing level."""

    parent: Scope | None
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> table
    accesses: dict[str, TableAccess] = field(default_factory=dict)  # alias -> access
    derived: dict[str, Derived] = field(default_factory=dict)  # alias -> relation
    order: list[str] = field(default_factory=list)  # aliases in FROM order
    ctes: dict[str, Cte] = field(default_factory=dict)

    def lookup(self, qualifier: str) -> TableAccess | None:
        scope: Scope | None = self
        while scope is not None:
            if qualifier in scope.accesses:
                return scope.accesses[qualifier]
            scope = scope.parent
        return None

    def cte(self, name: str) -> Cte | None:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.ctes:
                return scope.ctes[name]
            scope = scope.parent
        return None


class Resolver(Protocol):
    """The reader as the operators see it: it resolves plain column references."""

    def resolve(self, ref: Any, scope: Scope) -> tuple[TableAccess, str] | None: ...


def items(value: Any) -> tuple[Any, ...]:
    return tuple(value or ())


def constant(node: Any) -> tuple[str | None, bool]:
    """(literal text, is a parameter) of the compared side."""
    if isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.ParamRef):
        return None, True
    if isinstance(node, ast.A_Const) and not node.isnull and node.val is not None:
        val = node.val
        for attr in ("sval", "ival", "fval", "boolval"):
            if hasattr(val, attr):
                return str(getattr(val, attr)), False
    return None, False


def like_prefix(pattern: str) -> bool:
    return bool(pattern) and pattern[0] not in "%_"
