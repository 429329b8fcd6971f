"""pgwarden's own statements are told apart from the application's workload."""

from __future__ import annotations

import pytest

from pgwarden import pg
from pgwarden.observe import analysis
from pgwarden.sqltext import own

APPLICATION = [
    'SELECT /* observe-marker */ count(*) FROM "Assessment" WHERE id = $1',
    'SELECT count(*) FROM "Answer"',
    "SELECT pg_sleep($1)",
    'UPDATE "User" SET "lastLogin" = now() WHERE id = $1',
    "SELECT * FROM pgwardens.x",
    'SELECT u.id FROM "User" u JOIN pg_class c ON c.relname = $1',
    "SELECT * FROM audit WHERE note = $1",
    "SELECT my_procrastinate_job($1)",
]
PGWARDEN = [
    "SELECT id FROM pgwarden.target WHERE name = $1",
    'INSERT INTO "pgwarden"."statement_current" ("target_id") VALUES ($1)',
    'SELECT min(ts) AS ts FROM "pgwarden"."database_current" WHERE target_id = $1',
    "SELECT pg_try_advisory_xact_lock($1, $2) AS locked",
    "SELECT p.relname AS parent, c.relname AS child FROM pg_inherits i "
    "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
    "WHERE p.relname = ANY($1)",
    "SELECT * FROM procrastinate_fetch_job_v2($1, $2)",
    "SELECT procrastinate_register_worker_v1() AS worker_id",
    'UPDATE "procrastinate_jobs" SET status = $1 WHERE id = $2',
]


@pytest.mark.parametrize("text", APPLICATION)
def test_application_statements_are_workload(text: str) -> None:
    assert not own.is_own(text)


@pytest.mark.parametrize("text", PGWARDEN)
def test_pgwarden_statements_are_its_own(text: str) -> None:
    assert own.is_own(text)


def _as_pg_stat_statements(text: str) -> str:
    """Roughly what pg_stat_statements keeps: parameters and constants as $n."""
    numbered = iter(range(1, 1000))
    return own._PARAM_RE.sub(lambda _: f"${next(numbered)}", text.replace("%%", "%"))


@pytest.mark.parametrize(
    "name",
    ["database", "activity", "tables", "indexes", "statements_pg17", "server",
     "live_activity"],
)  # fmt: skip
def test_the_collectors_catalog_reads_are_its_own(name: str) -> None:
    group = "observe" if name.startswith("live") else "collect"
    text = pg.queries(group)[name].replace("{pgss}", '"public"')
    assert own.is_own(_as_pg_stat_statements(text))


def test_normalise_ignores_comments_case_spacing_and_constants() -> None:
    a = "SELECT a, b -- why\nFROM t WHERE x = 'k' AND y = 3 AND z = %(z)s;"
    b = "select a,b  from t /* c */ where x = $1 and y = $2 and z = $3"
    assert own.normalise(a) == own.normalise(b)


def test_own_rows_are_split_off_and_counted() -> None:
    texts = {1: APPLICATION[0], 2: PGWARDEN[0], 3: APPLICATION[1]}
    skip = own.own_queryids(texts)
    rows = [{"queryid": q, "calls": 10 * q, "total_ms": float(q)} for q in (1, 2, 3)]
    kept, left_out = analysis.split_own(rows, skip)
    assert skip == {2} and [r["queryid"] for r in left_out] == [2]
    assert analysis.calls_and_time(kept) == (40, 4.0)
    assert analysis.calls_and_time([]) == (0, None)
    top = analysis.top_queries(kept, texts, {}, "total", 10)
    assert [q.queryid for q in top] == [3, 1]
    assert sum(q.share_of_total_time for q in top) == pytest.approx(1.0)
