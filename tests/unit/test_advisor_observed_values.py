"""Observed parameter values: what is kept, and how the advisor uses them (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pgwarden.advise.indexes import observed as ov
from pgwarden.advise.indexes.advisor import _partial_rec, items_for
from pgwarden.advise.indexes.candidates import generate, observed_partials
from pgwarden.advise.workload import Statement, parse, weighted
from pgwarden.slowlog.logparse import parse_json_line
from pgwarden.slowlog.param_values import (
    ColumnFacts,
    Observation,
    Relation,
    _aggregate,
    parameters,
    relations,
)
from tests.unit.test_advisor_select import CAT, table

LIST = 'SELECT id FROM "Assessment" WHERE "tenantId" = $1 AND status = $2'


def relation(rows: float = 100_000) -> Relation:
    return Relation(
        "public",
        "Assessment",
        rows,
        {
            "status": ColumnFacts(3, frozenset({"COMPLETED", "IN_PROGRESS", "DRAFT"})),
            "email": ColumnFacts(-1, frozenset()),
            "owner": ColumnFacts(-0.2, frozenset({"bob@example.com"})),
            "title": None,
        },
    )


def test_parameters_of_an_execute_detail() -> None:
    detail = "Parameters: $1 = 'it''s, a value', $2 = NULL, $3 = '42'"
    assert parameters(detail) == {1: "it's, a value", 3: "42"}
    assert parameters("Query Parameters: $1 = 'DRAFT'") == {1: "DRAFT"}
    assert parameters("no parameters here") == {}


def test_the_log_detail_reaches_the_entry() -> None:
    line = (
        '{"timestamp":"2026-01-01 10:00:00.000 UTC","message":"duration: 1.0 ms  '
        'execute <unnamed>: SELECT 1 WHERE $1 = $1","detail":"Parameters: $1 = \'x\'"}'
    )
    entry = parse_json_line(line)
    assert entry is not None and entry.detail == "Parameters: $1 = 'x'"


def test_only_most_common_values_of_categorical_columns_are_kept() -> None:
    rel = relation()
    assert rel.keeps("status", "DRAFT")
    assert not rel.keeps("status", "ARCHIVED")  # not a most common value
    assert not rel.keeps("email", "alice@example.com")  # unique column
    assert not rel.keeps("owner", "bob@example.com")  # many distinct values
    assert not rel.keeps("title", "x")  # no statistics
    assert not rel.keeps("nope", "x")
    assert not relation(rows=20).keeps("status", "DRAFT")  # too few rows per value


def test_relations_of_a_statement() -> None:
    text = "SELECT 1 FROM a JOIN s.b ON true WHERE x IN (SELECT y FROM c)"
    assert relations(text) == [(None, "a"), ("s", "b"), (None, "c")]
    assert relations("SELECT FROM WHERE") == []


def test_observations_are_counted_per_day_and_value() -> None:
    now = datetime(2026, 1, 2, 12, tzinfo=UTC)
    seen = [
        Observation(now, "f", None, "public", "t", "status", "DRAFT"),
        Observation(
            now + timedelta(minutes=1), "f", 9, "public", "t", "status", "DRAFT"
        ),
        Observation(
            now - timedelta(days=1), "f", None, "public", "t", "status", "DRAFT"
        ),
    ]
    rows = sorted(_aggregate(1, seen), key=lambda r: r["day"])
    assert [(str(r["day"]), r["calls"], r["queryid"]) for r in rows] == [
        ("2026-01-01", 1, None),
        ("2026-01-02", 2, 9),
    ]


def _observed(counts: dict[str, int]) -> ov.Observed:
    fp = ov.fingerprint(LIST)
    rows = [
        {"fingerprint": fp, "queryid": 5, "relname": "Assessment",
         "attname": "status", "value": v, "calls": n}
        for v, n in counts.items()
    ]  # fmt: skip
    return ov.from_rows(rows)


def test_partials_follow_the_observed_value_not_every_rare_one() -> None:
    tables = {"Assessment": table()}
    parsed = [parse(LIST, CAT)]
    assumed = {c.where_value for c in generate(parsed, tables, []) if c.where_column}
    assert assumed == {"IN_PROGRESS", "DRAFT"}
    statement = Statement(5, LIST, calls=100, total_ms=100)
    shares = [_observed({"DRAFT": 95, "IN_PROGRESS": 3}).shares(statement)]

    found = observed_partials(parsed, tables, shares)

    assert {c.where_value for c in found} == {"DRAFT"}  # 3 % is not worth it


def test_a_statement_is_split_over_its_observed_values() -> None:
    tables = {"Assessment": table()}
    work = weighted([Statement(5, LIST, calls=100, total_ms=100)])
    observed = _observed({"DRAFT": 75, "COMPLETED": 25})

    items, _ = items_for(work, tables, (), observed=observed)

    got = sorted((i.text, i.statement.calls) for i in items)
    assert got == [
        ("SELECT id FROM \"Assessment\" WHERE \"tenantId\" = $1 AND status = "
         "'COMPLETED'", 25),
        ("SELECT id FROM \"Assessment\" WHERE \"tenantId\" = $1 AND status = 'DRAFT'",
         75),
    ]  # fmt: skip
    # without observations: the generic plan only (no partial candidates given)
    plain, _ = items_for(work, tables, ())
    assert [(i.text, i.statement.calls) for i in plain] == [(LIST, 100)]


def test_the_reasoning_says_where_the_value_comes_from() -> None:
    tables = {"Assessment": table()}
    statement = Statement(5, LIST, calls=100, total_ms=100)
    observed = _observed({"DRAFT": 95, "IN_PROGRESS": 5})
    [c] = [
        c
        for c in observed_partials([parse(LIST, CAT)], tables, [{}])
        if c.where_value == "DRAFT"
    ]
    evidence = ov.per_column(observed, [statement])

    seen = _partial_rec(c, tables["Assessment"], (), "high", evidence).reasoning
    assumed = _partial_rec(c, tables["Assessment"], (), "high").reasoning

    assert "value observed 95 times (95 % of 100 observed calls" in seen
    assert "'DRAFT' 95 %, 'IN_PROGRESS' 5 %" in seen
    assert "value assumed from pg_stats" in assumed
