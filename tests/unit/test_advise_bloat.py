"""The catalog bloat estimators, without a server."""

from __future__ import annotations

import math

from pgwarden.advise.health.packing import (
    ColumnStats,
    IndexRow,
    TableRow,
    estimate_indexes,
    estimate_tables,
    heap_pages,
    heap_tuple_bytes,
    measured_index_pct,
    measured_table_pct,
)

INT4 = ColumnStats("id", "int4", 4, "i", 4, 0.0, -1.0)
INT8 = ColumnStats("v", "int8", 8, "d", 8, 0.0, -1.0)
TEXT = ColumnStats("t", "text", -1, "i", 33, 0.0, -1.0)


def table(pages: int, tuples: float, *cols: ColumnStats, ff: int = 100) -> TableRow:
    return TableRow(1, "public", "t", pages, tuples, pages * 8192, cols, ff)


def index(pages: int, tuples: float, *cols: ColumnStats, **kw: object) -> IndexRow:
    args: dict = {"oid": 2, "schema": "public", "table": "t", "name": "t_idx",
                  "table_oid": 1, "relpages": pages, "reltuples": tuples,
                  "table_reltuples": tuples, "size_bytes": pages * 8192,
                  "columns": cols, **kw}  # fmt: skip
    return IndexRow(**args)


def test_heap_tuple_is_header_plus_aligned_data() -> None:
    assert heap_tuple_bytes([INT4]) == 32  # 24 + 4 -> MAXALIGN 32
    assert heap_tuple_bytes([INT4, INT8]) == 40  # 24 + 4 + pad 4 + 8
    assert heap_pages(226 * 10, 32, 100, 8192) == 10  # 226 tuples of 36 B a page


def test_fresh_table_has_no_bloat_and_half_empty_has_half() -> None:
    per_page = math.floor((8192 - 24) / (heap_tuple_bytes([INT4, TEXT]) + 4))
    fresh = estimate_tables([table(100, per_page * 100, INT4, TEXT)])[0]
    assert fresh.bloat_pct is not None and fresh.bloat_pct < 1
    half = estimate_tables([table(100, per_page * 50, INT4, TEXT)])[0]
    assert half.bloat_pct is not None and abs(half.bloat_pct - 50) < 1
    assert half.bloat_bytes == int(100 * 8192 * half.bloat_pct / 100)


def test_fillfactor_is_expected_free_space() -> None:
    per_page = math.floor((8192 * 0.7 - 24) / (heap_tuple_bytes([INT4]) + 4))
    est = estimate_tables([table(100, per_page * 100, INT4, ff=70)])[0]
    assert est.bloat_pct is not None and est.bloat_pct < 1


def test_nulls_make_tuples_narrower() -> None:
    mostly_null = ColumnStats("t", "text", -1, "i", 200, 0.9, -0.1)
    full = ColumnStats("t", "text", -1, "i", 200, 0.0, -1.0)
    assert heap_tuple_bytes([INT4, mostly_null]) < heap_tuple_bytes([INT4, full])


def test_no_statistics_is_said_not_guessed() -> None:
    est = estimate_tables([table(10, -1, INT4)])[0]
    assert est.bloat_pct is None and "ANALYZE" in (est.note or "")
    nostats = ColumnStats("id", "int4", 4, "i")
    est = estimate_indexes([index(10, 1000, nostats)])[0]
    assert est.bloat_pct is None


def test_btree_fresh_and_bloated() -> None:
    # int4 keys: 16-byte tuples + 4-byte pointers, leaves filled to 90 %
    per_leaf = math.floor((8192 - 40 - 8192 * 0.1 - 16) / 20)
    leaves = 50
    fresh = estimate_indexes([index(leaves + 2, per_leaf * leaves, INT4)])[0]
    assert fresh.bloat_pct is not None and fresh.bloat_pct < 3
    bloated = estimate_indexes([index(2 * leaves + 2, per_leaf * leaves, INT4)])[0]
    assert bloated.bloat_pct is not None and 45 < bloated.bloat_pct < 55


def test_deduplication_on_13_and_later_only() -> None:
    low = ColumnStats("tenant", "int4", 4, "i", 4, 0.0, 10.0)
    rows = 100_000
    new = estimate_indexes([index(300, rows, low, server_version_num=150000)])[0]
    old = estimate_indexes([index(300, rows, low, server_version_num=120000)])[0]
    assert new.details["deduplicated"] and not old.details["deduplicated"]
    assert new.details["expected_pages"] < old.details["expected_pages"] / 2
    unique = estimate_indexes([index(300, rows, low, unique=True)])[0]
    assert not unique.details["deduplicated"]
    numeric = ColumnStats("n", "numeric", -1, "i", 6, 0.0, 10.0)
    assert not estimate_indexes([index(300, rows, numeric)])[0].details["deduplicated"]


def test_partial_index_uses_its_own_row_count() -> None:
    row = index(10, 1000, INT4, partial=True, table_reltuples=1_000_000)
    est = estimate_indexes([row])[0]
    assert est.details["entries"] == 1000


def test_measured_figures_use_the_same_definition() -> None:
    # 60-byte tuples take 64 + 4 bytes: 120 a page; 1000 full pages hold 120,000
    assert measured_table_pct(1000 * 8192, 120_000, 120_000 * 60, 100) < 1
    assert abs(measured_table_pct(1000 * 8192, 60_000, 60_000 * 60, 100) - 50) < 1
    assert measured_index_pct(102 * 8192, 100, 1, 90.0, 90) < 1
    assert abs(measured_index_pct(102 * 8192, 100, 1, 45.0, 90) - 50) < 2
    assert measured_table_pct(0, 0, 0, 100) == 0
