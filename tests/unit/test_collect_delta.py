"""Deltas and gaps between snapshots (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pgwarden.collect.delta import (
    LastRow,
    Previous,
    interval_gap,
    key_text,
    last_rows,
    merge,
    moved,
    parse_key,
    part_delta,
)
from pgwarden.collect.kinds import DATABASE, STATEMENT
from pgwarden.collect.snapshot import Part, Row

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
START = datetime(2025, 1, 1, tzinfo=UTC)
KEY = (1, 10, 42, True)


def previous(rows: dict[str, LastRow], marker: str | None = "r1") -> Previous:
    return Previous(T0, START, {"statements": marker}, {"statements": rows})


def statements(rows: dict[tuple[object, ...], Row], marker: str | None = "r1") -> Part:
    return Part("statements", "statement", marker, rows)


def test_delta_is_the_difference_of_counters() -> None:
    prev = previous({KEY: LastRow({"calls": 10, "total_exec_ms": 5.0})})
    part = statements({KEY: Row({"calls": 47, "total_exec_ms": 7.5})})
    result = part_delta(prev, part)
    assert result.gap is None
    assert result.rows[KEY] == {"calls": 37, "total_exec_ms": 2.5}


def test_new_entry_counts_from_zero() -> None:
    result = part_delta(previous({}), statements({KEY: Row({"calls": 3})}))
    assert result.rows[KEY] == {"calls": 3}


def test_new_entry_that_existed_before_is_skipped() -> None:
    row = Row({"calls": 3}, since=T0 - timedelta(hours=1))
    result = part_delta(previous({}), statements({KEY: row}))
    assert result.rows == {} and result.gap is not None


def test_counter_going_down_is_skipped_with_a_gap() -> None:
    prev = previous({KEY: LastRow({"calls": 10})})
    result = part_delta(prev, statements({KEY: Row({"calls": 4})}))
    assert result.rows == {}
    assert result.gap is not None and "1 entries were reset" in result.gap.reason


def test_moved_stats_since_is_skipped() -> None:
    prev = previous({KEY: LastRow({"calls": 1}, since=START)})
    row = Row({"calls": 9}, since=T0)
    assert part_delta(prev, statements({KEY: row})).rows == {}


def test_moved_stats_reset_makes_the_part_a_gap() -> None:
    prev = previous({KEY: LastRow({"calls": 1})})
    result = part_delta(prev, statements({KEY: Row({"calls": 9})}, marker="r2"))
    assert result.rows == {}
    assert result.gap is not None and "r1 -> r2" in result.gap.reason


def test_part_not_read_last_cycle_is_a_gap() -> None:
    prev = Previous(T0, START, {}, {})
    result = part_delta(prev, statements({KEY: Row({"calls": 9})}))
    assert result.gap is not None and "not read last cycle" in result.gap.reason


def test_restart_and_clock_going_back_are_interval_gaps() -> None:
    prev = previous({})
    later = T0 + timedelta(minutes=1)
    assert interval_gap(prev, later, START) is None
    assert "restarted" in (interval_gap(prev, later, START + timedelta(1)) or "")
    assert "backwards" in (interval_gap(prev, T0, START) or "")


def test_gauges_pass_through_and_parts_merge_per_key() -> None:
    prev = Previous(T0, START, {"database": "r"}, {"database": {
        (5,): LastRow({"xact_commit": 100})}})  # fmt: skip
    db = Part("database", "database", "r", {(5,): Row({"xact_commit": 130})})
    activity = Part(
        "activity", "database", None, {(5,): Row({}, {"connections": 7})}, False
    )
    merged = merge(DATABASE, [part_delta(prev, db), part_delta(prev, activity)])
    assert merged == {(5,): {"xact_commit": 30, "connections": 7}}


def test_idle_statements_are_dropped() -> None:
    prev = previous({KEY: LastRow({"calls": 10})})
    result = part_delta(prev, statements({KEY: Row({"calls": 10})}))
    assert merge(STATEMENT, [result]) == {}


def test_last_rows_keep_counters_and_since() -> None:
    part = statements({KEY: Row({"calls": 1}, {"x": 2}, since=T0)})
    [kept] = last_rows(part).values()
    assert kept.counters == {"calls": 1} and kept.since == T0


def test_keys_survive_their_text_form() -> None:
    assert parse_key(key_text(KEY)) == KEY
    assert parse_key(key_text((16384,))) == (16384,)


def test_unmoved_entries_are_not_rewritten() -> None:
    assert not moved(LastRow({"calls": 3}, since=T0), Row({"calls": 3}, {"x": 1}, T0))
    assert moved(LastRow({"calls": 3}), Row({"calls": 4}))
    assert moved(LastRow({"calls": 3}), Row({"calls": 3}, since=T0))
    assert moved(None, Row({"calls": 3}))


def test_idle_relations_keep_a_zero_row_with_their_gauges() -> None:
    from pgwarden.collect.kinds import TABLE

    prev = Previous(T0, START, {"tables": None}, {"tables": {
        (7,): LastRow({"seq_scan": 4, "toast_blks_read": None})}})  # fmt: skip
    row = Row({"seq_scan": 4, "toast_blks_read": None}, {"size_bytes": 8192})
    tables = Part("tables", "table", None, {(7,): row})
    merged = merge(TABLE, [part_delta(prev, tables)])
    assert merged == {
        (7,): {"seq_scan": 0, "toast_blks_read": None, "size_bytes": 8192}
    }
