"""Rows of a catalog read are converted one by one: a bad one costs only itself."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from pgwarden.collect.kinds import DATABASE, INDEX
from pgwarden.collect.snapshot import (
    REAL_MAX,
    BadRow,
    Table,
    keyed_rows,
    relations,
    to_row,
)
from pgwarden.skipped import Skipped

NAMES = ("relid", "schema_name", "rel_name", "table_relid", "idx_scan", "size_bytes")
#: oid, name, name, int8, numeric, float8: the last two are checked row by row
TYPES = (26, 19, 19, 20, 1700, 701)


def _table(*rows: tuple[Any, ...]) -> Table:
    return Table(NAMES, list(rows), TYPES)


def test_bad_values_cost_their_row_only() -> None:
    table = _table(
        (1, "public", "a", 10, Decimal(5), 8192.0),
        (2, "public", "b", 10, Decimal("NaN"), 8192.0),
        (3, "public", "c", 10, 7, float("inf")),
        (4, "public", "d", 10, Decimal(2**64), 1.0),
        (5, "public", "e", 10, "12", 1.0),
        (6, "public", "f", 10, 3, REAL_MAX * 10),
        (7, "public", "g", 10, Decimal("2.6"), 1),
        (8, "public", "h", 10, 1, 10**400),
    )
    unread = Skipped()

    rows = keyed_rows(INDEX, table, unread)

    assert sorted(rows) == [(1,), (7,)]
    assert rows[(1,)].counters == {"idx_scan": 5}
    assert rows[(7,)].counters == {"idx_scan": 3} and rows[(7,)].gauges == {
        "size_bytes": 1
    }
    assert unread.count == 6
    assert unread.reason == "idx_scan: not a finite number"


def test_exact_types_are_taken_as_read() -> None:
    table = Table(NAMES, [(1, "s", "a", None, 2**62, 3)], (26, 19, 19, 20, 20, 20))
    assert keyed_rows(INDEX, table)[(1,)].counters == {"idx_scan": 2**62}


def test_names_that_are_not_text_are_left_out() -> None:
    table = _table(
        (1, "public", b"t\xff", None, 1, 1.0), (2, "public", "u", None, 1, 1)
    )
    unread = Skipped()
    assert [r.rel_name for r in relations("tables", table, unread)] == ["u"]
    assert unread.count == 1 and unread.reason == "rel_name: not text"


def test_a_one_row_part_says_which_value_is_bad() -> None:
    good = {"xact_commit": 1, "size_bytes": Decimal(10), "longest_xact_s": 0.5}
    assert to_row(DATABASE, good).gauges == {"size_bytes": 10, "longest_xact_s": 0.5}
    for bad, reason in [
        ({**good, "xact_commit": True}, "xact_commit: not a number"),
        ({**good, "longest_xact_s": float("nan")}, "not a finite number"),
        ({**good, "stats_since": "yesterday"}, "stats_since: not a time"),
    ]:
        with pytest.raises(BadRow, match=reason):
            to_row(DATABASE, bad)
    assert to_row(DATABASE, {**good, "stats_since": datetime.now(UTC)}).since
