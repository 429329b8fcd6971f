"""Statement shapes on a real server: views, WITH queries, ORDER BY by position and
alias with mixed directions, IS NULL, LIKE and writes, read from pg_stat_statements,
advised, and the advised index created for real and used by the statement's plan."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from pgwarden import pg
from pgwarden.advise.gather import gather_catalog
from pgwarden.advise.indexes import hypo
from pgwarden.advise.indexes.candidates import Candidate, generate
from pgwarden.advise.indexes.run import run
from pgwarden.advise.indexes.select import Budget, Item, greedy, write_load
from pgwarden.advise.workload import (
    Parsed,
    Shapes,
    Statement,
    gather,
    parse,
    weighted,
)
from pgwarden.config import Settings

ROWS = 40_000
SCHEMA = [
    "CREATE TABLE people (id int PRIMARY KEY, email text NOT NULL, team int)",
    f"INSERT INTO people SELECT g, 'p' || g || '@x.org', g % 50 "
    f"FROM generate_series(1, {ROWS}) g",
    # a view of a view, the columns renamed on the way
    "CREATE VIEW people_v AS SELECT id AS pid, email AS mail, team FROM people",
    "CREATE VIEW people_vv (who, address) AS SELECT pid, mail FROM people_v",
    "CREATE TABLE events (id int PRIMARY KEY, kind int, payload text)",
    f"INSERT INTO events SELECT g, g % 2000, repeat('x', 20) "
    f"FROM generate_series(1, {ROWS}) g",
    "CREATE TABLE tickets (id int PRIMARY KEY, queue int, created timestamptz, "
    "priority int, title text)",
    f"INSERT INTO tickets SELECT g, g % 4, now() - g * interval '1 minute', "
    f"g % 7, 'ticket ' || g FROM generate_series(1, {ROWS}) g",
    "CREATE TABLE accounts (id int PRIMARY KEY, tenant int, deleted_at timestamptz)",
    f"INSERT INTO accounts SELECT g, g % 100, CASE WHEN g % 20 = 0 THEN NULL "
    f"ELSE now() END FROM generate_series(1, {ROWS}) g",
    "CREATE TABLE words (id int PRIMARY KEY, word text COLLATE {collation})",
    f"INSERT INTO words SELECT g, md5(g::text) FROM generate_series(1, {ROWS}) g",
    "CREATE TABLE jobs (id int PRIMARY KEY, worker int, note text, "
    "finished_at timestamptz) WITH (fillfactor = 50)",
    f"INSERT INTO jobs SELECT g, g % 500, '', now() - g * interval '1 second' "
    f"FROM generate_series(1, {ROWS}) g",
]
#: (shape, statement as the application sends it, parameters of its calls, table)
WORKLOAD: list[tuple[str, str, list[list[Any]], str]] = [
    ("view", "SELECT who FROM people_vv WHERE address = %s",
     [[f"p{n}@x.org"] for n in range(1, 30)], "people"),
    ("cte", "WITH e AS (SELECT * FROM events) SELECT id FROM e WHERE kind = %s",
     [[n] for n in range(1, 30)], "events"),
    ("order", "SELECT id, created AS c, priority FROM tickets WHERE queue = %s "
     "ORDER BY c DESC, 3 LIMIT 20", [[n % 4] for n in range(1, 30)], "tickets"),
    ("null", "SELECT id FROM accounts WHERE tenant = %s AND deleted_at IS NULL",
     [[n] for n in range(1, 30)], "accounts"),
    ("like", "SELECT id FROM words WHERE word LIKE %s", [["abc%"]] * 29, "words"),
    ("update", "UPDATE jobs SET note = %s WHERE worker = %s",
     [["done", n] for n in range(1, 30)], "jobs"),
]  # fmt: skip


def _setup(dsn: str) -> None:
    with pg.connect(dsn, statement_timeout_ms=None) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
        row = conn.execute(  # a collation that is not C: ICU's root locale
            "SELECT coalesce((SELECT quote_ident(collname) FROM pg_collation "
            "WHERE collname = 'und-x-icu'), '\"default\"')"
        ).fetchone()
        assert row is not None
        for text in SCHEMA:
            conn.execute(text.replace("{collation}", row[0]))
        conn.execute("ANALYZE")
        conn.execute("SELECT pg_stat_statements_reset()")
    with pg.connect(dsn, workload=True) as conn:
        for _shape, text, params, _table in WORKLOAD:
            for p in params:
                cur = conn.execute(text, p)
                if cur.description is not None:
                    cur.fetchall()


#: pg_stat_statements keeps no constant: a literal pattern comes from elsewhere
LITERAL = Statement(1, "SELECT id FROM words WHERE word LIKE 'abc%'", 29, 900.0)


def _advise(dsn: str) -> list[Candidate]:
    """The chosen indexes, as the advisor makes them with the target's shapes."""
    with pg.connect(dsn, statement_timeout_ms=None) as conn:
        shapes = gather.shapes(conn)
        live = gather.live_workload(conn).statements
        work = weighted([*live, LITERAL])
        tables = gather.tables(conn)
        existing = gather_catalog(conn).indexes
        catalog = {name: t.columns for name, t in tables.items()}
        parsed = [parse(s.text, catalog, shapes.views) for s in work.statements]
        found = generate(parsed, tables, existing, collate_c=shapes.collate_c)
        items = [
            Item(s, p, s.text)
            for s, p in zip(work.statements, parsed, strict=True)
            if _costed(p)
        ]
        load = write_load(work.statements, parsed, shapes.hot)
        with hypo.session(conn) as costing:
            chosen = greedy(items, found, tables, existing, costing.cost,
                            Budget(write_cost=20.0), writes=load)  # fmt: skip
    return [c.candidate for c in chosen.chosen]


def _shapes(dsn: str) -> Shapes:
    with pg.connect(dsn) as conn:
        return gather.shapes(conn)


def _costed(p: Parsed) -> bool:
    return p.parsed and bool(p.tables) and p.command != "insert"


def _plan(dsn: str, text: str, params: Sequence[Any]) -> dict[str, Any]:
    with pg.connect(dsn, statement_timeout_ms=None) as conn:
        row = conn.execute("EXPLAIN (FORMAT JSON) " + text, params).fetchone()
        assert row is not None
    plan: dict[str, Any] = row[0][0]["Plan"]
    return plan


def _create(dsn: str, ddl: str) -> None:
    with pg.connect(dsn, statement_timeout_ms=None) as conn:
        conn.execute(ddl)  # CONCURRENTLY: autocommit, one statement
        conn.execute("ANALYZE")


@pytest.mark.hypopg
def test_each_shape_gets_an_index_its_statement_uses(empty_dsn: str) -> None:
    _setup(empty_dsn)
    # the advisor (pgwarden indexes advise) on the workload of pg_stat_statements
    data = run(Settings(), empty_dsn, None).as_dict()
    by_table = {r["table"]: r for r in data["recommendations"]}
    assert by_table["people"]["columns"] == ["email"], data  # through two views
    assert by_table["events"]["columns"] == ["kind"]  # inlined WITH query
    assert by_table["tickets"]["columns"] == ["queue", "created", "priority"]
    assert '"priority" DESC' in by_table["tickets"]["ddl"]  # the mirror direction
    assert by_table["accounts"]["where"] == '"deleted_at" IS NULL'
    assert by_table["jobs"]["columns"] == ["worker"]  # the UPDATE's scan
    assert "words" not in by_table  # LIKE $1: no B-tree; pg_trgm is not installed
    assert any("pg_trgm is needed" in n and "words" in n for n in data["notes"])
    # a literal LIKE prefix (pg_stat_statements keeps none) and a costly write
    chosen = {c.table: c for c in _advise(empty_dsn)}
    assert chosen["people"].columns == ("email",)  # through two views
    shapes = _shapes(empty_dsn)
    assert shapes.collate_c is not None
    c_collated = shapes.collate_c[("words", "word")]
    wanted = None if c_collated else "text_pattern_ops"  # a LIKE prefix needs it
    assert chosen["words"].opclass == wanted
    assert chosen["tickets"].directions == ("", "", "DESC")
    assert chosen["jobs"].columns == ("worker",)  # HOT updates: no write overhead
    for shape, text, params, table in WORKLOAD:
        c = chosen[table]
        _create(empty_dsn, c.ddl())
        if shape == "like":
            text, params = LITERAL.text.replace("%", "%%"), [[]]
        plan = json.dumps(_plan(empty_dsn, text, params[0]))
        assert c.name in plan, (shape, plan)
        if shape == "order":
            assert '"Sort"' not in plan  # the index gives the order asked
        if shape == "update":
            assert plan.count(c.name) == 1
    # a candidate hypopg refuses is costed as absent, never the end of the advice
    odd = Candidate("public", "jobs", ("worker",), opclass="text_pattern_ops")
    text = "SELECT id FROM jobs WHERE worker = 7"
    with pg.connect(empty_dsn) as conn, hypo.session(conn) as costing:
        assert costing.cost(0, text, frozenset({odd})) == costing.cost(
            1, text, frozenset()
        )
        assert "text_pattern_ops" in costing.refused[odd]


def test_views_are_read_from_the_catalog_and_advised_on_base_tables(
    empty_dsn: str,
) -> None:
    with pg.connect(empty_dsn, statement_timeout_ms=None) as conn:
        for text in SCHEMA[:4]:
            conn.execute(text)
        conn.execute(
            "CREATE MATERIALIZED VIEW teams AS SELECT DISTINCT team FROM people"
        )
        conn.execute("ANALYZE")
        shapes = gather.shapes(conn)
        tables = gather.tables(conn)
    assert set(shapes.views) == {"people_v", "people_vv"}
    assert shapes.views["people_vv"].columns == ("who", "address")
    assert shapes.collate_c is not None and ("people", "email") in shapes.collate_c
    catalog = {name: t.columns for name, t in tables.items()}
    assert "teams" in catalog  # a materialized view is a table, not expanded
    text = "SELECT who FROM people_vv WHERE address = $1"
    p = parse(text, catalog, shapes.views)
    assert [(x.column, x.op) for x in p.tables["people"].predicates] == [
        ("email", "eq")
    ]
    found = generate([p], tables, [])
    assert found[0].columns == ("email",)
    _create(empty_dsn, found[0].ddl())
    plan = json.dumps(_plan(empty_dsn, text.replace("$1", "%s"), ["p7@x.org"]))
    assert found[0].name in plan
