"""``slowlog.derive``: slow-query records from one interval's statement deltas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from pgwarden.skipped import Skipped
from pgwarden.slowlog.derived import Sighting, StatementDelta, derive
from pgwarden.sqltext import mark, normalise

END = datetime(2026, 1, 5, 12, 1, tzinfo=UTC)
INTERVAL = (END - timedelta(minutes=1), END)
TEXT = "SELECT * FROM orders WHERE id = $1"


def _delta(calls: int, total_ms: float, **changes: object) -> StatementDelta:
    values: dict[str, object] = {
        "queryid": 7, "calls": calls, "total_ms": total_ms, "query": TEXT,
        "database": "app", "username": "web",
    }  # fmt: skip
    values.update(changes)
    return StatementDelta(**values)  # type: ignore[arg-type]


def _seen(duration_ms: float, source: str = "server_log") -> Sighting:
    return Sighting(7, normalise(TEXT).fingerprint, "app", duration_ms, source)


def test_a_statement_run_once_gives_its_exact_duration() -> None:
    [found] = derive([_delta(1, 250.0)], [], INTERVAL)
    assert (found.exactness, found.executions, found.duration_ms) == ("exact", 1, 250)
    assert found.severity == "warning" and found.ts == END
    assert found.started_at == INTERVAL[0] and found.query == TEXT


def test_several_calls_give_the_mean_counted_as_every_call() -> None:
    [found] = derive([_delta(4, 2400.0)], [], INTERVAL)
    assert (found.exactness, found.executions, found.duration_ms) == ("mean", 4, 600)
    assert found.severity == "critical"


def test_fast_and_own_statements_are_never_derived() -> None:
    assert derive([_delta(1, 99.0), _delta(10, 500.0)], [], INTERVAL) == []
    assert derive([_delta(1, 900.0, query=mark("SELECT 1"))], [], INTERVAL) == []


def test_an_execution_another_source_saw_is_not_counted_twice() -> None:
    assert derive([_delta(1, 250.0)], [_seen(250.0)], INTERVAL) == []
    # three calls, one of 500 ms logged: the other two took 100 ms together
    assert derive([_delta(3, 600.0)], [_seen(500.0)], INTERVAL) == []
    [rest] = derive([_delta(3, 900.0)], [_seen(500.0)], INTERVAL)
    assert (rest.exactness, rest.executions, rest.duration_ms) == ("mean", 2, 200)
    [last] = derive([_delta(2, 900.0)], [_seen(500.0)], INTERVAL)
    assert (last.exactness, last.executions, last.duration_ms) == ("exact", 1, 400)
    [bound] = derive([_delta(2, 900.0)], [_seen(500.0, "activity")], INTERVAL)
    assert bound.exactness == "mean"  # a sampled duration is a lower bound


def test_the_interval_maximum_is_one_execution_and_the_rest_a_mean() -> None:
    found = derive([_delta(5, 304.0, max_ms=300.0)], [], INTERVAL)
    assert [(q.exactness, q.executions, q.duration_ms) for q in found] == [
        ("max", 1, 300.0)
    ]
    found = derive([_delta(3, 700.0, max_ms=300.0)], [], INTERVAL)
    assert [(q.exactness, q.executions) for q in found] == [("max", 1), ("mean", 2)]
    assert derive([_delta(5, 304.0, max_ms=300.0)], [_seen(300.0)], INTERVAL) == []


def test_a_missing_text_or_bad_counters_cost_only_that_statement() -> None:
    skipped = Skipped()
    bad = [_delta(1, 500.0, query=None), _delta(1, float("nan")), _delta(0, 500.0)]
    found = derive([*bad, _delta(1, 300.0, queryid=8)], [], INTERVAL, skipped=skipped)
    assert [q.queryid for q in found] == [8]
    assert skipped.count == 3


numbers = st.floats(allow_nan=True, allow_infinity=True)
deltas = st.builds(
    StatementDelta,
    queryid=st.integers(-(2**63), 2**63 - 1),
    calls=st.integers(-5, 10**9),
    total_ms=numbers,
    query=st.none() | st.text(max_size=200),
    database=st.none() | st.text(max_size=10),
    username=st.none() | st.text(max_size=10),
    max_ms=st.none() | numbers,
)
sightings = st.builds(
    Sighting,
    queryid=st.none() | st.integers(-(2**63), 2**63 - 1).filter(lambda q: q != 42),
    fingerprint=st.text(max_size=16),
    database=st.none() | st.text(max_size=10),
    duration_ms=st.floats(min_value=0, max_value=1e9),
    source=st.sampled_from(["server_log", "activity", "application"]),
)


@given(st.lists(deltas, max_size=8), st.lists(sightings, max_size=8))
def test_derive_is_total_and_one_bad_statement_costs_only_itself(
    found: list[StatementDelta], seen: list[Sighting]
) -> None:
    good = _delta(1, 300.0, queryid=42, query="SELECT pg_sleep($1) /* good */")
    records = derive([*found, good], seen, INTERVAL, skipped=Skipped())
    assert any(q.queryid == 42 and q.exactness == "exact" for q in records)
    most = max([1, *(item.calls for item in found)])
    for record in records:
        assert record.duration_ms >= 100 and 1 <= record.executions <= most
