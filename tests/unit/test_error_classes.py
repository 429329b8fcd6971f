"""Errors by class: SQLSTATE and message classes, counting log records per minute,
the application's keys; total on any input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgwarden.slowlog.client import CallCounter, error_key
from pgwarden.slowlog.failures import (
    NAMED,
    UNCLASSIFIED,
    classify,
    count,
    is_class,
    reported_class,
)
from pgwarden.slowlog.logparse import BadLogRecord, LogEntry, parse_json_line

SETTINGS = settings(max_examples=200, deadline=None, database=None)
FEW = settings(max_examples=80, deadline=None, database=None)
NOW = datetime(2026, 3, 3, 12, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sqlstate", "message", "expected"),
    [
        ("40001", "could not serialize access due to concurrent update",
         "serialization_failure"),
        ("40P01", "deadlock detected", "deadlock_detected"),
        ("55P03", "canceling statement due to lock timeout", "lock_not_available"),
        ("57014", "canceling statement due to statement timeout", "statement_timeout"),
        ("57014", "canceling statement due to user request", "query_canceled"),
        ("23505", "duplicate key value violates unique constraint", "unique_violation"),
        ("08006", "connection failure", "connection_failure"),
        ("28P01", 'password authentication failed for user "x"',
         "authentication_failure"),
        ("28000", 'role "nobody" does not exist', "authentication_failure"),
        ("53300", "sorry, too many clients already", "too_many_connections"),
        ("57P01", "terminating connection due to administrator command",
         "admin_shutdown"),
        ("57P03", "the database system is starting up", "admin_shutdown"),
        ("42P01", 'relation "x" does not exist', "other_42"),
        ("22012", "division by zero", "other_22"),
        ("23503", "insert or update violates foreign key", "other_23"),
        ("XX000", "internal", "other_xx"),
        # no SQLSTATE (a stderr log without %e): the message where it is clear
        (None, "could not serialize access due to read/write dependencies",
         "serialization_failure"),
        (None, "canceling statement due to statement timeout", "statement_timeout"),
        (None, "sorry, too many clients already", "too_many_connections"),
        (None, 'relation "x" does not exist', UNCLASSIFIED),
        ("4000", "deadlock detected", "deadlock_detected"),  # malformed code
        ("40p01", "something", UNCLASSIFIED),
    ],
)  # fmt: skip
def test_classes_by_sqlstate_then_message(
    sqlstate: str | None, message: str, expected: str
) -> None:
    assert classify(sqlstate, message) == expected
    assert is_class(expected)


def test_reported_keys_are_class_names_or_sqlstates() -> None:
    assert reported_class("40001") == "serialization_failure"
    assert reported_class("statement_timeout") == "statement_timeout"
    assert reported_class("other_42") == "other_42"
    assert reported_class("57014") == "query_canceled"
    for bad in ("", "Serialization_Failure", "other_", "4000", "x" * 65, "drop table"):
        with pytest.raises(ValueError):
            reported_class(bad)


def _entry(
    severity: str | None, code: str | None, message: str, **kw: object
) -> LogEntry:
    return LogEntry(NOW, message, severity=severity, sqlstate=code, **kw)  # type: ignore[arg-type]


def test_only_failed_records_of_the_workload_count_per_minute() -> None:
    later = NOW + timedelta(minutes=1)
    entries = [
        _entry("ERROR", "40001", "could not serialize access"),
        _entry("ERROR", "40001", "could not serialize access"),
        _entry("FATAL", "28P01", "password authentication failed"),
        _entry("LOG", "00000", "duration: 200 ms  statement: SELECT 1"),
        _entry("WARNING", "01000", "deadlock detected"),
        _entry("ERROR", "57014", "canceling statement due to statement timeout",
               application_name="pgwarden"),
        _entry("ERROR", "23505", "duplicate key", application_name="pgwarden-worker"),
        LogEntry(later, "deadlock detected", severity="PANIC", sqlstate="40P01"),
    ]  # fmt: skip
    found = count(entries)
    minute = NOW.replace(second=0)
    assert dict(found.by_minute) == {
        (minute, "serialization_failure"): 2,
        (minute, "authentication_failure"): 1,
        (minute + timedelta(minutes=1), "deadlock_detected"): 1,
    }
    assert (found.earliest, found.latest) == (NOW, later)


def test_jsonlog_fields_reach_the_entry() -> None:
    line = json.dumps({
        "timestamp": "2026-03-03 12:00:30.123 UTC", "error_severity": "ERROR",
        "state_code": "40P01", "message": "deadlock detected", "dbname": "app",
    })  # fmt: skip
    entry = parse_json_line(line, NOW)
    assert entry is not None
    assert (entry.severity, entry.sqlstate) == ("ERROR", "40P01")
    forged = json.loads(line) | {"state_code": "'; DROP", "error_severity": 7}
    entry = parse_json_line(json.dumps(forged), NOW)
    assert entry is not None and (entry.severity, entry.sqlstate) == (None, None)


class _DbError(Exception):
    def __init__(self, sqlstate: str | None, message: str = "") -> None:
        super().__init__(message)
        self.sqlstate, self.message = sqlstate, message


def test_the_client_counts_calls_and_errors_and_gets_undelivered_ones_back() -> None:
    calls = CallCounter()
    calls.count()
    calls.count(_DbError("40001"))
    calls.count(_DbError("57014", "canceling statement due to statement timeout"))
    calls.count(ValueError("not the database's"))
    taken = calls.take()
    assert taken == (4, {"40001": 1, "statement_timeout": 1})
    assert calls.take() == (0, {})
    calls.count(_DbError("40001"))
    calls.give_back(*taken)
    assert calls.take() == (5, {"40001": 2, "statement_timeout": 1})
    assert error_key(_DbError("bad")) is None
    assert all(reported_class(k) for k in ("40001", "statement_timeout"))


codes = st.one_of(st.none(), st.text(max_size=8),
                  st.from_regex(r"\A[0-9A-Z]{5}\Z"))  # fmt: skip


@SETTINGS
@given(codes, st.text(max_size=300))
def test_classify_is_total_and_bounded(code: str | None, message: str) -> None:
    name = classify(code, message)
    assert is_class(name) and len(name) <= 64
    assert name in NAMED or name == UNCLASSIFIED or name.startswith("other_")


@SETTINGS
@given(st.text(max_size=80))
def test_reported_class_raises_only_value_error(key: str) -> None:
    try:
        assert is_class(reported_class(key))
    except ValueError:
        pass


json_values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                        st.text(max_size=40))  # fmt: skip


@FEW
@given(
    st.lists(
        st.fixed_dictionaries({
            "timestamp": st.sampled_from(["2026-03-03 12:00:30 UTC", "garbage"]),
            "error_severity": json_values | st.sampled_from(["ERROR", "FATAL"]),
            "state_code": json_values | st.from_regex(r"\A[0-9A-Z]{5}\Z"),
            "message": st.text(max_size=60),
        }),
        max_size=12,
    )
)  # fmt: skip
def test_one_hostile_record_costs_only_itself(records: list[dict[str, object]]) -> None:
    good = {"timestamp": "2026-03-03 12:00:10 UTC", "error_severity": "ERROR",
            "state_code": "23505", "message": "duplicate key value"}  # fmt: skip
    entries = []
    for record in [*records, good]:
        try:
            entry = parse_json_line(json.dumps(record), NOW)
        except BadLogRecord:
            continue
        if entry is not None:
            entries.append(entry)
    found = count(entries)
    minute = NOW.replace(second=0)
    assert found.by_minute[(minute, "unique_violation")] >= 1
    assert all(is_class(name) for _, name in found.by_minute)


report_keys = st.one_of(
    st.sampled_from(["40001", "serialization_failure", "other_42", "unclassified"]),
    st.text(max_size=70),
)
report_values = st.one_of(st.integers(min_value=-5, max_value=2**32), st.floats(),
                          st.text(max_size=5), st.none(), st.booleans())  # fmt: skip


@FEW
@given(
    st.dictionaries(
        st.sampled_from(["calls", "errors", "pool_size", "in_use", "source", "x"]),
        st.one_of(
            report_values, st.dictionaries(report_keys, report_values, max_size=70)
        ),
        max_size=6,
    )
)
def test_an_app_report_is_valid_or_refused_with_a_reason(
    body: dict[str, object],
) -> None:
    """The body of POST /api/ingest/app-metrics: accepted with bounded class counts,
    or a validation error (422), nothing else."""
    from pydantic import ValidationError

    from pgwarden.web.ingest import AppMetrics

    try:
        report = AppMetrics.model_validate(body)
    except ValidationError:
        return
    assert len(report.errors) <= 64
    assert all(is_class(k) and 0 <= n < 2**31 * 64 for k, n in report.errors.items())
    assert report.calls is None or 0 <= report.calls < 2**63
