"""Candidates beyond plain B-tree columns: expression B-trees, GIN, GiST and BRIN.

- **Expression B-tree** for ``lower(email) = $1``, ``(payload ->> 'kind') = $1``,
  ``lower(title) LIKE $1`` (``text_pattern_ops``), alone and after the statement's
  equality columns; refused, with a note, when a function or operator of the
  expression is not IMMUTABLE (:func:`special_facts.mutable_call`).
- **GIN**: jsonb ``@>`` only → ``jsonb_path_ops``, with ``?``/``?|``/``?&`` →
  ``jsonb_ops``; arrays ``@>``/``<@``/``&&``; ``tsvector`` (or a ``to_tsvector``
  expression) ``@@``; ``LIKE '%…'``/``ILIKE`` → ``gin_trgm_ops`` when pg_trgm is
  installed, otherwise a note that it is needed and no candidate.
- **GiST**: range and geometric operators (``&&``, ``@>``, ``<@``, ``<<``, ``-|-``
  ...), ``ORDER BY col <-> value`` on geometric types; ``inet_ops`` for networks.
- **BRIN** on a column compared by ranges when the table holds at least
  ``BRIN_MIN_ROWS`` rows and ``|pg_stats.correlation| >= BRIN_MIN_CORRELATION``
  (physical order follows the values: an append-only time column).

hypopg simulates B-tree (expressions included) and BRIN, not GIN or GiST:
:attr:`SpecialCandidate.verifiable` tells which. Sizes are estimates documented
on :func:`gin_bytes` and :func:`brin_bytes`.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pglast import ast, parse_sql
from pglast.parser import ParseError
from pglast.stream import RawStream
from psycopg import sql

from pgwarden.advise.findings import index_name, quoted
from pgwarden.advise.indexes.candidates import Candidate, unquote
from pgwarden.advise.indexes.special.facts import ColumnType, Facts, mutable_call
from pgwarden.advise.model import IndexInfo
from pgwarden.advise.stats import FILL, PAGE, PAGE_USABLE, TableStats
from pgwarden.advise.workload import (
    EQ,
    EXPR_LIKE,
    EXPR_PARAM,
    EXPRESSION_OPS,
    IN,
    KNN,
    LIKE_INFIX,
    OPERATOR,
    RANGE,
    Parsed,
    Predicate,
    TableAccess,
)

MIN_ROWS = 1000  # below, a sequential scan is as good as any index
BRIN_MIN_ROWS = 100_000
BRIN_MIN_CORRELATION = 0.9
PAGES_PER_RANGE = 128
VERIFIABLE = frozenset({"btree", "brin", "hash"})  # what hypopg can simulate
JSONB_OPS = frozenset({"@>", "?", "?|", "?&", "@?", "@@"})
JSONB_PATH_OPS = frozenset({"@>", "@?", "@@"})
ARRAY_OPS = frozenset({"@>", "<@", "&&"})
RANGE_OPS = frozenset({"&&", "@>", "<@", "<<", ">>", "&<", "&>", "-|-", "~="})
INET_OPS = frozenset({"&&", "<<", ">>", "<<=", ">>="})
#: operator classes a candidate may name (never text from the workload)
OPCLASSES = frozenset({
    "jsonb_ops", "jsonb_path_ops", "gin_trgm_ops", "text_pattern_ops", "inet_ops",
})  # fmt: skip
METHODS = frozenset({"btree", "gin", "gist", "brin"})
_WORDS = re.compile(r"\W+")


@dataclass(frozen=True)
class SpecialCandidate(Candidate):
    """A candidate with a method, expression keys or an operator class."""

    expression: str | None = None  # the deparsed expression of the last key
    operators: tuple[str, ...] = ()  # what the workload asks of the key
    estimate: int = PAGE  # estimated size in bytes
    note: str = ""

    @property
    def verifiable(self) -> bool:
        return self.method in VERIFIABLE

    @property
    def name(self) -> str:
        key = [_WORDS.sub("_", self.expression).strip("_")] if self.expression else []
        cols = self.columns if not self.expression else self.columns[:-1]
        suffix = "idx" if self.method == "btree" else self.method
        return index_name(self.table, [*cols, *key], suffix)

    def keys(self) -> list[sql.Composable]:
        keys: list[sql.Composable] = (
            [sql.SQL(k) for k in self.expressions]
            if self.expressions
            else [sql.Identifier(c) for c in self.columns]
        )
        if self.opclass is not None:
            assert self.opclass in OPCLASSES
            keys[-1] = sql.SQL("{} {}").format(keys[-1], sql.SQL(self.opclass))
        return keys

    def _using(self) -> sql.Composable:
        assert self.method in METHODS
        return sql.SQL(" USING {} ").format(sql.SQL(self.method))

    def statement(self) -> sql.Composed:
        return sql.SQL("CREATE INDEX ON {}{}({})").format(
            sql.Identifier(self.schema, self.table), self._using(),
            sql.SQL(", ").join(self.keys()),
        )  # fmt: skip

    def ddl(self) -> str:
        text = sql.SQL("CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON {}{}({});")
        return text.format(
            sql.Identifier(self.name), sql.Identifier(self.schema, self.table),
            self._using(), sql.SQL(", ").join(self.keys()),
        ).as_string(None)  # fmt: skip

    def size(self, table: TableStats) -> int:
        return self.estimate

    def full_size(self, table: TableStats) -> int:
        return self.estimate


@dataclass
class Special:
    candidates: list[SpecialCandidate] = field(default_factory=list)
    notes: dict[str, None] = field(default_factory=dict)


def generate(
    parsed: Sequence[Parsed],
    tables: Mapping[str, TableStats],
    existing: Sequence[IndexInfo],
    facts: Facts,
) -> Special:
    """Distinct special candidates of the workload, with notes on those refused."""
    out = Special()
    found: dict[SpecialCandidate, None] = {}
    groups: dict[tuple[str, str, str], list[Predicate]] = {}
    for p in parsed:
        for name, access in p.tables.items():
            table = tables.get(name)
            if table is None or table.rows < MIN_ROWS:
                continue
            for c in _expressions(access, table, facts, out):
                found.setdefault(c)
            for c in _brin(access, table):
                found.setdefault(c)
            for pred in access.predicates:
                if pred.op in (OPERATOR, LIKE_INFIX, KNN):
                    family = "trgm" if pred.op == LIKE_INFIX else "ops"
                    key = pred.expression or pred.column
                    groups.setdefault((name, key, family), []).append(pred)
    for (name, _key, family), preds in groups.items():
        made = _for_operators(tables[name], preds, family, facts, out)
        if made is not None:
            found.setdefault(made)
    by_table: dict[str, list[IndexInfo]] = {}
    for index in existing:
        by_table.setdefault(index.table, []).append(index)
    out.candidates = [c for c in found if not served(c, by_table.get(c.table, ()))]
    return out


def _expressions(
    access: TableAccess, table: TableStats, facts: Facts, out: Special
) -> list[SpecialCandidate]:
    res: list[SpecialCandidate] = []
    eq = access.columns_with(EQ, IN)
    eq.sort(key=lambda c: table.column(c).eq_selectivity(table.rows))
    for p in access.predicates:
        if p.op == EXPR_PARAM:
            out.notes.setdefault(
                f"no expression index on {table.name} ({p.expression}): it holds a "
                "parameter (a constant pg_stat_statements replaced with $n), so the "
                "expression to index is unknown"
            )
        if p.op not in EXPRESSION_OPS or p.expression is None:
            continue
        why = mutable_call(p, table, facts)
        if why is not None:
            out.notes.setdefault(
                f"no expression index on {table.name} ({p.expression}): {why}; "
                "an index expression may only call IMMUTABLE functions"
            )
            continue
        opclass = "text_pattern_ops" if p.op == EXPR_LIKE else None
        for lead in ([], eq[:2]) if eq else ([],):
            res.append(_expression_btree(table, p, tuple(lead), opclass))
    return res


def _expression_btree(
    table: TableStats, p: Predicate, lead: tuple[str, ...], opclass: str | None
) -> SpecialCandidate:
    assert p.expression is not None
    columns = (*lead, *p.refs)
    keys = (*(quoted(c) for c in lead), f"({p.expression})")
    size = table.index_bytes(columns)
    kind = "a LIKE prefix" if opclass else "equality/range"
    note = f"expression index: the workload compares {p.expression} ({kind})"
    return SpecialCandidate(
        table.schema, table.name, (*lead, p.refs[0]), expressions=keys,
        opclass=opclass, expression=p.expression, estimate=size, note=note,
    )  # fmt: skip


def _brin(access: TableAccess, table: TableStats) -> list[SpecialCandidate]:
    out = []
    eq = set(access.columns_with(EQ, IN))
    for column in access.columns_with(RANGE):
        if column in eq or not brin_fits(table, column):
            continue
        corr = table.column(column).correlation or 0.0
        note = (
            f"BRIN: {column} is compared by ranges and its physical order follows "
            f"its values (pg_stats.correlation {corr:.2f}, {table.rows:.0f} rows)"
        )
        out.append(SpecialCandidate(
            table.schema, table.name, (column,), method="brin",
            operators=("range",), estimate=brin_bytes(table, column), note=note,
        ))  # fmt: skip
    return out


def brin_fits(table: TableStats, column: str) -> bool:
    """A large table whose physical order follows ``column``'s values."""
    corr = table.column(column).correlation
    return (
        table.rows >= BRIN_MIN_ROWS
        and corr is not None
        and abs(corr) >= BRIN_MIN_CORRELATION
    )


def _for_operators(
    table: TableStats,
    preds: Sequence[Predicate],
    family: str,
    facts: Facts,
    out: Special,
) -> SpecialCandidate | None:
    first = preds[0]
    ops = frozenset(p.operator or "" for p in preds)
    knn = any(p.op == KNN for p in preds)
    what = first.expression or first.column
    if first.expression is not None:
        why = mutable_call(first, table, facts)
        if why is not None:
            out.notes.setdefault(f"no index on {table.name} ({what}): {why}")
            return None
    if family == "trgm":
        if "pg_trgm" not in facts.extensions:
            out.notes.setdefault(
                f"{table.name}.{what} is searched with LIKE/ILIKE (a parameter or a "
                "leading wildcard): a trigram "
                "GIN index would serve it, but pg_trgm is needed (CREATE EXTENSION "
                "pg_trgm); no index proposed"
            )
            return None
        return _make(table, first, "gin", "gin_trgm_ops", ops, "trigram")
    ctype = None if first.expression else facts.type_of(table, first.column)
    choice = _method(ctype, ops, knn, first.expression is not None)
    if choice is None:
        return None
    method, opclass, why = choice
    return _make(table, first, method, opclass, ops, why)


def _method(
    ctype: ColumnType | None, ops: frozenset[str], knn: bool, expression: bool
) -> tuple[str, str | None, str] | None:
    """(method, operator class, why) for a column type and its operators."""
    if expression:
        return ("gin", None, "full text search") if "@@" in ops else None
    if ctype is None:
        return None
    if ctype.type == "jsonb" and ops & JSONB_OPS:
        if ops & JSONB_OPS <= JSONB_PATH_OPS:
            return "gin", "jsonb_path_ops", "only @> (containment) is used"
        return "gin", "jsonb_ops", "key existence (?, ?|, ?&) is used"
    if ctype.category == "A" and ops & ARRAY_OPS:
        return "gin", None, "array containment/overlap"
    if ctype.type == "tsvector" and "@@" in ops:
        return "gin", None, "full text search"
    if ctype.typtype in ("r", "m") and ops & RANGE_OPS:
        return "gist", None, "range operators"
    if ctype.category == "G" and (ops & RANGE_OPS or knn):
        return "gist", None, "geometric operators" + (" and KNN order" if knn else "")
    if ctype.category == "I" and ops & INET_OPS:
        return "gist", "inet_ops", "network containment"
    return None


def _make(
    table: TableStats,
    p: Predicate,
    method: str,
    opclass: str | None,
    ops: frozenset[str],
    why: str,
) -> SpecialCandidate:
    expressions = (f"({p.expression})",) if p.expression else ()
    estimate = (
        gin_bytes(table, p.column, opclass)
        if method == "gin"
        else int(table.index_bytes((p.column,)) * 1.25)
    )
    used = ", ".join(sorted(o for o in ops if o))
    label = method + (f" ({opclass})" if opclass else "")
    note = f"{label}: {why}; operators used: {used}"
    return SpecialCandidate(
        table.schema, table.name, (p.column,), method=method, expressions=expressions,
        opclass=opclass, expression=p.expression, operators=tuple(sorted(ops)),
        estimate=estimate, note=note,
    )  # fmt: skip


#: GIN keys per row per byte of the column's average width (heuristic)
KEYS_PER_BYTE = {"jsonb_path_ops": 1 / 16, "jsonb_ops": 1 / 8, "gin_trgm_ops": 1.0}


def gin_bytes(table: TableStats, column: str, opclass: str | None) -> int:
    """GIN size heuristic: keys per row from the column's width, and postings.

    Keys per row = avg_width x ``KEYS_PER_BYTE`` (about one hashed path per 16
    bytes of jsonb for jsonb_path_ops, a key or value per 8 bytes for jsonb_ops
    and arrays/tsvector, a trigram per character); each (row, key) costs about 3
    bytes in a compressed posting list, each distinct key (at most
    ``n_distinct`` x keys per row) about 24 bytes in the entry tree.
    """
    stats = table.column(column)
    per_row = max(1.0, stats.avg_width * KEYS_PER_BYTE.get(opclass or "", 1 / 8))
    postings = table.rows * per_row * 3
    keys = min(table.rows * per_row, stats.distinct(table.rows) * per_row) * 24
    pages = math.ceil((postings + keys) / (PAGE_USABLE * FILL)) + 2
    return int(pages * PAGE)


def brin_bytes(table: TableStats, column: str) -> int:
    """BRIN size: one summary tuple per ``PAGES_PER_RANGE`` heap pages (relpages).

    A min/max tuple is about 8 + 2 x the aligned column width; a metapage and
    the range map (about 1,360 ranges a page) come on top. Tiny by design.
    """
    ranges = max(1, math.ceil(max(table.relpages, 1) / PAGES_PER_RANGE))
    width = table.column(column).avg_width or 8
    entry = 8 + 2 * ((width + 7) // 8 * 8) + 4
    pages = 1 + math.ceil(ranges / 1360) + math.ceil(ranges * entry / PAGE_USABLE)
    return int(pages * PAGE)


def served(c: SpecialCandidate, existing: Iterable[IndexInfo]) -> bool:
    """An existing valid index of the same method already leads with the keys."""
    wanted = [normal(k) for k in (c.expressions or [quoted(x) for x in c.columns])]
    for index in existing:
        if not index.is_valid or index.predicate is not None:
            continue
        if index.method != c.method or len(index.keys) < len(wanted):
            continue
        keys = [normal(k) for k in index.keys]
        if keys[: len(wanted)] == wanted:
            return True
    return False


def normal(key: str) -> str:
    """An index key as comparable text: deparsed, casts of constants removed."""
    try:
        stmt = parse_sql(f"SELECT {key}")[0].stmt
    except ParseError:
        return unquote(key)
    node: Any = stmt.targetList[0].val  # type: ignore[union-attr]
    return str(RawStream()(_uncast(copy.deepcopy(node))))


def _uncast(node: Any) -> Any:
    if isinstance(node, ast.TypeCast) and isinstance(node.arg, ast.A_Const):
        return node.arg
    if isinstance(node, ast.Node):
        for slot in getattr(type(node), "__slots__", ()):
            value = getattr(node, slot, None)
            if isinstance(value, ast.Node):
                setattr(node, slot, _uncast(value))
            elif isinstance(value, tuple) and any(
                isinstance(v, ast.Node) for v in value
            ):
                setattr(node, slot, tuple(_uncast(v) for v in value))
    return node


def serves(c: Candidate, access: TableAccess | None) -> bool:
    """The statement's use of the table asks for what ``c`` indexes."""
    if access is None or not isinstance(c, SpecialCandidate):
        return False
    for p in access.predicates:
        if c.method == "brin":
            if p.op == RANGE and p.column == c.columns[0]:
                return True
        elif c.expression is not None:
            if p.expression == c.expression:
                return True
        elif p.op in (OPERATOR, LIKE_INFIX, KNN) and p.column == c.columns[0]:
            if p.expression is None:
                return True
    return False
