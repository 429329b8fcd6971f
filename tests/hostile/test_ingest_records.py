"""The application slow-query reader and validator are total (hypothesis).

Whatever a reporter sends — any bytes, any JSON value, Python's JSON extras (NaN,
Infinity, integers of any size), lone surrogates, NUL characters, deep nesting — the
reader and :func:`parse_report` raise nothing but :class:`BadRecord` (and
:class:`TooManyRecords` for an oversized batch), and one bad record never costs the
good records beside it.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pgwarden.slowlog.application import (
    MAX_DURATION_MS,
    BadRecord,
    check_time,
    parse_report,
    read_lines,
    screen,
)

FEW = settings(max_examples=150, deadline=None, database=None)
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
RETENTION_DAYS = 30
#: every code point, lone surrogates and NUL included, the hostile ones often
ANY_CHAR = st.sampled_from("\x00\ud800\udfff'\"\\\n\u2028") | st.characters(
    exclude_categories=()
)
SCALARS = (
    st.none() | st.booleans() | st.integers() | st.integers(-(10**400), 10**400)
    | st.floats() | st.text(ANY_CHAR, max_size=30)
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(ANY_CHAR, max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
TIMES = st.datetimes(timezones=st.timezones() | st.just(UTC))
#: records that look like reports: the known keys, each with any value
REPORTS = st.fixed_dictionaries(
    {},
    optional={
        "ts": VALUES | TIMES.map(datetime.isoformat) | st.floats(-1e12, 1e12),
        "query": VALUES | st.text(ANY_CHAR, min_size=1, max_size=200),
        "duration_ms": VALUES | st.floats(-1e3, 1e10),
        "caller": VALUES, "database": VALUES, "user": VALUES,
        "application_name": VALUES,
    },
)  # fmt: skip

SQL = st.sampled_from([
    "SELECT * FROM t WHERE id = {}", "UPDATE \"Answer\" SET v = {} WHERE id = 1",
    "SELECT {} FROM pg_sleep(1) -- app.views:list:12", "DELETE FROM s WHERE x > {}",
])  # fmt: skip
LITERALS = st.integers(-(10**9), 10**9).map(str) | st.text(
    st.characters(min_codepoint=32, max_codepoint=0x2FFF, exclude_characters="'\\"),
    max_size=20,
).map(lambda s: f"'{s}'")
GOOD = st.fixed_dictionaries({
    "ts": st.floats(-29 * 86400, 240).map(
        lambda s: (NOW + timedelta(seconds=s)).isoformat()),
    "query": st.builds(str.format, SQL, LITERALS),
    "duration_ms": st.floats(100, MAX_DURATION_MS),
}, optional={"caller": st.text(st.characters(exclude_characters="\x00")),
             "user": st.sampled_from(["app", "web"])})  # fmt: skip
#: a good record with one field replaced by anything
NEAR_GOOD = st.builds(
    lambda good, key, value: {**good, key: value},
    GOOD,
    st.sampled_from(["ts", "query", "duration_ms", "caller", "database", "user"]),
    VALUES | st.text(ANY_CHAR, min_size=1, max_size=40),
)
ANY_RECORD = VALUES | REPORTS | NEAR_GOOD

GOOD_SHAPE = {"ts": NOW.isoformat(), "query": "SELECT 1", "duration_ms": 200}
#: one thing wrong with an otherwise good record, or no record at all
BAD = st.one_of(
    st.sampled_from([
        ("ts", (NOW + timedelta(days=2)).isoformat()), ("ts", "9999-12-31T23:59:59Z"),
        ("ts", (NOW - timedelta(days=90)).isoformat()), ("ts", 10**30),
        ("ts", math.nan), ("ts", "yesterday"), ("ts", None), ("ts", True),
        ("duration_ms", math.inf), ("duration_ms", -math.inf), ("duration_ms", -1),
        ("duration_ms", math.nan), ("duration_ms", 1e308), ("duration_ms", "slow"),
        ("duration_ms", 10**400), ("duration_ms", 5), ("query", ""), ("query", "  "),
        ("query", "SELECT '\ud800'"), ("query", "SELECT '\x00'"), ("query", 42),
        ("caller", "\udfff"), ("caller", "a\x00b"), ("user", ["app"]),
    ]).map(lambda change: {**GOOD_SHAPE, change[0]: change[1]}),
    st.sampled_from([[], "text", None, 7, 1.5, True]),
    # lines the reader refused: not JSON, not UTF-8, nested too deeply
    st.sampled_from([b"{", b"\xff{}", b'{"x": ' + b"[" * 50 + b"]" * 50 + b"}"]).map(
        lambda line: read_lines(line)[0][1]),
)  # fmt: skip


def _clean(text: str | None) -> bool:
    if text is None:
        return True
    text.encode("utf-8")  # raises for a lone surrogate
    return "\x00" not in text


@FEW
@given(record=ANY_RECORD)
@example(record={**GOOD_SHAPE, "ts": "0001-01-01T00:00:00+23:59"})
@example(record={**GOOD_SHAPE, "ts": 1e308})
@example(record={**GOOD_SHAPE, "duration_ms": 10**5000})
def test_parse_report_raises_only_bad_record(record: Any) -> None:
    try:
        seen = parse_report(record)
    except BadRecord as exc:
        assert 0 < len(str(exc)) <= 200
        return
    assert 0 <= seen.duration_ms <= MAX_DURATION_MS and math.isfinite(seen.duration_ms)
    assert seen.ts.utcoffset() == timedelta(0)
    for text in (seen.query, seen.database, seen.username, seen.application_name,
                 seen.reported_caller):  # fmt: skip
        assert _clean(text)


@FEW
@given(records=st.lists(ANY_RECORD, max_size=6))
def test_screen_judges_every_record(records: list[Any]) -> None:
    accepted, rejected = screen(records, NOW, retention_days=RETENTION_DAYS)
    assert len(accepted) + len(rejected) == len(records)
    for query in accepted:
        check_time(query.ts, NOW, RETENTION_DAYS)  # never outside the window
        assert _clean(query.query) and _clean(query.caller)
    assert all(len(r.reason) <= 200 for r in rejected)


@FEW
@given(goods=st.lists(GOOD, min_size=1, max_size=5), bad=BAD, data=st.data())
def test_one_bad_record_never_costs_the_batch(
    goods: list[dict[str, Any]], bad: Any, data: st.DataObject
) -> None:
    position = data.draw(st.integers(0, len(goods)), label="position")
    batch = [*goods[:position], bad, *goods[position:]]
    accepted, rejected = screen(batch, NOW, retention_days=RETENTION_DAYS)
    alone, _ = screen(goods, NOW, retention_days=RETENTION_DAYS)
    assert [r.index for r in rejected] == [position]
    assert accepted == alone and len(alone) == len(goods)


@FEW
@given(body=st.binary(max_size=3000))
@example(body=b"[" * 100_000)
@example(body=b'{"ts": ' + b"1" * 5000 + b"}\n\xff\n\r\n{}")
def test_read_lines_takes_any_bytes(body: bytes) -> None:
    found = read_lines(body)
    lines = [n for n, line in enumerate(body.split(b"\n"), 1) if line.strip()]
    assert [number for number, _ in found] == lines
    accepted, rejected = screen([v for _, v in found], NOW)
    assert len(accepted) + len(rejected) == len(found)


@FEW
@given(goods=st.lists(GOOD, max_size=8))
def test_good_records_survive_the_wire(goods: list[dict[str, Any]]) -> None:
    body = "".join(json.dumps(g) + "\n\n" for g in goods).encode()
    found = read_lines(body)
    assert [value for _, value in found] == goods
    accepted, rejected = screen(goods, NOW, retention_days=RETENTION_DAYS)
    assert (len(accepted), rejected) == (len(goods), [])
