"""Every server log parser is total: any text or bytes give a record, nothing, or
the documented :class:`BadLogRecord`, and one bad record never costs the others."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from pgwarden.skipped import Skipped
from pgwarden.slowlog.logparse import (
    MAX_DURATION_MS,
    BadLogRecord,
    Duration,
    LogEntry,
    parse_csv_record,
    parse_duration,
    parse_json_line,
    parse_timestamp,
    slow_statements,
)
from pgwarden.slowlog.model import classify_all
from pgwarden.slowlog.plan import split_plan
from pgwarden.slowlog.serverlog import Raw, batches, parse_record, records

SETTINGS = settings(max_examples=200, deadline=None, database=None)
FEW = settings(max_examples=60, deadline=None, database=None)
NOW = datetime(2024, 5, 2, tzinfo=UTC)

texts = st.text(max_size=400)
payloads = st.one_of(
    texts,
    st.binary(max_size=400).map(lambda b: b.decode("utf-8", "replace")),
    st.sampled_from(
        [
            "[" * 5000,
            '{"a":' * 3000,
            "duration: 1e400 ms  statement: x",
            "duration: " + "9" * 5000 + " ms  statement: x",
            "duration: 1.5 ms  plan:\n" + "{" * 5000,
            "duration: 1.5 ms  plan:\n" + '{"Plan": [' * 2000,
            '2024-05-01 12:00:00 UTC,"a""b\n',
            "2024-05-01 12:00:00 +99,x,y",
            "\x00\ud800",
        ]
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | texts,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4)
    ),
    max_leaves=20,
)


def _total(parse: object, *args: object) -> object:
    """``parse(*args)``, or None when it raises the documented error."""
    try:
        return parse(*args)  # type: ignore[operator]
    except BadLogRecord as exc:
        assert str(exc), "a reason is given"
        return None


def _json_line(marker: str, ms: float = 150.0) -> str:
    record = {
        "timestamp": "2024-05-01 12:00:00.250 UTC", "pid": 4242, "dbname": "shop",
        "message": f"duration: {ms} ms  statement: SELECT 1 AS {marker}",
    }  # fmt: skip
    return json.dumps(record) + "\n"


def _csv_line(marker: str) -> str:
    message = f'duration: 150.0 ms  statement: SELECT "x",\n  1 AS {marker}'
    fields = [
        "2024-05-01 12:00:00.250 UTC", '"app"', '"shop"', "4242", '"h:1"', '"s"',
        "1", '"SELECT"', "2024-05-01 11:00:00 UTC", "3/4", "0", "LOG", "00000",
        '"' + message.replace('"', '""') + '"', "", "", "", "", "", "", "", "",
        '"billing"', '"client backend"', "", "99",
    ]  # fmt: skip
    return ",".join(fields) + "\n"


@SETTINGS
@given(payloads)
def test_json_lines(text: str) -> None:
    found = _total(parse_json_line, text, NOW)
    assert found is None or isinstance(found, LogEntry)


@SETTINGS
@given(st.dictionaries(st.sampled_from(["timestamp", "message", "pid", "dbname",
                                         "user", "query_id", "detail"]),
                       json_values))  # fmt: skip
def test_json_records_of_any_shape(record: dict[str, object]) -> None:
    found = _total(parse_json_line, json.dumps(record), NOW)
    assert found is None or isinstance(found, LogEntry)
    if isinstance(found, LogEntry):
        found.message.encode("utf-8")  # storable: no lone surrogate
        assert "\x00" not in found.message


@SETTINGS
@given(payloads)
def test_csv_records(text: str) -> None:
    found = _total(parse_csv_record, text, NOW)
    assert found is None or isinstance(found, LogEntry)


@SETTINGS
@given(payloads | st.from_regex(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? ?\S*"))
def test_timestamps(text: str) -> None:
    found = _total(parse_timestamp, text)
    assert found is None or (isinstance(found, datetime) and found.tzinfo)


@SETTINGS
@given(payloads)
def test_duration_messages(message: str) -> None:
    found = _total(parse_duration, message)
    assert found is None or isinstance(found, Duration)


@SETTINGS
@given(
    st.from_regex(r"\d{1,30}(\.\d{1,30})?", fullmatch=True),
    st.sampled_from(["statement", "execute S_1", "plan"]),
    texts,
)
def test_durations_are_bounded(ms: str, kind: str, body: str) -> None:
    found = _total(parse_duration, f"duration: {ms} ms  {kind}: {body}")
    if isinstance(found, Duration):
        assert 0 <= found.duration_ms <= MAX_DURATION_MS


@SETTINGS
@given(payloads | json_values.map(json.dumps))
def test_auto_explain_plans(body: str) -> None:
    query, plan = split_plan(body)
    assert query is None or isinstance(query, str)
    assert isinstance(plan, str)


@SETTINGS
@given(st.binary(max_size=600), st.sampled_from(["jsonlog", "csvlog"]))
def test_raw_records(raw: bytes, fmt: str) -> None:
    found = _total(parse_record, raw, fmt, NOW)
    assert found is None or isinstance(found, LogEntry)


@FEW
@given(
    st.lists(st.binary(max_size=200), max_size=8),
    st.sampled_from(["jsonlog", "csvlog"]),
    st.booleans(),
)
def test_any_bytes_are_consumed_whole_or_left_for_later(
    pieces: list[bytes], fmt: str, tail: bool
) -> None:
    data = b"".join(pieces)
    found: list[Raw] = list(records(io.BytesIO(data), fmt, tail=tail))
    consumed = sum(raw.size for raw in found)
    assert consumed <= len(data)
    if tail:
        assert consumed == len(data)
    for raw in found:
        assert raw.size > 0 and (raw.problem is None or raw.data == b"")


def _read(data: bytes, fmt: str) -> tuple[list[LogEntry], int, Skipped]:
    skipped = Skipped()
    entries: list[LogEntry] = []
    size = 0
    lines = io.BytesIO(data)
    for batch, consumed in batches(lines, fmt, tail=True, skipped=skipped, now=NOW):
        entries += batch
        size += consumed
    return entries, size, skipped


def _in_order(markers: list[str], entries: list[LogEntry]) -> bool:
    found = iter(entry.message for entry in entries)
    return all(any(marker in message for message in found) for marker in markers)


@SETTINGS
@given(st.binary(max_size=300), st.integers(0, 4), st.sampled_from(["json", "csv"]))
def test_one_bad_record_never_costs_the_others(
    bad: bytes, where: int, kind: str
) -> None:
    fmt = "jsonlog" if kind == "json" else "csvlog"
    line = _json_line if kind == "json" else _csv_line
    markers = [f"good_{i}" for i in range(4)]
    good = [line(m).encode() for m in markers]
    data = b"".join([*good[:where], bad.rstrip(b"\n") + b"\n", *good[where:]])

    entries, size, _ = _read(data, fmt)

    assert size == len(data)
    assert _in_order(markers, entries)


@SETTINGS
@given(st.lists(payloads, min_size=1, max_size=5), st.integers(0, 4))
def test_statements_of_any_text_cost_only_themselves(
    messages: list[str], where: int
) -> None:
    ts = datetime(2024, 5, 1, 12, tzinfo=UTC)
    entries = [LogEntry(ts, f"duration: 150 ms  statement: SELECT 1 AS good_{i}")
               for i in range(4)]  # fmt: skip
    hostile = [LogEntry(ts, message, pid=7) for message in messages]
    entries[where:where] = hostile
    skipped = Skipped()

    found = classify_all(slow_statements(entries, skipped), skipped=skipped)

    queries = [q.query for q in found]
    assert all(f"SELECT $1 AS good_{i}" in queries for i in range(4))


def test_a_truncated_csvlog_record_costs_only_itself() -> None:
    good = [_csv_line(f"good_{i}").encode() for i in range(3)]
    cut = good[0][: good[0].index(b"duration") + 20] + b"\n"  # quote left open
    data = good[0] + cut + good[1] + good[2]

    for tail in (True, False):
        skipped = Skipped()
        lines = io.BytesIO(data)
        found = list(batches(lines, "csvlog", tail=tail, skipped=skipped, now=NOW))
        entries = [e for batch, _ in found for e in batch]
        assert _in_order(["good_0", "good_1", "good_2"], entries)
        assert sum(size for _, size in found) == len(data)
        assert skipped.count == 1 and skipped.reason is not None
        assert skipped.reason.startswith("csvlog record unfinished")


def test_an_overlong_record_is_skipped_and_the_next_one_read() -> None:
    data = (_json_line("x" * 5000) + _json_line("after")).encode()
    raws = list(records(io.BytesIO(data), "jsonlog", limit=1000))
    assert [r.problem for r in raws] == ["record longer than 1000 bytes", None]
    assert b"after" in raws[1].data and sum(r.size for r in raws) == len(data)
