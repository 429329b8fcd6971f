"""Index candidates from the workload: B-tree keys ordered equality, range, sort.

Per statement and table: equality, IN and IS NULL columns first (most selective
first), then one range or LIKE-prefix column, else the ORDER BY columns; join keys
give single-column candidates; a covering variant adds the other columns the
statement reads as ``INCLUDE``; a partial variant is made where a skewed column is
compared with a rare value (a literal of the text, else each rare most-common
value), and where the statement asks for ``col IS NULL`` (``WHERE col IS NULL``,
the other keys indexed) or for ``col IS NOT NULL`` on a mostly-NULL column.

ORDER BY keys keep their directions when they are mixed (``ORDER BY a DESC, b``
gets ``(a, b DESC)``: the mirror image, which a backward scan reads as asked);
a literal LIKE prefix gets ``text_pattern_ops`` unless the column's collation is
C (then a plain B-tree serves it). Candidates an existing index already serves
(same leading keys, directions and operator class) are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from psycopg import sql

from pgwarden.advise.findings import create_index_ddl, index_name, quoted
from pgwarden.advise.model import IndexInfo
from pgwarden.advise.stats import TableStats
from pgwarden.advise.workload import (
    EQ,
    IN,
    LIKE,
    NOT_NULL,
    NULL,
    RANGE,
    Parsed,
    TableAccess,
)

MAX_KEYS = 3
MAX_INCLUDE = 4
#: a key's direction as index DDL writes it (ASC NULLS LAST is the default "")
DIRECTIONS = frozenset({"", "DESC", "NULLS FIRST", "DESC NULLS LAST"})
PATTERN_OPS = "text_pattern_ops"
#: IS / IS NOT NULL partial predicates (``where_op``); "=" compares with a value
IS_NULL, IS_NOT_NULL = "IS NULL", "IS NOT NULL"
#: a column is this NULL at least for an ``IS NOT NULL`` partial candidate
MIN_NULL_FRAC = 0.5


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
    # per key: "", "DESC", "NULLS FIRST" or "DESC NULLS LAST" (() when all "")
    directions: tuple[str, ...] = ()
    where_op: str = "="  # or IS NULL / IS NOT NULL (no value)

    @property
    def where(self) -> str | None:
        """The partial predicate as SQL text (identifier and literal quoted)."""
        if self.where_column is None:
            return None
        if self.where_op in (IS_NULL, IS_NOT_NULL):
            return f"{quoted(self.where_column)} {self.where_op}"
        literal = sql.Literal(self.where_value).as_string(None)
        return f"{quoted(self.where_column)} = {literal}"

    @property
    def name(self) -> str:
        keys = [
            "_".join([c, *self.direction(i).lower().split()])
            for i, c in enumerate(self.columns)
        ]
        if self.opclass == PATTERN_OPS:
            keys.append("pattern")
        if self.where_column is None:
            return index_name(self.table, [*keys, *self.include], "idx")
        if self.where_op in (IS_NULL, IS_NOT_NULL):
            where = [self.where_column, self.where_op.lower().replace("is ", "")]
        else:
            where = [self.where_column, str(self.where_value)]
        return index_name(self.table, [*keys, *self.include, *where], "idx")

    def direction(self, i: int) -> str:
        return self.directions[i] if i < len(self.directions) else ""

    def _key(self, i: int, column: str) -> sql.Composable:
        """Key ``i`` as SQL: the column, its operator class and its direction."""
        parts: list[sql.Composable] = [sql.Identifier(column)]
        if self.opclass is not None and i == len(self.columns) - 1:
            assert self.opclass == PATTERN_OPS
            parts.append(sql.SQL(self.opclass))
        if self.direction(i):
            assert self.direction(i) in DIRECTIONS
            parts.append(sql.SQL(self.direction(i)))
        return sql.SQL(" ").join(parts)

    def ddl(self) -> str:
        keys = [self._key(i, c).as_string(None) for i, c in enumerate(self.columns)]
        return create_index_ddl(
            self.schema, self.table, self.name, keys, self.where,
            [quoted(c) for c in self.include],
        )  # fmt: skip

    def statement(self) -> sql.Composed:
        """``CREATE INDEX`` for hypopg, identifiers through ``sql.Identifier``."""
        text = sql.SQL("CREATE INDEX ON {} ({})").format(
            sql.Identifier(self.schema, self.table),
            sql.SQL(", ").join(self._key(i, c) for i, c in enumerate(self.columns)),
        )
        if self.include:
            text += sql.SQL(" INCLUDE ({})").format(
                sql.SQL(", ").join(map(sql.Identifier, self.include))
            )
        if self.where_column is not None and self.where_op in (IS_NULL, IS_NOT_NULL):
            text += sql.SQL(" WHERE {} {}").format(
                sql.Identifier(self.where_column), sql.SQL(self.where_op)
            )
        elif self.where_column is not None:
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


@dataclass(frozen=True)
class Keys:
    """A statement's B-tree keys on one table, with directions and operator class."""

    columns: tuple[str, ...] = ()
    directions: tuple[str, ...] = ()
    opclass: str | None = None

    def without(self, column: str) -> Keys:
        kept = [i for i, c in enumerate(self.columns) if c != column]
        last = bool(kept) and kept[-1] == len(self.columns) - 1
        dirs = tuple(self.directions[i] for i in kept if i < len(self.directions))
        return Keys(
            tuple(self.columns[i] for i in kept),
            dirs if any(dirs) else (),
            self.opclass if last else None,
        )


def _keys(access: TableAccess, table: TableStats) -> list[str]:
    return list(keys_of(access, table).columns)


def keys_of(
    access: TableAccess,
    table: TableStats,
    collate_c: Mapping[tuple[str, str], bool] | None = None,
) -> Keys:
    """Equality/IN/IS NULL columns (most selective first), then one range or LIKE
    prefix column, else the sort columns with their directions."""
    eq = access.columns_with(EQ, IN, NULL)
    compared = set(access.columns_with(EQ, IN))
    eq.sort(key=lambda c: _selectivity(table, c, c not in compared))
    keys = list(eq)
    sorts: list[tuple[str, bool, bool]] = []
    opclass = None
    rng = [c for c in access.columns_with(RANGE, LIKE) if c not in keys]
    if rng:
        keys.append(rng[0])
        if rng[0] not in access.columns_with(RANGE) and _pattern_ops(
            table.name, rng[0], collate_c
        ):
            opclass = PATTERN_OPS
    elif access.order_by:
        for column, desc, first in _sort_keys(access):
            if column not in keys and all(column != c for c, _d, _f in sorts):
                sorts.append((column, desc, first))
        keys += [c for c, _d, _f in sorts]
    else:
        keys += [c for c in dict.fromkeys(access.group_by) if c not in keys]
    cut = keys[:MAX_KEYS]
    directions = [""] * len(eq) + _directions(sorts)
    directions = (directions + [""] * len(keys))[: len(cut)]
    if opclass is not None and len(cut) < len(keys):
        opclass = None
    return Keys(tuple(cut), tuple(directions) if any(directions) else (), opclass)


def _selectivity(table: TableStats, column: str, null_only: bool) -> float:
    stats = table.column(column)
    return stats.null_frac if null_only else stats.eq_selectivity(table.rows)


def _pattern_ops(
    table: str, column: str, collate_c: Mapping[tuple[str, str], bool] | None
) -> bool:
    """A LIKE prefix needs text_pattern_ops: the collation is not C (unknown: yes)."""
    if collate_c is None:
        return True
    found = collate_c.get((table, column))
    return found is not None and not found


def _sort_keys(access: TableAccess) -> list[tuple[str, bool, bool]]:
    """(column, DESC, NULLS FIRST) of each ORDER BY key (NULLS FIRST: the default
    of DESC when the reader did not say)."""
    firsts = access.nulls_first
    return [
        (c, desc, firsts[i] if i < len(firsts) else desc)
        for i, (c, desc) in enumerate(access.order_by)
    ]


def _directions(sorts: Sequence[tuple[str, bool, bool]]) -> list[str]:
    """Index directions serving ``sorts``: the mirror image when the first key is
    DESC (a backward scan reads it in the order asked), so the first is ASC."""
    if not sorts:
        return []
    flip = sorts[0][1]
    out = []
    for _c, desc, first in sorts:
        desc, first = (not desc, not first) if flip else (desc, first)
        out.append(
            ("DESC" if first else "DESC NULLS LAST")
            if desc
            else ("NULLS FIRST" if first else "")
        )
    return out


def _served(keys: Keys, existing: Iterable[IndexInfo]) -> bool:
    """An existing valid index without predicate leads with ``keys`` (the same
    directions, or all mirrored, and operator class)."""
    columns = keys.columns
    for index in existing:
        if not index.is_valid or index.method != "btree":
            continue
        if index.predicate is not None:
            continue
        if tuple(unquote(k) for k in index.keys[: len(columns)]) != tuple(columns):
            continue
        if keys.opclass is not None and keys.opclass not in index.definition:
            continue
        if _same_directions(keys, index):
            return True
    return False


def _same_directions(keys: Keys, index: IndexInfo) -> bool:
    """``pg_index.indoption`` (1 DESC, 2 NULLS FIRST) match ``keys``' directions."""
    if not keys.directions:
        return True  # a plain order is read forwards or backwards alike
    wanted = [
        ("DESC" in d, "FIRST" in d or d == "DESC")
        for d in (keys.directions[i] if i < len(keys.directions) else ""
                  for i in range(len(keys.columns)))
    ]  # fmt: skip
    have = [
        (bool(o & 1), bool(o & 2))
        for o in (index.options + (0,) * len(wanted))[: len(wanted)]
    ]
    mirrored = [(not d, not f) for d, f in wanted]
    return have == wanted or have == mirrored


def for_access(
    access: TableAccess,
    table: TableStats,
    *,
    partial_max_fraction: float = 0.1,
    partial_min_top: float = 0.3,
    collate_c: Mapping[tuple[str, str], bool] | None = None,
) -> list[Candidate]:
    """The candidates one statement's use of one table suggests."""
    found: list[Candidate] = []
    keys = keys_of(access, table, collate_c)
    s, t = table.schema, table.name
    if keys.columns:
        found.append(_candidate(table, keys))
        if len(keys.columns) > 1:
            found.append(_candidate(table, Keys(keys.columns[:1])))
        extra = sorted(access.columns - set(keys.columns))
        if extra and len(extra) <= MAX_INCLUDE:
            found.append(_candidate(table, keys, tuple(extra)))
    for column in dict.fromkeys(access.join_keys):
        found.append(Candidate(s, t, (column,)))
    found += _partials(access, table, keys, partial_max_fraction, partial_min_top)
    return found


def _candidate(
    table: TableStats,
    keys: Keys,
    include: tuple[str, ...] = (),
    where: tuple[str | None, str | None, float, str] = (None, None, 1.0, "="),
) -> Candidate:
    column, value, fraction, op = where
    return Candidate(
        table.schema, table.name, keys.columns, include, column, value, fraction,
        opclass=keys.opclass, directions=keys.directions, where_op=op,
    )  # fmt: skip


#: an observed value asked for less often than this gets no partial candidate
MIN_OBSERVED_SHARE = 0.05


def _partials(
    access: TableAccess,
    table: TableStats,
    keys: Keys | list[str],
    max_fraction: float,
    min_top: float,
    observed: Mapping[str, Mapping[str, float]] | None = None,
) -> list[Candidate]:
    """Partial variants; ``observed`` (column -> value -> share of the calls)
    replaces the assumption that every rare most common value is asked for."""
    if not isinstance(keys, Keys):
        keys = Keys(tuple(keys))
    out: list[Candidate] = _null_partials(access, table, keys)
    for p in access.predicates:
        if p.op != EQ or getattr(p, "expression", None) is not None:
            continue
        shares = (observed or {}).get(p.column)
        if p.folded and shares is None:  # a folded constant: one value, unknown
            continue
        stats = table.column(p.column)
        rest = keys.without(p.column)
        if not rest.columns:
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
            out.append(_candidate(table, rest, (), (p.column, value, freq, "=")))
    return out


def _null_partials(
    access: TableAccess, table: TableStats, keys: Keys
) -> list[Candidate]:
    """``WHERE col IS NULL`` with the other keys, for a statement that always asks
    for it; ``WHERE col IS NOT NULL`` where most of the column is NULL."""
    out = []
    compared = set(access.columns_with(EQ, IN))
    for column in access.columns_with(NULL):
        rest = keys.without(column)
        if column not in compared and rest.columns:
            fraction = table.column(column).null_frac
            out.append(_candidate(table, rest, (), (column, None, fraction, IS_NULL)))
    for column in access.columns_with(NOT_NULL):
        frac = table.column(column).null_frac
        if frac < MIN_NULL_FRAC or column in access.columns_with(NULL):
            continue
        rest = keys.without(column)
        rest = rest if rest.columns else Keys((column,))
        out.append(_candidate(table, rest, (), (column, None, 1 - frac, IS_NOT_NULL)))
    return out


def _by_value(c: Candidate) -> bool:
    return c.where_column is not None and c.where_op == "="


def _compared(parsed: Sequence[Parsed]) -> set[tuple[str, str]]:
    """(table, column) pairs some statement compares with ``= $n``."""
    return {
        (name, p.column)
        for parse in parsed
        for name, access in parse.tables.items()
        for p in access.predicates
        if p.op == EQ and p.number is not None
    }


def _kept(c: Candidate, compared: set[tuple[str, str]]) -> bool:
    """An IS NULL partial is not made on a column also compared with ``= $n``
    (the advisor plans each ``= $n`` variant with the partial's value)."""
    if c.where_column is None or _by_value(c):
        return True
    return (c.table, c.where_column) not in compared


def observed_partials(
    parsed: Sequence[Parsed],
    tables: Mapping[str, TableStats],
    observed: Sequence[Mapping[tuple[str, str], Mapping[str, float]]],
    *,
    partial_max_fraction: float = 0.1,
    partial_min_top: float = 0.3,
    keys: frozenset[tuple[str, str]] = frozenset(),
    collate_c: Mapping[tuple[str, str], bool] | None = None,
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
                access, table, keys_of(access, table, collate_c),
                partial_max_fraction, partial_min_top, mine or None,
            )  # fmt: skip
            for c in found:
                if not _by_value(c) or (name, c.where_column) not in keys:
                    seen.setdefault(c)
    compared = _compared(parsed)
    return [c for c in seen if _kept(c, compared)]


def generate(
    parsed: Sequence[Parsed],
    tables: Mapping[str, TableStats],
    existing: Sequence[IndexInfo],
    *,
    partial_max_fraction: float = 0.1,
    partial_min_top: float = 0.3,
    keys: frozenset[tuple[str, str]] = frozenset(),
    collate_c: Mapping[tuple[str, str], bool] | None = None,
) -> list[Candidate]:
    """Distinct candidates for the workload, those existing indexes serve left out.

    ``collate_c`` tells, per (table, column) of a collatable column, whether its
    collation is C (a plain B-tree serves a LIKE prefix); without it a LIKE
    prefix gets ``text_pattern_ops``, which serves it under any collation.
    """
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
                partial_min_top=partial_min_top, collate_c=collate_c,
            )  # fmt: skip
            for c in found:
                if _by_value(c) and (name, c.where_column) in keys:
                    continue
                if (
                    c.include
                    or c.where
                    or not _served(
                        Keys(c.columns, c.directions, c.opclass),
                        by_table.get(name, ()),
                    )
                ):
                    seen.setdefault(c)
    compared = _compared(parsed)
    return [c for c in seen if _kept(c, compared)]
