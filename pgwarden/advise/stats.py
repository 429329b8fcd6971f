"""Tables and value distributions (pg_stats) the advisor reasons with.

Index sizes are estimated from ``pg_stats`` widths and the table's row count as a
B-tree leaf level would hold them (tuple header, alignment, line pointer, 90 %
fill), not from hypopg's deliberately pessimistic size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PAGE = 8192
PAGE_USABLE = PAGE - 24 - 16  # page header, btree special space
FILL = 0.9
MAX_CATEGORIES = 20


@dataclass(frozen=True)
class ColumnStats:
    column: str
    null_frac: float = 0.0
    avg_width: int = 8
    n_distinct: float = 0.0
    mcv: tuple[str, ...] = ()
    mcf: tuple[float, ...] = ()
    correlation: float | None = None

    def distinct(self, rows: float) -> float:
        """Distinct values (``n_distinct`` < 0 is a fraction of the rows)."""
        if self.n_distinct < 0:
            return max(1.0, -self.n_distinct * rows)
        return max(1.0, self.n_distinct)

    def frequency(self, value: str) -> float | None:
        for v, f in zip(self.mcv, self.mcf, strict=False):
            if v == value:
                return f
        return None

    @property
    def categorical(self) -> bool:
        covered = sum(self.mcf) + self.null_frac
        return 0 < self.n_distinct <= MAX_CATEGORIES and covered >= 0.95

    def eq_selectivity(self, rows: float) -> float:
        """Expected share of rows of an equality on an unknown value."""
        return (1 - self.null_frac) / self.distinct(rows)

    def rare_values(
        self, max_fraction: float, min_top: float
    ) -> list[tuple[str, float]]:
        """MCVs at or under ``max_fraction`` of a categorical, skewed column.

        Categorical: at most ``MAX_CATEGORIES`` distinct values, the MCV list covering
        nearly all rows; skewed: the top value holds at least ``min_top``.
        """
        if not self.mcf or self.mcf[0] < min_top or not self.categorical:
            return []
        return [
            (v, f)
            for v, f in zip(self.mcv, self.mcf, strict=False)
            if f <= max_fraction
        ]


@dataclass(frozen=True)
class TableStats:
    oid: int
    schema: str
    name: str
    reltuples: float
    relpages: int
    size_bytes: int
    writes: int
    mod_since_analyze: int
    last_analyzed: datetime | None
    live_rows: int
    columns: tuple[str, ...]
    stats: Mapping[str, ColumnStats] = field(default_factory=dict)

    @property
    def rows(self) -> float:
        return max(self.reltuples, float(self.live_rows), 0.0)

    def column(self, name: str) -> ColumnStats:
        return self.stats.get(name) or ColumnStats(name)

    def index_bytes(self, columns: Sequence[str], fraction: float = 1.0) -> int:
        """Estimated size of a B-tree on ``columns`` over ``fraction`` of the rows."""
        width = sum(self.column(c).avg_width or 8 for c in columns)
        entry = 8 + _align(width) + 4
        rows = max(self.rows * fraction, 1.0)
        leaves = math.ceil(rows * entry / (PAGE_USABLE * FILL))
        inner = math.ceil(leaves / 256) if leaves > 1 else 0
        return int((1 + leaves + inner) * PAGE)


def _align(width: int) -> int:
    return (width + 7) // 8 * 8


def from_rows(
    tables: Sequence[Mapping[str, Any]], stats: Sequence[Mapping[str, Any]]
) -> dict[str, TableStats]:
    """Tables by name (the first schema wins a name clash) with their column stats."""
    by_table: dict[tuple[str, str], dict[str, ColumnStats]] = {}
    for r in stats:
        by_table.setdefault((r["schema"], r["table"]), {})[r["column"]] = ColumnStats(
            column=r["column"],
            null_frac=float(r["null_frac"] or 0),
            avg_width=int(r["avg_width"] or 8),
            n_distinct=float(r["n_distinct"] or 0),
            mcv=tuple(r["mcv"] or ()),
            mcf=tuple(float(f) for f in r["mcf"] or ()),
            correlation=None if r["correlation"] is None else float(r["correlation"]),
        )
    out: dict[str, TableStats] = {}
    for t in tables:
        if t["name"] in out:
            continue
        out[t["name"]] = TableStats(
            oid=int(t["oid"]), schema=t["schema"], name=t["name"],
            reltuples=float(t["reltuples"]), relpages=int(t["relpages"]),
            size_bytes=int(t["size_bytes"]), writes=int(t["writes"]),
            mod_since_analyze=int(t["mod_since_analyze"]),
            last_analyzed=t["last_analyzed"], live_rows=int(t["live_rows"]),
            columns=tuple(t["columns"]),
            stats=by_table.get((t["schema"], t["name"]), {}),
        )  # fmt: skip
    return out
