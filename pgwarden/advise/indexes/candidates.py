"""Index candidates from the workload: B-tree keys ordered equality, range, sort.

Per statement and table: equality and IN columns first (most selective first), then
one range or LIKE-prefix column, else the ORDER BY columns; join keys give
single-column candidates; a covering variant adds the other columns the statement
reads as ``INCLUDE``; a partial variant is made where a skewed column is compared
with a rare value (a literal of the text, else each rare most-common value).
Candidates an existing index already serves (same leading keys) are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from psycopg import sql

from pgwarden.advise.findings import create_index_ddl, index_name, quoted
from pgwarden.advise.model import IndexInfo
from pgwarden.advise.stats import TableStats
from pgwarden.advise.workload import EQ, IN, LIKE, RANGE, Parsed, TableAccess

MAX_KEYS = 3
MAX_INCLUDE = 4


@dataclass(frozen=True)
class Candidate:
    schema: str
    table: str
    columns: tuple[str, ...]
    include: tuple[str, ...] = ()
    where_column: str | None = None
    where_value: str | None = None
    where_fraction: float = 1.0
    # other kinds (pgwarden.advise.indexes.special.candidates): btree, gin, gist, brin;
    # keys as SQL when one is an expression; operator class of the last key
    method: str = "btree"
    expressions: tuple[str, ...] = ()
    opclass: str | None = None

    @property
    def where(self) -> str | None:
        """The partial predicate as SQL text (identifier and literal quoted)."""
        if self.where_column is None:
            return None
        literal = sql.Literal(self.where_value).as_string(None)
        return f"{quoted(self.where_column)} = {literal}"

    @property
    def name(self) -> str:
        if self.where_column is None:
            return index_name(self.table, [*self.columns, *self.include], "idx")
        where = [self.where_column, str(self.where_value)]
        return index_name(self.table, [*self.columns, *self.include, *where], "idx")

    def ddl(self) -> str:
        return create_index_ddl(
            self.schema, self.table, self.name, [quoted(c) for c in self.columns],
            self.where, [quoted(c) for c in self.include],
        )  # fmt: skip

    def statement(self) -> sql.Composed:
        """``CREATE INDEX`` for hypopg, identifiers through ``sql.Identifier``."""
        text = sql.SQL("CREATE INDEX ON {} ({})").format(
            sql.Identifier(self.schema, self.table),
            sql.SQL(", ").join(map(sql.Identifier, self.columns)),
        )
        if self.include:
            text += sql.SQL(" INCLUDE ({})").format(
                sql.SQL(", ").join(map(sql.Identifier, self.include))
            )
        if self.where_column is not None:
            text += sql.SQL(" WHERE {} = {}").format(
                sql.Identifier(self.where_column), sql.Literal(self.where_value)
            )
        return text

    def size(self, table: TableStats) -> int:
        return table.index_bytes(self.columns + self.include, self.where_fraction)

    def full_size(self, table: TableStats) -> int:
        return table.index_bytes(self.columns + self.include)


def unquote(name: str) -> str:
    """An identifier as ``pg_get_indexdef`` prints it, unquoted."""
    if len(name) >= 2 and name[0] == name[-1] == '"':
        return name[1:-1].replace('""', '"')
    return name


def _keys(access: TableAccess, table: TableStats) -> list[str]:
    eq = access.columns_with(EQ, IN)
    eq.sort(key=lambda c: table.column(c).eq_selectivity(table.rows))
    keys = list(eq)
    rng = [c for c in access.columns_with(RANGE, LIKE) if c not in keys]
    if rng:
        keys.append(rng[0])
    else:
        sort = [c for c, _desc in access.order_by] or access.group_by
        keys += [c for c in dict.fromkeys(sort) if c not in keys]
    return keys[:MAX_KEYS]


def _served(columns: Sequence[str], existing: Iterable[IndexInfo]) -> bool:
    """An existing valid index without predicate leads with ``columns``."""
    for index in existing:
        if not index.is_valid or index.method != "btree":
            continue
        if index.predicate is not None:
            continue
        if tuple(unquote(k) for k in index.keys[: len(columns)]) == tuple(columns):
            return True
    return False


def for_access(
    access: TableAccess,
    table: TableStats,
    *,
    partial_max_fraction: float = 0.1,
    partial_min_top: float = 0.3,
) -> list[Candidate]:
    """The candidates one statement's use of one table suggests."""
    found: list[Candidate] = []
    keys = _keys(access, table)
    s, t = table.schema, table.name
    if keys:
        found.append(Candidate(s, t, tuple(keys)))
        if len(keys) > 1:
            found.append(Candidate(s, t, (keys[0],)))
        extra = sorted(access.columns - set(keys))
        if extra and len(extra) <= MAX_INCLUDE:
            found.append(Candidate(s, t, tuple(keys), tuple(extra)))
    for column in dict.fromkeys(access.join_keys):
        found.append(Candidate(s, t, (column,)))
    found += _partials(access, table, keys, partial_max_fraction, partial_min_top)
    return found


#: an observed value asked for less often than this gets no partial candidate
MIN_OBSERVED_SHARE = 0.05


def _partials(
    access: TableAccess,
    table: TableStats,
    keys: list[str],
    max_fraction: float,
    min_top: float,
    observed: Mapping[str, Mapping[str, float]] | None = None,
) -> list[Candidate]:
    """Partial variants; ``observed`` (column -> value -> share of the calls)
    replaces the assumption that every rare most common value is asked for."""
    out: list[Candidate] = []
    for p in access.predicates:
        if p.op != EQ or getattr(p, "expression", None) is not None:
            continue
        shares = (observed or {}).get(p.column)
        if p.folded and shares is None:  # a folded constant: one value, unknown
            continue
        stats = table.column(p.column)
        rest = tuple(k for k in keys if k != p.column)
        if not rest:
            continue
        if shares is not None:  # the values the workload was seen to use
            rare = [
                (v, f)
                for v, share in shares.items()
                if share >= MIN_OBSERVED_SHARE
                and (f := stats.frequency(v)) is not None
                and f <= max_fraction
            ]
        elif p.value is not None:
            freq = stats.frequency(p.value)
            fits = freq is not None and freq <= max_fraction and stats.categorical
            rare = [(p.value, freq)] if fits and freq is not None else []
        else:
            rare = stats.rare_values(max_fraction, min_top)
        for value, freq in rare:
            out.append(Candidate(table.schema, table.name, rest, (), p.column, value,
                                 freq))  # fmt: skip
    return out


def observed_partials(
    parsed: Sequence[Parsed],
    tables: Mapping[str, TableStats],
    observed: Sequence[Mapping[tuple[str, str], Mapping[str, float]]],
    *,
    partial_max_fraction: float = 0.1,
    partial_min_top: float = 0.3,
    keys: frozenset[tuple[str, str]] = frozenset(),
) -> list[Candidate]:
    """The workload's partial candidates, per statement with its observed values.

    ``observed[i]`` maps (table, column) to value shares for ``parsed[i]``; a
    statement without observations keeps the pg_stats assumption.
    """
    seen: dict[Candidate, None] = {}
    for p, obs in zip(parsed, observed, strict=True):
        for name, access in p.tables.items():
            table = tables.get(name)
            if table is None:
                continue
            mine = {col: v for (t, col), v in obs.items() if t == name}
            found = _partials(
                access, table, _keys(access, table), partial_max_fraction,
                partial_min_top, mine or None,
            )  # fmt: skip
            for c in found:
                if (name, c.where_column) not in keys:
                    seen.setdefault(c)
    return list(seen)


def generate(
    parsed: Sequence[Parsed],
    tables: Mapping[str, TableStats],
    existing: Sequence[IndexInfo],
    *,
    partial_max_fraction: float = 0.1,
    partial_min_top: float = 0.3,
    keys: frozenset[tuple[str, str]] = frozenset(),
) -> list[Candidate]:
    """Distinct candidates for the workload, those existing indexes serve left out."""
    seen: dict[Candidate, None] = {}
    by_table: dict[str, list[IndexInfo]] = {}
    for index in existing:
        by_table.setdefault(index.table, []).append(index)
    for p in parsed:
        for name, access in p.tables.items():
            table = tables.get(name)
            if table is None:
                continue
            found = for_access(
                access, table, partial_max_fraction=partial_max_fraction,
                partial_min_top=partial_min_top,
            )  # fmt: skip
            for c in found:
                if c.where_column is not None and (name, c.where_column) in keys:
                    continue
                if (
                    c.include
                    or c.where
                    or not _served(c.columns, by_table.get(name, ()))
                ):
                    seen.setdefault(c)
    return list(seen)
