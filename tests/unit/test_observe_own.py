"""pgwarden's own statements are marked, and told apart from the application's."""

from __future__ import annotations

import re
from importlib import resources

import pytest
from pglast import parser
from psycopg import sql

from pgwarden import pg
from pgwarden.observe import analysis
from pgwarden.sqltext import MARKER, is_marked, mark, own

APPLICATION = [
    'SELECT /* observe-marker */ count(*) FROM "Assessment" WHERE id = $1',
    'SELECT count(*) FROM "Answer"',
    "SELECT pg_sleep($1)",
    'UPDATE "User" SET "lastLogin" = now() WHERE id = $1',
    "SELECT * FROM pgwardens.x",
    'SELECT u.id FROM "User" u JOIN pg_class c ON c.relname = $1',
    "SELECT * FROM audit WHERE note = $1",
    "SELECT my_procrastinate_job($1)",
    'SELECT id FROM "Answer" WHERE status IN ($1 /*, ... */)',
    "/* pgwarden-like */ SELECT 1 FROM t",
]
#: unmarked texts pgwarden sent before it marked its statements
RECORDED_BEFORE = [
    "SELECT id FROM pgwarden.target WHERE name = $1",
    'INSERT INTO "pgwarden"."statement_current" ("target_id") VALUES ($1)',
    'SELECT min(ts) AS ts FROM "pgwarden"."database_current" WHERE target_id = $1',
    "SELECT pg_try_advisory_xact_lock($1, $2) AS locked",
    "SELECT p.relname AS parent, c.relname AS child FROM pg_inherits i "
    "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
    "WHERE p.relname = ANY($1)",
]
QUEUE = [
    "SELECT * FROM procrastinate_fetch_job_v2($1, $2)",
    "SELECT procrastinate_register_worker_v1() AS worker_id",
    'UPDATE "procrastinate_jobs" SET status = $1 WHERE id = $2',
]


@pytest.mark.parametrize("text", APPLICATION)
def test_application_statements_are_workload(text: str) -> None:
    assert not own.is_own(text)


@pytest.mark.parametrize("text", APPLICATION)
def test_a_marked_statement_is_own_whatever_it_reads(text: str) -> None:
    assert own.is_own(mark(text)) and is_marked(mark(text))


@pytest.mark.parametrize("text", RECORDED_BEFORE + QUEUE)
def test_unmarked_statements_of_pgwarden_and_its_queue_are_its_own(text: str) -> None:
    assert not is_marked(text) and own.is_own(text)


def test_the_marker_follows_the_first_token_of_each_statement() -> None:
    assert mark("SELECT 1") == f"SELECT {MARKER} 1"
    assert mark("  -- why\nWITH q AS (SELECT 1) SELECT * FROM q") == (
        f"  -- why\nWITH {MARKER} q AS (SELECT 1) SELECT * FROM q"
    )
    assert mark("CREATE TABLE t (a text DEFAULT 'x;y');\nSELECT 2;\n-- end") == (
        f"CREATE {MARKER} TABLE t (a text DEFAULT 'x;y');\nSELECT {MARKER} 2;\n-- end"
    )
    assert mark("BEGIN") == f"BEGIN {MARKER}"
    assert mark("SELECT %(a)s, %s") == f"SELECT {MARKER} %(a)s, %s"


def test_marking_twice_or_nothing_changes_nothing() -> None:
    once = mark("SELECT 1; SELECT 2")
    assert mark(once) == once and once.count(MARKER) == 2
    assert mark("") == "" and mark("  -- only a comment\n") == "  -- only a comment\n"


def test_a_text_the_scanner_refuses_is_marked_first() -> None:
    assert mark("SELECT 'unterminated") == f"{MARKER} SELECT 'unterminated"


def test_statements_inside_a_plpgsql_do_block_are_marked() -> None:
    block = mark("DO $f$ BEGIN PERFORM 1; CREATE TABLE t (a int); END $f$")
    assert block == (
        f"DO {MARKER} $f$ BEGIN PERFORM {MARKER} 1; CREATE {MARKER} TABLE t (a int);"
        f" END {MARKER} $f$"
    )
    python = "DO LANGUAGE plpython3u $$ print(1) $$"
    assert mark(python) == f"DO {MARKER} LANGUAGE plpython3u $$ print(1) $$"


def _as_pg_stat_statements(text: str, major: int) -> str:
    """Roughly what pg_stat_statements keeps of ``text`` as pgwarden sent it:
    constants and parameters as ``$n``; from 18 on, lists of them shortened and
    nothing before the first token."""
    text = re.sub(r"\{\w+\}", '"public"', text)
    text = re.sub(r"%\(\w+\)s|%s", "$0", text).replace("%%", "%")
    constants = ("SCONST", "ICONST", "FCONST")
    for token in reversed([t for t in parser.scan(text) if t.name in constants]):
        text = f"{text[: token.start]}$0{text[token.end + 1 :]}"
    numbered = iter(range(1, 1 << 20))
    text = re.sub(r"\$0", lambda _: f"${next(numbered)}", text)
    if major >= 18:
        text = re.sub(r"\((\$\d+)(?:\s*,\s*\$\d+)+\)", r"(\1 /*, ... */)", text)
        comments = ("C_COMMENT", "SQL_COMMENT")
        first = next(t for t in parser.scan(text) if t.name not in comments)
        text = text[first.start :]
    return text


def test_pg_stat_statements_keeps_the_marker_on_every_version() -> None:
    sent = mark("-- why\nSELECT a FROM t WHERE b IN ('x', 'y') AND c = %s")
    for major in (14, 18):
        assert is_marked(_as_pg_stat_statements(sent, major))


GROUPS = sorted(
    entry.name.removesuffix(".sql")
    for entry in resources.files("pgwarden.sql").iterdir()
    if entry.name.endswith(".sql")
)


@pytest.mark.parametrize("group", GROUPS)
def test_named_queries_are_marked_and_known_unmarked_on_every_version(
    group: str,
) -> None:
    for name, text in pg.queries(group).items():
        assert is_marked(text), (group, name)
        unmarked = text.replace(f" {MARKER}", "")
        for major in (14, 18):
            recorded = _as_pg_stat_statements(unmarked, major)
            assert own.recorded_before_the_marker(recorded), (group, name, major)


def test_normalise_ignores_comments_case_spacing_and_constants() -> None:
    a = "SELECT a, b -- why\nFROM t WHERE x = 'k' AND y = 3 AND z = %(z)s;"
    b = "select a,b  from t /* c */ where x = $1 and y = $2 and z = $3"
    assert own.normalise(a) == own.normalise(b)


def test_normalise_opens_no_string_at_an_apostrophe_in_a_comment() -> None:
    a = "-- the collector's read\nSELECT a FROM t WHERE x = 'k' -- it's\n AND y = 1"
    assert own.normalise(a) == "select a from t where x=? and y=?"
    assert own.normalise("SELECT '--not a comment', 2") == "select ?,?"


def test_normalise_takes_a_shortened_list_for_the_whole_list() -> None:
    pg17 = "SELECT a FROM t WHERE s IN ($1, $2, $3) AND v = ANY(ARRAY[$4, $5])"
    pg18 = (
        "SELECT a FROM t WHERE s IN ($1 /*, ... */) AND v = ANY(ARRAY[$2 /*, ... */])"
    )
    assert own.normalise(pg17) == own.normalise(pg18)


def test_marked_queries_of_every_kind() -> None:
    assert pg.marked("SELECT 1") == f"SELECT {MARKER} 1"
    assert pg.marked("SELECT 'é'".encode()) == f"SELECT {MARKER} 'é'".encode()
    query = sql.SQL("SELECT {} FROM {}").format(sql.Literal(1), sql.Identifier("t"))
    assert pg.marked(query) == f'SELECT {MARKER} 1 FROM "t"'.encode()


def test_own_rows_are_split_off_and_counted() -> None:
    texts = {1: APPLICATION[0], 2: RECORDED_BEFORE[0], 3: APPLICATION[1]}
    skip = own.own_queryids(texts)
    rows = [{"queryid": q, "calls": 10 * q, "total_ms": float(q)} for q in (1, 2, 3)]
    kept, left_out = analysis.split_own(rows, skip)
    assert skip == {2} and [r["queryid"] for r in left_out] == [2]
    assert analysis.calls_and_time(kept) == (40, 4.0)
    assert analysis.calls_and_time([]) == (0, None)
    top = analysis.top_queries(kept, texts, {}, "total", 10)
    assert [q.queryid for q in top] == [3, 1]
    assert sum(q.share_of_total_time for q in top) == pytest.approx(1.0)


def test_an_explained_application_statement_keeps_its_id() -> None:
    explained = mark("EXPLAIN (GENERIC_PLAN) " + APPLICATION[1])
    pairs = [(7, APPLICATION[1]), (7, explained), (8, explained)]
    assert own.own_queryids(pairs) == {8}
