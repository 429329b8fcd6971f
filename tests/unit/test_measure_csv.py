"""The business measures' parsers are total: a CSV file or API records of any
content give readings and rejected rows, or the one documented error for the whole
file; one bad row costs only that row. The review's section escapes what people
wrote and never shows a missing figure as 0."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgwarden.config import load_settings
from pgwarden.ops.review import business, measures
from pgwarden.ops.review import report as review_report
from pgwarden.ops.review import schedule as review_schedule
from pgwarden.ops.review.gather import Facts
from pgwarden.ops.review.measures import VOCABULARY, MeasureError

NOW = datetime(2026, 6, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
GOOD = "name,value,at,responses\ntickets_open,12,2026-05-01T10:00:00+02:00,\n"

cells = st.one_of(
    st.text(max_size=30),
    st.sampled_from([*VOCABULARY, "1e999", "nan", "-0", "2026-05-01", "1_000"]),
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([["name", "value", "at", "responses"], *rows])
    return out.getvalue().encode()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_give_readings_or_the_documented_error(data: bytes) -> None:
    try:
        parsed = measures.parse_csv(data, now=NOW)
    except MeasureError:
        return
    for _, reading in parsed.readings:
        assert reading.name in VOCABULARY


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(cells, min_size=0, max_size=6), max_size=8))
def test_one_bad_row_costs_only_that_row(rows: list[list[str]]) -> None:
    good = ["tickets_open", "12", "2026-05-01T10:00:00Z", ""]
    data = _csv([good, *rows, good])
    parsed = measures.parse_csv(data, now=NOW)
    first, last = parsed.readings[0], parsed.readings[-1]
    assert first[0] == 2 and first[1] == last[1]  # the good rows around the others
    assert last[0] > max([r.line for r in parsed.rejected], default=0)
    assert len(parsed.readings) + len(parsed.rejected) <= len(rows) + 2
    for reading in (r for _, r in parsed.readings):
        m = VOCABULARY[reading.name]
        assert m.low <= reading.value <= m.high
        assert reading.responses is None or m.scored


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.dictionaries(
                st.sampled_from(["name", "value", "at", "responses", "x"]),
                st.one_of(cells, st.integers(), st.floats(), st.none(), st.booleans()),
            ),
            st.integers(),
            st.text(max_size=5),
        ),
        max_size=10,
    )
)
def test_api_records_are_judged_alone(records: list[Any]) -> None:
    parsed = measures.parse_records(records, now=NOW)
    assert len(parsed.readings) + len(parsed.rejected) == len(records)


def test_rows_are_read_with_their_line_and_reason() -> None:
    data = (GOOD + "csat,4.5,2026-05-01,30\n" + "nps,-101,2026-05-01,\n"
            + '"tickets_open","3\n4",2026-05-01,\n').encode()  # fmt: skip
    parsed = measures.parse_csv(data, now=NOW)
    first = parsed.readings[0][1]
    assert (first.name, first.value, first.at.hour) == ("tickets_open", 12, 8)
    assert parsed.readings[1][1].responses == 30
    assert [(r.line, r.reason[:28]) for r in parsed.rejected] == [
        (4, "nps must be between -100 and"),
        (6, "value '3\\n4' is not a number"),
    ]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"value,at\n1,2026-01-01\n", "lacks name"),
        (b"name,value,at,when\n", "header must be"),
        (b'name,value,at\n"open,1', "not CSV"),
        (b"name,value,at\n" + b"x,1,2026-01-01\n" * 10_001, "over 10000 rows"),
        (b"n" * 1_000_001, "over 1000000 bytes"),
    ],
    ids=["binary", "no-name", "unknown-column", "open-quote", "rows", "bytes"],
)
def test_a_file_refused_whole_says_why(data: bytes, reason: str) -> None:
    with pytest.raises(MeasureError, match=reason):
        measures.parse_csv(data, now=NOW)


def test_timestamps_are_bounded() -> None:
    with pytest.raises(MeasureError, match="more than a day ahead"):
        measures.timestamp("2026-06-03T00:00:00Z", now=NOW)
    with pytest.raises(MeasureError, match="before 2000"):
        measures.timestamp("1999-12-31T23:00:00Z", now=NOW)
    assert measures.timestamp("2026-05-01", now=NOW) == datetime(2026, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("SELECT 1; SELECT 2", "exactly one SELECT"),
        ('DELETE FROM "AuditLog"', "exactly one SELECT"),
        ("SELECT count(*) FROM t WHERE a > %(since)s", "may be used, not"),
        ("SELEC 1", "syntax error"),
    ],
)
def test_an_adoption_query_is_one_select(text: str, reason: str) -> None:
    with pytest.raises(MeasureError, match=reason):
        business.check_query("reviews.active_users_query", text)


def test_trend_says_whether_up_is_good() -> None:
    assert business.trend(10, 8, False)["verdict"] == "worse"
    assert business.trend(100, 100.5, True)["trend"] == "flat"
    assert business.trend(None, 8, True)["trend"] is None
    assert business.trend(0, 0, True)["trend"] == "flat"


def test_the_review_section_escapes_and_never_shows_zero_for_missing() -> None:
    start = datetime(2026, 3, 4, tzinfo=UTC)
    period = review_schedule.schedule(
        date(2026, 3, 2), ZoneInfo("UTC"), timedelta(hours=24), start + MINUTE
    )[2]
    reading = {"name": "tickets_open", "value": 7.0, "responses": None,
               "source": "api", "recorded_at": start}  # fmt: skip
    facts = Facts(
        actions=[{"id": 4, "title": "<script>x</script>", "owner": "ana",
                  "due": date(2026, 3, 9), "measure": "tickets_open"}],
        measures=[reading],
    )  # fmt: skip
    report = review_report.build(
        "db", None, period, facts, load_settings(), start, None
    )
    html = review_report.render(report, "html")
    assert "<script>x" not in html and "&lt;script&gt;x" in html
    assert "<td>open tickets</td><td>7 tickets</td><td>not recorded</td>" in html
    md = review_report.render(report, "md")
    assert "| CSAT | not recorded | not recorded | n/a |" in md
    assert "| errors per minute | not recorded |" in md
    assert " 0 " not in md.split("## Error rates, adoption")[1].split("How it")[0]
