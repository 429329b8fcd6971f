"""The reference application's actions on the tiny data set."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from pgwarden.demo.app import ReferenceApp
from pgwarden.demo.cache import LRUCache
from pgwarden.demo.rows import Cursor
from pgwarden.demo.sqlcommenter import APPLICATION

T = TypeVar("T")


def run_app(
    dsn: str,
    action: Callable[[ReferenceApp], Awaitable[T]],
    cache: LRUCache[Any] | None = None,
) -> T:
    """Run ``action`` against a fresh pool on ``dsn``."""

    async def main() -> T:
        pool = AsyncConnectionPool(
            dsn, min_size=1, max_size=2, open=False,
            kwargs={"application_name": APPLICATION},
        )  # fmt: skip
        async with pool:
            return await action(ReferenceApp(pool, cache))

    return asyncio.run(main())


def fetch(dsn: str, query: str, *params: Any) -> list[Any]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def top_tenant(dsn: str) -> int:
    rows = fetch(
        dsn,
        'SELECT "tenantId" FROM "Assessment" GROUP BY 1 ORDER BY count(*) DESC LIMIT 1',
    )
    return int(rows[0][0])


def assessment(dsn: str, status: str = "COMPLETED") -> tuple[int, int]:
    """(tenant id, id) of the first assessment with ``status``."""
    rows = fetch(
        dsn,
        'SELECT "tenantId", id FROM "Assessment" WHERE status = %s ORDER BY id LIMIT 1',
        status,
    )
    return int(rows[0][0]), int(rows[0][1])


def test_sign_in(demo_dsn: str) -> None:
    (email, user_id) = fetch(demo_dsn, 'SELECT email, id FROM "User" WHERE id = 2')[0]
    signed = run_app(demo_dsn, lambda app: app.sign_in(email))
    assert signed is not None and signed.user_id == user_id
    sessions = fetch(
        demo_dsn, 'SELECT "userId" FROM "Session" WHERE token = %s', signed.token
    )
    assert sessions == [(user_id,)]
    (recent,) = fetch(
        demo_dsn,
        """SELECT "lastLoginAt" > now() - interval '1 minute' FROM "User"
        WHERE id = %s""",
        user_id,
    )[0]
    assert recent
    assert run_app(demo_dsn, lambda app: app.sign_in("nobody@example.com")) is None


@pytest.mark.parametrize("status", [None, "COMPLETED", "IN_PROGRESS"])
def test_list_assessments_pages_without_duplicates(
    demo_dsn: str, status: str | None
) -> None:
    tenant = top_tenant(demo_dsn)

    async def all_pages(app: ReferenceApp) -> list[Any]:
        rows: list[Any] = []
        cursor: Cursor | None = None
        while True:
            page = await app.list_assessments(
                tenant, status=status, cursor=cursor, limit=7
            )
            rows.extend(page.rows)
            if page.next_cursor is None:
                return rows
            cursor = page.next_cursor

    rows = run_app(demo_dsn, all_pages)
    expected = fetch(
        demo_dsn,
        'SELECT id FROM "Assessment" WHERE "tenantId" = %s'
        ' AND (%s::text IS NULL OR status = %s) ORDER BY "createdAt" DESC, id DESC',
        tenant,
        status,
        status,
    )
    assert [r.id for r in rows] == [i for (i,) in expected]
    assert len(rows) > 0
    assert all(r.tenant_id == tenant for r in rows)
    if status:
        assert {r.status for r in rows} == {status}


def test_open_assessment_and_its_n_plus_one_twin_agree(demo_dsn: str) -> None:
    tenant, assessment_id = assessment(demo_dsn)

    async def both(app: ReferenceApp) -> tuple[Any, Any, Any]:
        return (
            await app.open_assessment(tenant, assessment_id),
            await app.open_assessment_n_plus_one(tenant, assessment_id),
            await app.open_assessment(tenant + 1, assessment_id),
        )

    detail, twin, other_tenant = run_app(demo_dsn, both)
    assert detail is not None and detail == twin
    assert other_tenant is None
    assert detail.assessment.id == assessment_id
    (count,) = fetch(
        demo_dsn,
        'SELECT count(*) FROM "Answer" WHERE "assessmentId" = %s',
        assessment_id,
    )[0]
    assert len(detail.answers) == count > 0
    positions = [a.position for a in detail.answers]
    assert positions == sorted(positions)


def test_save_answer_is_an_idempotent_upsert(demo_dsn: str) -> None:
    tenant, assessment_id = assessment(demo_dsn, "DRAFT")
    (question_id, author_id) = fetch(
        demo_dsn,
        'SELECT q.id, a."ownerId" FROM "Assessment" AS a JOIN "Question" AS q'
        ' ON q."questionnaireId" = a."questionnaireId" WHERE a.id = %s'
        ' AND NOT EXISTS (SELECT 1 FROM "Answer" AS an'
        ' WHERE an."assessmentId" = a.id AND an."questionId" = q.id)'
        " ORDER BY q.position LIMIT 1",
        assessment_id,
    )[0]

    async def save_twice(app: ReferenceApp) -> tuple[Any, Any, Any]:
        args = (tenant, assessment_id, question_id, author_id)
        first = await app.save_answer(*args, "No")
        second = await app.save_answer(*args, "Yes", 4)
        denied = await app.save_answer(tenant + 1, *args[1:], "Yes")
        return first, second, denied

    first, second, denied = run_app(demo_dsn, save_twice)
    assert first.inserted and not second.inserted
    assert first.id == second.id and second.value == "Yes" and second.score == 4
    assert denied is None
    stored = fetch(
        demo_dsn,
        'SELECT value FROM "Answer" WHERE "assessmentId" = %s AND "questionId" = %s',
        assessment_id,
        question_id,
    )
    assert stored == [("Yes",)]
    status = fetch(
        demo_dsn, 'SELECT status FROM "Assessment" WHERE id = %s', assessment_id
    )
    assert status == [("IN_PROGRESS",)]


def test_attach_evidence(demo_dsn: str) -> None:
    tenant, assessment_id = assessment(demo_dsn, "IN_PROGRESS")
    (answer_id, author_id) = fetch(
        demo_dsn,
        'SELECT id, "authorId" FROM "Answer" WHERE "assessmentId" = %s LIMIT 1',
        assessment_id,
    )[0]

    async def attach(app: ReferenceApp) -> tuple[Any, Any]:
        ok = await app.attach_evidence(
            tenant,
            assessment_id,
            author_id,
            "soc2.pdf",
            b"%PDF-1.7",
            answer_id=answer_id,
        )
        wrong = await app.attach_evidence(
            tenant, assessment_id + 1, author_id, "x.pdf", b"x", answer_id=answer_id
        )
        return ok, wrong

    evidence, wrong = run_app(demo_dsn, attach)
    assert evidence is not None and wrong is None
    assert (evidence.answer_id, evidence.size_bytes) == (answer_id, 8)
    stored = fetch(
        demo_dsn, 'SELECT sha256 FROM "EvidenceFile" WHERE id = %s', evidence.id
    )
    assert len(stored[0][0]) == 64


def test_read_audit_log_pages_newest_first(demo_dsn: str) -> None:
    tenant = top_tenant(demo_dsn)

    async def three_pages(app: ReferenceApp) -> list[Any]:
        rows: list[Any] = []
        cursor = None
        for _ in range(3):
            page = await app.read_audit_log(tenant, cursor=cursor, limit=40)
            rows.extend(page.rows)
            cursor = page.next_cursor
        return rows

    rows = run_app(demo_dsn, three_pages)
    keys = [(r.created_at, r.id) for r in rows]
    assert len(keys) == len(set(keys)) == 120
    assert keys == sorted(keys, reverse=True)


def test_dashboard_counts_are_cached_until_an_answer_is_saved(demo_dsn: str) -> None:
    tenant, assessment_id = assessment(demo_dsn, "IN_PROGRESS")
    question_id, author_id = fetch(
        demo_dsn,
        'SELECT "questionId", "authorId" FROM "Answer"'
        ' WHERE "assessmentId" = %s LIMIT 1',
        assessment_id,
    )[0]
    cache: LRUCache[Any] = LRUCache(10)

    async def scenario(app: ReferenceApp) -> tuple[Any, Any]:
        first = await app.dashboard_counts(tenant)
        assert await app.dashboard_counts(tenant) is first
        await app.save_answer(tenant, assessment_id, question_id, author_id, "Yes")
        return first, await app.dashboard_counts(tenant)

    first, after = run_app(demo_dsn, scenario, cache)
    expected = dict(
        fetch(
            demo_dsn,
            'SELECT status, count(*) FROM "Assessment"'
            ' WHERE "tenantId" = %s GROUP BY 1',
            tenant,
        )
    )
    assert first.by_status == expected == after.by_status
    assert first.open_tasks > 0
    stats = cache.stats()
    assert (stats.hits, stats.misses) == (1, 2)


def test_search_by_title_prefix(demo_dsn: str) -> None:
    tenant = top_tenant(demo_dsn)
    (title,) = fetch(
        demo_dsn, 'SELECT min(title) FROM "Assessment" WHERE "tenantId" = %s', tenant
    )[0]
    prefix = title[:6]
    cache: LRUCache[Any] = LRUCache(10)

    async def searches(app: ReferenceApp) -> tuple[Any, Any, Any]:
        found = await app.search(tenant, prefix.upper())
        again = await app.search(tenant, prefix.lower())
        literal = await app.search(tenant, "%")
        return found, again, literal

    found, again, literal = run_app(demo_dsn, searches, cache)
    assert found and found is again
    assert all(r.title.lower().startswith(prefix.lower()) for r in found)
    assert literal == ()
    assert cache.stats().hits == 1


def test_assessment_history(demo_dsn: str) -> None:
    tenant, assessment_id = assessment(demo_dsn)
    history = run_app(
        demo_dsn, lambda app: app.assessment_history(tenant, assessment_id, limit=5)
    )
    assert 0 < len(history) <= 5
    assert {(h.entity_type, h.entity_id) for h in history} == {
        ("Assessment", assessment_id)
    }


def test_statements_carry_sqlcommenter_tags(demo_dsn: str) -> None:
    tenant = top_tenant(demo_dsn)
    with psycopg.connect(demo_dsn, autocommit=True) as conn:
        try:
            conn.execute("SELECT pg_stat_statements_reset()")
        except psycopg.Error:
            pytest.skip("pg_stat_statements is not available")
    run_app(demo_dsn, lambda app: app.list_assessments(tenant))
    texts = fetch(
        demo_dsn,
        "SELECT query FROM pg_stat_statements WHERE query LIKE %s",
        "%action='list_assessments'%",
    )
    assert texts
    assert texts[0][0].endswith(
        "/*action='list_assessments',application='reference-app',route='/assessments'*/"
    )
