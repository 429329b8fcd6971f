"""The reference application's user actions, as async queries on a pool."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, TypeVar

from psycopg_pool import AsyncConnectionPool

from pgwarden.demo.cache import LRUCache
from pgwarden.demo.queries import (
    fetch_all,
    fetch_one,
    like_prefix,
    statement,
    write_audit,
)
from pgwarden.demo.rows import (
    AnswerRow,
    Assessment,
    AssessmentDetail,
    AssessmentSummary,
    AuditEntry,
    Cursor,
    DashboardCounts,
    EvidenceFile,
    Page,
    SavedAnswer,
    SignIn,
)

R = TypeVar("R", AssessmentSummary, AuditEntry)
Values = dict[str, Any]


class ReferenceApp:
    """The compliance-assessment product's actions; reads may use ``cache``."""

    def __init__(
        self, pool: AsyncConnectionPool, cache: LRUCache[Any] | None = None
    ) -> None:
        self.pool = pool
        self.cache = cache

    async def sign_in(self, email: str, *, ip: str = "203.0.113.7") -> SignIn | None:
        """Find the user's active membership, record the login and open a session."""
        action = "sign_in"
        async with self.pool.connection() as conn:
            cur = await conn.execute(statement("find_user", action), {"email": email})
            found = await cur.fetchone()
            if found is None:
                return None
            user_id, tenant_id = found
            token = secrets.token_hex(32)
            await conn.execute(statement("touch_user", action), {"user_id": user_id})
            params = {"user_id": user_id, "tenant_id": tenant_id, "token": token}
            params |= {"ip": ip, "user_agent": "pgwarden-demo/1.0"}
            cur = await conn.execute(statement("insert_session", action), params)
            row = await cur.fetchone()
            assert row is not None
            await write_audit(
                conn,
                action,
                tenant_id,
                user_id,
                "user.signed_in",
                "User",
                user_id,
                {"sessionId": row[0], "ip": ip},
            )
        return SignIn(user_id, tenant_id, row[0], token)

    async def list_assessments(
        self,
        tenant_id: int,
        *,
        status: str | None = None,
        cursor: Cursor | None = None,
        limit: int = 20,
    ) -> Page[AssessmentSummary]:
        """A tenant's assessments, newest first, one keyset page at a time."""
        name = "list_assessments" + ("_by_status" if status else "")
        name += "_after" if cursor else ""
        params: Values = {"tenant_id": tenant_id, "status": status, "limit": limit}
        return await self._page(
            name, "list_assessments", AssessmentSummary, params, cursor
        )

    async def open_assessment(
        self, tenant_id: int, assessment_id: int
    ) -> AssessmentDetail | None:
        """An assessment and its answers in question order: two queries."""
        action = "open_assessment"
        params: Values = {"tenant_id": tenant_id, "assessment_id": assessment_id}
        async with self.pool.connection() as conn:
            head = await fetch_one(conn, action, "get_assessment", Assessment, params)
            if head is None:
                return None
            answers = await fetch_all(conn, action, "get_answers", AnswerRow, params)
        return AssessmentDetail(head, tuple(answers))

    async def open_assessment_n_plus_one(
        self, tenant_id: int, assessment_id: int
    ) -> AssessmentDetail | None:
        """Same result as :meth:`open_assessment`, loading answers one by one."""
        action = "open_assessment_n_plus_one"
        params: Values = {"tenant_id": tenant_id, "assessment_id": assessment_id}
        async with self.pool.connection() as conn:
            head = await fetch_one(conn, action, "get_assessment", Assessment, params)
            if head is None:
                return None
            cur = await conn.execute(statement("get_answer_ids", action), params)
            answers = []
            for (answer_id,) in await cur.fetchall():
                one = {"answer_id": answer_id}
                answer = await fetch_one(conn, action, "get_answer", AnswerRow, one)
                if answer is not None:
                    answers.append(answer)
        answers.sort(key=lambda a: a.position)
        return AssessmentDetail(head, tuple(answers))

    async def save_answer(
        self,
        tenant_id: int,
        assessment_id: int,
        question_id: int,
        author_id: int,
        value: str,
        score: int | None = None,
    ) -> SavedAnswer | None:
        """Insert or update the answer to a question; ``None`` if not allowed."""
        action = "save_answer"
        params: Values = {"tenant_id": tenant_id, "assessment_id": assessment_id}
        params |= {"question_id": question_id, "author_id": author_id}
        params |= {"value": value, "score": score}
        async with self.pool.connection() as conn:
            saved = await fetch_one(conn, action, "upsert_answer", SavedAnswer, params)
            if saved is None:
                return None
            await conn.execute(statement("touch_assessment", action), params)
            await write_audit(
                conn,
                action,
                tenant_id,
                author_id,
                "answer.saved",
                "Assessment",
                assessment_id,
                {"answerId": saved.id, "questionId": question_id},
            )
        self._forget_dashboard(tenant_id)
        return saved

    async def attach_evidence(
        self,
        tenant_id: int,
        assessment_id: int,
        user_id: int,
        file_name: str,
        content: bytes,
        *,
        answer_id: int | None = None,
        content_type: str = "application/pdf",
    ) -> EvidenceFile | None:
        """Record an uploaded file's metadata; ``None`` if not allowed."""
        action = "attach_evidence"
        key = f"t/{tenant_id}/a/{assessment_id}/{secrets.token_hex(16)}"
        params: Values = {"tenant_id": tenant_id, "assessment_id": assessment_id}
        params |= {"answer_id": answer_id, "user_id": user_id}
        params |= {"file_name": file_name, "content_type": content_type}
        params |= {"size_bytes": len(content), "storage_key": key}
        params |= {"sha256": hashlib.sha256(content).hexdigest()}
        async with self.pool.connection() as conn:
            row = await fetch_one(conn, action, "insert_evidence", EvidenceFile, params)
            if row is not None:
                await write_audit(
                    conn,
                    action,
                    tenant_id,
                    user_id,
                    "evidence.uploaded",
                    "Assessment",
                    assessment_id,
                    {"evidenceFileId": row.id, "fileName": file_name},
                )
        return row

    async def read_audit_log(
        self, tenant_id: int, *, cursor: Cursor | None = None, limit: int = 50
    ) -> Page[AuditEntry]:
        """A tenant's audit log, newest first, one keyset page at a time."""
        name = "read_audit_log" + ("_after" if cursor else "")
        params: Values = {"tenant_id": tenant_id, "limit": limit}
        return await self._page(name, "read_audit_log", AuditEntry, params, cursor)

    async def dashboard_counts(self, tenant_id: int) -> DashboardCounts:
        """Assessments by status and open tasks of a tenant (cached)."""
        action, key = "dashboard_counts", ("dashboard_counts", tenant_id)
        cached = self.cache.get(key) if self.cache is not None else None
        if isinstance(cached, DashboardCounts):
            return cached
        params: Values = {"tenant_id": tenant_id}
        async with self.pool.connection() as conn:
            cur = await conn.execute(statement("count_by_status", action), params)
            by_status = {str(s): int(n) for s, n in await cur.fetchall()}
            cur = await conn.execute(statement("count_open_tasks", action), params)
            row = await cur.fetchone()
        counts = DashboardCounts(tenant_id, by_status, int(row[0]) if row else 0)
        if self.cache is not None:
            self.cache.put(key, counts)
        return counts

    async def search(
        self, tenant_id: int, text: str, *, limit: int = 20
    ) -> tuple[AssessmentSummary, ...]:
        """Assessments whose title starts with ``text``, case-insensitive (cached)."""
        key = ("search", tenant_id, text.lower(), limit)
        cached = self.cache.get(key) if self.cache is not None else None
        if isinstance(cached, tuple):
            return cached
        pattern = like_prefix(text)
        params: Values = {"tenant_id": tenant_id, "pattern": pattern, "limit": limit}
        async with self.pool.connection() as conn:
            rows = await fetch_all(
                conn, "search", "search_titles", AssessmentSummary, params
            )
        found = tuple(rows)
        if self.cache is not None:
            self.cache.put(key, found)
        return found

    async def assessment_history(
        self, tenant_id: int, assessment_id: int, *, limit: int = 20
    ) -> tuple[AuditEntry, ...]:
        """The newest audit entries about one assessment."""
        params: Values = {"tenant_id": tenant_id, "assessment_id": assessment_id}
        params |= {"limit": limit}
        async with self.pool.connection() as conn:
            rows = await fetch_all(
                conn, "assessment_history", "assessment_history", AuditEntry, params
            )
        return tuple(rows)

    async def _page(
        self,
        name: str,
        action: str,
        row_type: type[R],
        params: dict[str, Any],
        cursor: Cursor | None,
    ) -> Page[R]:
        if cursor:
            params |= {"after_at": cursor.created_at, "after_id": cursor.id}
        async with self.pool.connection() as conn:
            rows = await fetch_all(conn, action, name, row_type, params)
        full = len(rows) == params["limit"]
        last = rows[-1] if full else None
        return Page(tuple(rows), Cursor(last.created_at, last.id) if last else None)

    def _forget_dashboard(self, tenant_id: int) -> None:
        if self.cache is not None:
            self.cache.invalidate(("dashboard_counts", tenant_id))
