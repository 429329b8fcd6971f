"""Per-interval statement totals written by the collector."""

from __future__ import annotations

from pgwarden.collect.statements import StatementText
from pgwarden.collect.totals import Total, own_keys, statement_totals


def _text(queryid: int, query: str) -> StatementText:
    return StatementText(5, 10, queryid, True, "app", "app", query, len(query))


def test_top_level_statements_are_summed_per_database() -> None:
    rows = {
        (5, 10, 1, True): {"calls": 3, "total_exec_ms": 1.5, "rows": 3},
        (5, 10, 2, True): {"calls": 2, "total_exec_ms": 0.5, "shared_blks_hit": 7},
        (5, 10, 3, False): {"calls": 9, "total_exec_ms": 9.0},
        (6, 10, 1, True): {"calls": 1, "total_exec_ms": None},
    }
    found = statement_totals(rows, own=())
    assert found == [
        Total(5, calls=5, total_exec_ms=2.0, rows=3, shared_blks_hit=7),
        Total(6, calls=1),
    ]


def test_own_statements_are_summed_apart() -> None:
    rows = {
        (5, 10, 1, True): {"calls": 3, "total_exec_ms": 1.5, "rows": 3},
        (5, 10, 2, True): {"calls": 2, "total_exec_ms": 0.5, "rows": 2},
    }
    [total] = statement_totals(rows, own={(5, 10, 2, True)})
    assert (total.calls, total.total_exec_ms, total.rows) == (3, 1.5, 3)
    assert (total.own_calls, total.own_exec_ms) == (2, 0.5)


def test_own_keys_follow_the_text_rule() -> None:
    texts = [
        _text(1, "SELECT id FROM orders WHERE id = $1"),
        _text(2, "SELECT ts FROM pgwarden.collect_state WHERE target_id = $1"),
    ]
    assert own_keys(texts) == {(5, 10, 2, True)}
