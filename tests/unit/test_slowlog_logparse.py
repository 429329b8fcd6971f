"""jsonlog and csvlog records and the slow statements they report."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pgwarden.skipped import Skipped
from pgwarden.slowlog.application import BadRecord, parse_report
from pgwarden.slowlog.logparse import (
    MAX_NAME_CHARS,
    BadLogRecord,
    parse_csv_record,
    parse_duration,
    parse_json_line,
    parse_timestamp,
    slow_statements,
)
from pgwarden.slowlog.model import classify_all
from pgwarden.slowlog.serverlog import batches


def _json(message: str, **extra: object) -> str:
    record = {
        "timestamp": "2024-05-01 12:00:00.250 UTC", "user": "app", "dbname": "shop",
        "pid": 4242, "error_severity": "LOG", "message": message,
        "backend_type": "client backend", "query_id": 99, **extra,
    }  # fmt: skip
    return json.dumps(record)


def _csv(message: str, detail: str = "") -> str:
    def q(value: str) -> str:
        return '"' + value.replace('"', '""') + '"'

    fields = [
        "2024-05-01 14:00:00.250 +02", q("app"), q("shop"), "4242", q("h:1"),
        q("s"), "1", q("SELECT"), "2024-05-01 13:00:00 +02", "3/4", "0", "LOG",
        "00000", q(message), q(detail) if detail else "", "", "", "", "", "", "",
        "", q("billing"), q("client backend"), "", "99",
    ]  # fmt: skip
    return ",".join(fields) + "\n"


def test_timestamps() -> None:
    assert parse_timestamp("2024-05-01 12:00:00.250 UTC") == datetime(
        2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC
    )
    moment = parse_timestamp("2024-05-01 14:00:00 +02")
    assert moment.utcoffset() == timedelta(hours=2)
    assert parse_timestamp("2024-05-01 14:00:00 -0530").tzinfo == timezone(
        -timedelta(hours=5, minutes=30)
    )


def test_jsonlog_statement() -> None:
    entry = parse_json_line(_json("duration: 150.5 ms  statement: SELECT pg_sleep(1)"))
    assert entry is not None and entry.database == "shop" and entry.pid == 4242
    found = parse_duration(entry.message)
    assert found is not None and found.kind == "statement"
    assert found.duration_ms == 150.5 and found.query == "SELECT pg_sleep(1)"


def test_jsonlog_execute_drops_parameters() -> None:
    line = _json(
        "duration: 321.0 ms  execute <unnamed>: SELECT * FROM t WHERE a = $1",
        detail="Parameters: $1 = 'secret-123'",
    )
    entries = [parse_json_line(line)]
    [query] = classify_all(slow_statements([e for e in entries if e]))
    assert query.query == "SELECT * FROM t WHERE a = $1"
    assert "secret" not in repr(query)
    assert query.queryid == 99 and query.severity == "warning"


def test_multi_line_statements_in_both_formats() -> None:
    message = "duration: 700.0 ms  statement: SELECT 'secret-123',\n  42\nFROM t"
    for entry in (parse_json_line(_json(message)), parse_csv_record(_csv(message))):
        assert entry is not None
        [query] = classify_all(slow_statements([entry]))
        assert query.query == "SELECT $1,\n  $2\nFROM t"
        assert query.severity == "critical"


def test_csvlog_record_spanning_lines_is_read_whole() -> None:
    message = 'duration: 1500.0 ms  execute S_1: SELECT "x"\nFROM t WHERE a = $1'
    data = _csv(message, "Parameters: $1 = 'secret-123'") + _csv("checkpoint")
    [(entries, size)] = list(batches(io.BytesIO(data.encode()), "csvlog"))
    assert size == len(data.encode()) and len(entries) == 2
    assert entries[0].application_name == "billing"
    [query] = classify_all(slow_statements(entries))
    assert query.query == 'SELECT "x"\nFROM t WHERE a = $1'
    assert query.severity == "emergency" and query.caller == "billing"
    assert query.ts == datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)


def test_unfinished_last_line_is_left_for_later() -> None:
    data = (_json("duration: 150 ms  statement: SELECT 1") + "\n").encode()
    half = _json("duration: 150 ms  statement: SELECT 2")[:40].encode()
    [(entries, size)] = list(batches(io.BytesIO(data + half), "jsonlog"))
    assert len(entries) == 1 and size == len(data)


def test_auto_explain_plan_joins_its_statement() -> None:
    plan = _json(
        "duration: 149.0 ms  plan:\nQuery Text: SELECT pg_sleep(0.15) "
        "WHERE 'secret-123' <> ''\nResult  (cost=0.00..0.01 rows=1 width=4)\n"
        "  One-Time Filter: ('secret-123'::text <> ''::text)"
    )
    stmt = _json("duration: 150.0 ms  statement: SELECT pg_sleep(0.15) "
                 "WHERE 'secret-123' <> ''")  # fmt: skip
    other = _json("duration: 0.5 ms  plan:\nQuery Text: SELECT 1\nResult  (cost=0)")
    entries = [parse_json_line(line) for line in (plan, stmt, other)]
    found = list(slow_statements([e for e in entries if e]))
    assert len(found) == 2
    assert found[0].duration_ms == 150.0 and found[0].plan is not None
    assert "Result  (cost=0.00..0.01 rows=1 width=4)" in found[0].plan
    assert "secret" not in found[0].plan
    assert found[1].query == "SELECT 1" and found[1].duration_ms == 0.5


def test_other_messages_are_ignored() -> None:
    for message in ("checkpoint complete", "duration: 5.0 ms", "connection received"):
        entry = parse_json_line(_json(message))
        assert entry is not None and parse_duration(entry.message) is None
    assert parse_json_line("  \n") is None


def test_unreadable_records_say_why_without_their_text() -> None:
    bad = [
        ("not json secret-123", "not a JSON record"),
        ("[1]", "not a JSON object"),
        ("[" * 100_000, "not a JSON record"),
        (_json("x", timestamp="yesterday"), "timestamp"),
        (_json("x", timestamp="9999-12-31 23:59:59 -12"), "timestamp"),
        (_json("x", timestamp="1999-12-31 23:59:59 UTC"), "timestamp: out of range"),
        (_json("x", timestamp="2024-05-01 12:00:00 +99"), "timestamp"),
        (_json("x", pid=2**40), "pid: out of range"),
        (_json("x", pid=1e999), "pid: not an integer"),
        (_json("x", query_id="9" * 5000), "query_id: not an integer"),
        (
            '{"timestamp": "2024-05-01 12:00:00 UTC", "message": ["secret-123"]}',
            "message: not a string",
        ),
    ]
    for line, reason in bad:
        with pytest.raises(BadLogRecord, match=reason) as caught:
            parse_json_line(line)
        assert "secret" not in str(caught.value)
    with pytest.raises(BadLogRecord, match="not a csvlog record"):
        parse_csv_record("2024-05-01 12:00:00 UTC LOG:  duration: 5 ms  statement: x")
    with pytest.raises(BadLogRecord, match="duration: out of range"):
        parse_duration("duration: 99999999999999999999 ms  statement: SELECT 1")


def test_timestamps_of_the_future_are_refused() -> None:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    line = _json("x", timestamp="2024-05-03 00:00:00 UTC")
    with pytest.raises(BadLogRecord, match="out of range"):
        parse_json_line(line, now=now)
    assert parse_json_line(line, now=now + timedelta(days=2)) is not None


def test_names_are_cut_and_cleaned() -> None:
    entry = parse_json_line(
        _json("x", dbname="d" * 1000, user="a\u0000b", application_name="\ud800")
    )
    assert entry is not None and entry.database == "d" * MAX_NAME_CHARS
    assert entry.user == "a\ufffdb" and entry.application_name == "\ufffd" * 3


def test_a_bad_duration_costs_only_its_record() -> None:
    lines = [
        _json("duration: 150 ms  statement: SELECT 1 AS before"),
        _json("duration: 99999999999999999999 ms  statement: SELECT 'secret-123'"),
        _json("duration: 150 ms  statement: SELECT 2 AS after"),
    ]
    entries = [e for e in map(parse_json_line, lines) if e]
    skipped = Skipped()
    found = [q.query for q in classify_all(slow_statements(entries, skipped))]
    assert found == ["SELECT $1 AS before", "SELECT $1 AS after"]
    assert skipped.count == 1 and skipped.reason == "duration: out of range"


def test_application_record_validation() -> None:
    good = {"ts": "2024-05-01T12:00:00Z", "query": "SELECT 1", "duration_ms": 120}
    seen = parse_report(good)
    assert seen.ts == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert parse_report({**good, "ts": 1714564800}).ts == seen.ts
    assert len(parse_report({**good, "query": "x" * 100_000}).query) == 16_384
    bad = [
        ([], "not a JSON object"),
        ({**good, "query": ""}, "query"),
        ({**good, "duration_ms": "slow"}, "duration_ms"),
        ({**good, "duration_ms": -1}, "duration_ms"),
        ({**good, "duration_ms": True}, "duration_ms"),
        ({**good, "ts": "yesterday"}, "ts"),
        ({**good, "ts": None}, "ts"),
        ({**good, "caller": 5}, "caller"),
    ]
    for record, reason in bad:
        with pytest.raises(BadRecord, match=reason):
            parse_report(record)
