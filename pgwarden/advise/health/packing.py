"""Pure bloat estimation (no I/O): packing of heap and btree pages.

See :mod:`pgwarden.advise.health.bloat` for the API and the definition of bloat; this
module holds the rows, the estimate and the arithmetic shared by the estimate and
the exact figures (pgstattuple, pgstatindex).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

BLOCK = 8192
PAGE_HEADER = 24
LINE_POINTER = 4
MAXALIGN = 8
HEAP_HEADER = 23
MAX_HEAP_TUPLES = 291
BTREE_SPECIAL = 16
BTREE_DEFAULT_FF = 90
BTREE_INNER_FF = 70
#: a posting list tuple is at most half of the largest btree item (BTMaxItemSize / 2)
MAX_POSTING_BYTES = 1352
TID = 6
#: key types whose btree opclass cannot deduplicate (no "equalimage")
NO_DEDUP_TYPES = frozenset({"numeric", "float4", "float8", "jsonb", "interval"})
ALIGN = {"c": 1, "s": 2, "i": 4, "d": 8}

Kind = Literal["table", "index"]


@dataclass(frozen=True)
class ColumnStats:
    """One column of a table or an index, with its ``pg_stats`` figures."""

    name: str
    typname: str
    typlen: int
    typalign: str
    avg_width: float | None = None
    null_frac: float | None = None
    n_distinct: float | None = None
    included: bool = False

    @property
    def has_stats(self) -> bool:
        return self.avg_width is not None


@dataclass(frozen=True)
class TableRow:
    oid: int
    schema: str
    name: str
    relpages: int
    reltuples: float
    size_bytes: int
    columns: tuple[ColumnStats, ...]
    fillfactor: int = 100
    toast_bytes: int = 0
    block_size: int = BLOCK


@dataclass(frozen=True)
class IndexRow:
    oid: int
    schema: str
    table: str
    name: str
    table_oid: int
    relpages: int
    reltuples: float
    table_reltuples: float
    size_bytes: int
    columns: tuple[ColumnStats, ...]
    fillfactor: int = BTREE_DEFAULT_FF
    unique: bool = False
    partial: bool = False
    deduplicate: bool = True
    server_version_num: int = 150000
    block_size: int = BLOCK


@dataclass(frozen=True)
class BloatEstimate:
    """The estimated (and, once confirmed, measured) bloat of one relation."""

    kind: Kind
    oid: int
    schema: str
    table: str
    index: str | None
    size_bytes: int
    expected_bytes: int | None
    bloat_pct: float | None
    fillfactor: int
    measured_pct: float | None = None
    measured_by: str | None = None
    note: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def relation(self) -> str:
        return self.index if self.index is not None else self.table

    @property
    def pct(self) -> float | None:
        """The measured bloat when confirmed, else the estimate."""
        return self.measured_pct if self.measured_pct is not None else self.bloat_pct

    @property
    def bloat_bytes(self) -> int:
        """Bytes a rebuild would give back, by the best figure available."""
        return int(self.size_bytes * (self.pct or 0.0) / 100)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "schema": self.schema, "table": self.table,
            "index": self.index, "size_bytes": self.size_bytes,
            "expected_bytes": self.expected_bytes,
            "estimated_pct": _round(self.bloat_pct),
            "measured_pct": _round(self.measured_pct),
            "measured_by": self.measured_by, "bloat_bytes": self.bloat_bytes,
            "fillfactor": self.fillfactor, "note": self.note, **self.details,
        }  # fmt: skip


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _align(offset: float, to: int) -> float:
    return math.ceil(offset / to) * to


def _data_width(columns: Sequence[ColumnStats]) -> float:
    """Mean bytes of the data part of a tuple: widths aligned, NULLs left out."""
    offset = 0.0
    for col in columns:
        width = _width(col)
        present = 1.0 - (col.null_frac or 0.0)
        if present <= 0:
            continue
        if col.typlen > 0 or (width or 0) > 127:  # aligned (short varlenas are not)
            offset = offset + present * (_align(offset, ALIGN[col.typalign]) - offset)
        offset += present * float(width or 0)
    return offset


def _width(col: ColumnStats) -> float:
    """Mean stored bytes; ``avg_width`` is truncated: half a byte back for varlenas."""
    if col.typlen > 0:
        return float(col.typlen)
    if col.avg_width is None:
        return 32.0
    return col.avg_width + 0.5


def _any_null(columns: Sequence[ColumnStats]) -> float:
    none = 1.0
    for col in columns:
        none *= 1.0 - (col.null_frac or 0.0)
    return 1.0 - none


def heap_tuple_bytes(columns: Sequence[ColumnStats]) -> float:
    """Mean bytes of one heap tuple on its page (MAXALIGNed), without line pointer."""
    p_null = _any_null(columns)
    plain = _align(HEAP_HEADER, MAXALIGN)
    with_bitmap = _align(HEAP_HEADER + math.ceil(len(columns) / 8), MAXALIGN)
    header = (1 - p_null) * plain + p_null * with_bitmap
    return _align(header + _data_width(columns), MAXALIGN)


def heap_pages(tuples: float, tuple_bytes: float, fillfactor: int, block: int) -> float:
    """Pages a fresh heap of ``tuples`` live tuples of ``tuple_bytes`` occupies."""
    usable = block - PAGE_HEADER - block * (100 - fillfactor) / 100
    per_page = max(1, min(MAX_HEAP_TUPLES, math.floor(usable / (tuple_bytes + 4))))
    return math.ceil(tuples / per_page) if tuples > 0 else 0


def _pct(expected: float, actual: float) -> float:
    return 0.0 if actual <= 0 else max(0.0, 100.0 * (1 - expected / actual))


def estimate_table(row: TableRow) -> BloatEstimate:
    base = BloatEstimate(
        "table", row.oid, row.schema, row.name, None, row.size_bytes, None, None,
        row.fillfactor, details={"toast_bytes": row.toast_bytes},
    )  # fmt: skip
    if row.reltuples < 0 or row.relpages <= 0:
        return replace(base, note="no statistics yet: run ANALYZE")
    if row.columns and not any(c.has_stats for c in row.columns):
        return replace(base, note="no column statistics: run ANALYZE")
    width = heap_tuple_bytes(row.columns)
    pages = heap_pages(row.reltuples, width, row.fillfactor, row.block_size)
    pct = _pct(pages, row.relpages)
    details = {**base.details, "tuple_bytes": round(width, 1),
               "live_tuples": int(row.reltuples), "pages": row.relpages,
               "expected_pages": int(pages)}  # fmt: skip
    expected = int(row.size_bytes * (1 - pct / 100))
    return replace(base, expected_bytes=expected, bloat_pct=pct, details=details)


def estimate_tables(rows: Iterable[TableRow]) -> list[BloatEstimate]:
    """The estimated bloat of each table (the heap; TOAST is listed apart)."""
    return [estimate_table(row) for row in rows]


def _dedups(row: IndexRow) -> bool:
    keys = [c for c in row.columns if not c.included]
    return (
        row.server_version_num >= 130000
        and row.deduplicate
        and not row.unique
        and len(keys) == len(row.columns)
        and not any(c.typname in NO_DEDUP_TYPES for c in keys)
    )


def _distinct(columns: Sequence[ColumnStats], rows: float) -> float | None:
    """Distinct non-NULL keys (the product of the columns' counts), if known."""
    distinct = 1.0
    for col in columns:
        nd = col.n_distinct
        if nd is None:
            return None
        distinct *= max(1.0, -nd * rows if nd < 0 else nd)
    return distinct


def index_tuple_bytes(columns: Sequence[ColumnStats]) -> float:
    """Mean bytes of one btree leaf tuple (MAXALIGNed), without line pointer."""
    p_null = _any_null(columns)
    return (1 - p_null) * _key_bytes(columns, False) + p_null * _key_bytes(
        columns, True
    )


def _key_bytes(columns: Sequence[ColumnStats], with_null: bool) -> float:
    """A leaf tuple without NULLs, or one with (a 16-byte header, NULLs left out)."""
    if not with_null:
        present = [replace(c, null_frac=0.0) for c in columns]
        return _align(8 + _data_width(present), MAXALIGN)
    width = _data_width(columns) / max(1e-9, 1 - _any_null(columns))
    keep = sum(1 for c in columns if (c.null_frac or 0) < 1) - 1
    share = max(0, keep) / len(columns) if columns else 0
    return _align(16 + width * share, MAXALIGN)


def _group_bytes(key: float, dup: float) -> float:
    """Leaf bytes of ``dup`` equal keys merged into posting lists (and pointers)."""
    per = max(2, math.floor((MAX_POSTING_BYTES - key) / TID))
    postings = max(1, math.ceil(dup / per))
    return postings * (key + LINE_POINTER + MAXALIGN / 2) + TID * dup


def _leaf_bytes(row: IndexRow, entries: float) -> float:
    """Bytes the leaf items take (tuples and line pointers), deduplicated if so.

    Entries whose keys hold no NULL and entries with a NULL are counted apart:
    NULLs are equal to each other for deduplication.
    """
    p_null = _any_null(row.columns)
    total = 0.0
    rows = row.reltuples if row.partial else row.table_reltuples
    for with_null, share in ((False, 1 - p_null), (True, p_null)):
        n = entries * share
        if n <= 0:
            continue
        key = _key_bytes(row.columns, with_null)
        cols = [c for c in row.columns if (c.null_frac or 0) < 1]
        distinct = _distinct(cols, rows) if not with_null else None
        if with_null:
            known = [c for c in cols if (c.null_frac or 0) <= 0.5]
            distinct = _distinct(known, rows) if len(row.columns) > 1 else 1.0
        dup = n / min(n, distinct) if distinct else 1.0
        if not _dedups(row) or dup < 2:
            total += n * (key + LINE_POINTER)
        else:
            total += (n / dup) * _group_bytes(key, dup)
    return total


def btree_pages(row: IndexRow, entries: float) -> tuple[float, float]:
    """(leaf pages, all pages) of a freshly built btree holding ``entries``."""
    tuple_bytes = index_tuple_bytes(row.columns)
    page = row.block_size - PAGE_HEADER - BTREE_SPECIAL
    leaf_room = page - row.block_size * (100 - row.fillfactor) / 100 - tuple_bytes
    leaves = max(1.0, math.ceil(_leaf_bytes(row, entries) / leaf_room))
    inner_room = page - row.block_size * (100 - BTREE_INNER_FF) / 100
    fanout = max(2.0, math.floor(inner_room / (tuple_bytes + LINE_POINTER)))
    total, level = 1 + leaves, leaves  # the metapage
    while level > 1:
        level = math.ceil(level / fanout)
        total += level
    return leaves, total


def estimate_index(row: IndexRow) -> BloatEstimate:
    base = BloatEstimate(
        "index", row.oid, row.schema, row.table, row.name, row.size_bytes, None,
        None, row.fillfactor,
    )  # fmt: skip
    entries = row.reltuples if row.partial else row.table_reltuples
    if entries < 0 or row.relpages <= 0:
        return replace(base, note="no statistics yet: run ANALYZE")
    if row.columns and not any(c.has_stats for c in row.columns):
        return replace(base, note="no column statistics: run ANALYZE")
    _, pages = btree_pages(row, entries)
    pct = _pct(pages, row.relpages)
    details = {
        "entries": int(entries), "tuple_bytes": index_tuple_bytes(row.columns),
        "deduplicated": _dedups(row),
        "pages": row.relpages, "expected_pages": int(pages),
    }  # fmt: skip
    expected = int(row.size_bytes * (1 - pct / 100))
    return replace(base, expected_bytes=expected, bloat_pct=pct, details=details)


def estimate_indexes(rows: Iterable[IndexRow]) -> list[BloatEstimate]:
    """The estimated bloat of each btree index."""
    return [estimate_index(row) for row in rows]


# -- exact figures -------------------------------------------------------------


def measured_table_pct(
    table_len: int, tuple_count: float, tuple_len: float, fillfactor: int
) -> float:
    """Bloat of a heap from pgstattuple's live tuple count and bytes."""
    if table_len <= 0:
        return 0.0
    width = _align(tuple_len / tuple_count, MAXALIGN) if tuple_count else 0.0
    pages = heap_pages(tuple_count, width, fillfactor, BLOCK)
    return _pct(pages, table_len / BLOCK)


def measured_index_pct(
    index_size: int, leaf_pages: int, internal_pages: int, density: float, ff: int
) -> float:
    """Bloat of a btree from pgstatindex: leaves refilled to the fillfactor."""
    if index_size <= 0 or leaf_pages <= 0:
        return 0.0
    leaves = max(1.0, math.ceil(leaf_pages * density / ff))
    inner = internal_pages * leaves / leaf_pages
    return _pct(1 + leaves + inner, index_size / BLOCK)
