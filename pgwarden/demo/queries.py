"""The reference application's SQL, as an ORM-backed product would send it.

Values are always parameters. :func:`statement` appends the sqlcommenter tag of
the action that runs the statement.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from pgwarden.demo.sqlcommenter import tag

T = TypeVar("T")
Params = Mapping[str, Any]

ROUTES: dict[str, str] = {
    "sign_in": "/auth/sign-in",
    "list_assessments": "/assessments",
    "open_assessment": "/assessments/:id",
    "open_assessment_n_plus_one": "/assessments/:id",
    "save_answer": "/assessments/:id/answers",
    "attach_evidence": "/assessments/:id/evidence",
    "read_audit_log": "/audit-log",
    "dashboard_counts": "/dashboard",
    "search": "/search",
    "assessment_history": "/assessments/:id/history",
}

_SUMMARY = """SELECT id, "tenantId" AS tenant_id, title, status, "ownerId" AS owner_id,
    "createdAt" AS created_at, "updatedAt" AS updated_at
FROM "Assessment" WHERE "tenantId" = %(tenant_id)s"""

_AUDIT = """SELECT id, "actorId" AS actor_id, action, "entityType" AS entity_type,
    "entityId" AS entity_id, details, "createdAt" AS created_at
FROM "AuditLog" WHERE "tenantId" = %(tenant_id)s"""

_ANSWER = """SELECT an.id, an."questionId" AS question_id, q.position,
    q.text AS question, an.value, an.score, an.status, an."authorId" AS author_id,
    an."updatedAt" AS updated_at
FROM "Answer" AS an JOIN "Question" AS q ON q.id = an."questionId"
"""

_BY_STATUS = " AND status = %(status)s"
_AFTER = ' AND ("createdAt", id) < (%(after_at)s, %(after_id)s)'
_NEWEST = ' ORDER BY "createdAt" DESC, id DESC LIMIT %(limit)s'

SQL: dict[str, str] = {
    "find_user": """SELECT u.id, m."tenantId" FROM "User" AS u
        JOIN "Membership" AS m ON m."userId" = u.id
        WHERE u.email = %(email)s AND m.status = 'ACTIVE'
        ORDER BY m."createdAt" LIMIT 1""",
    "touch_user": """UPDATE "User" SET "lastLoginAt" = now(), "updatedAt" = now()
        WHERE id = %(user_id)s""",
    "insert_session": """INSERT INTO "Session" ("userId", "tenantId", token,
            "ipAddress", "userAgent", "expiresAt")
        VALUES (%(user_id)s, %(tenant_id)s, %(token)s, %(ip)s, %(user_agent)s,
            now() + interval '30 days')
        RETURNING id""",
    "insert_audit": """INSERT INTO "AuditLog" ("tenantId", "actorId", action,
            "entityType", "entityId", details)
        VALUES (%(tenant_id)s, %(actor_id)s, %(action)s, %(entity_type)s,
            %(entity_id)s, %(details)s)""",
    "list_assessments": _SUMMARY + _NEWEST,
    "list_assessments_after": _SUMMARY + _AFTER + _NEWEST,
    "list_assessments_by_status": _SUMMARY + _BY_STATUS + _NEWEST,
    "list_assessments_by_status_after": _SUMMARY + _BY_STATUS + _AFTER + _NEWEST,
    "get_assessment": """SELECT id, "tenantId" AS tenant_id,
            "questionnaireId" AS questionnaire_id, "ownerId" AS owner_id, title,
            status, score, "dueAt" AS due_at, "completedAt" AS completed_at,
            "createdAt" AS created_at, "updatedAt" AS updated_at
        FROM "Assessment"
        WHERE id = %(assessment_id)s AND "tenantId" = %(tenant_id)s""",
    "get_answers": _ANSWER
    + """WHERE an."assessmentId" = %(assessment_id)s
        ORDER BY q.position""",
    "get_answer_ids": """SELECT id FROM "Answer"
        WHERE "assessmentId" = %(assessment_id)s ORDER BY id""",
    "get_answer": _ANSWER + "WHERE an.id = %(answer_id)s",
    "upsert_answer": """INSERT INTO "Answer" ("tenantId", "assessmentId",
            "questionId", "authorId", value, score, status)
        SELECT a."tenantId", a.id, q.id, %(author_id)s, %(value)s, %(score)s,
            'SUBMITTED'
        FROM "Assessment" AS a
        JOIN "Question" AS q ON q."questionnaireId" = a."questionnaireId"
        WHERE a.id = %(assessment_id)s AND a."tenantId" = %(tenant_id)s
            AND q.id = %(question_id)s
        ON CONFLICT ("assessmentId", "questionId") DO UPDATE
        SET value = EXCLUDED.value, score = EXCLUDED.score,
            "authorId" = EXCLUDED."authorId", status = EXCLUDED.status,
            "updatedAt" = now()
        RETURNING id, "assessmentId" AS assessment_id, "questionId" AS question_id,
            value, score, "updatedAt" AS updated_at, (xmax = 0) AS inserted""",
    "touch_assessment": """UPDATE "Assessment" SET "updatedAt" = now(),
            status = CASE WHEN status = 'DRAFT' THEN 'IN_PROGRESS' ELSE status END
        WHERE id = %(assessment_id)s""",
    "insert_evidence": """INSERT INTO "EvidenceFile" ("tenantId", "assessmentId",
            "answerId", "uploadedById", "fileName", "contentType", "sizeBytes",
            "storageKey", sha256)
        SELECT a."tenantId", a.id, an.id, %(user_id)s, %(file_name)s,
            %(content_type)s, %(size_bytes)s, %(storage_key)s, %(sha256)s
        FROM "Assessment" AS a
        LEFT JOIN "Answer" AS an
            ON an.id = %(answer_id)s AND an."assessmentId" = a.id
        WHERE a.id = %(assessment_id)s AND a."tenantId" = %(tenant_id)s
            AND (%(answer_id)s::bigint IS NULL OR an.id IS NOT NULL)
        RETURNING id, "assessmentId" AS assessment_id, "answerId" AS answer_id,
            "fileName" AS file_name, "contentType" AS content_type,
            "sizeBytes" AS size_bytes, "storageKey" AS storage_key,
            "createdAt" AS created_at""",
    "read_audit_log": _AUDIT + _NEWEST,
    "read_audit_log_after": _AUDIT + _AFTER + _NEWEST,
    "count_by_status": """SELECT status, count(*) FROM "Assessment"
        WHERE "tenantId" = %(tenant_id)s GROUP BY status""",
    "count_open_tasks": """SELECT count(*) FROM "Task"
        WHERE "tenantId" = %(tenant_id)s AND status IN ('OPEN', 'IN_PROGRESS')""",
    "search_titles": _SUMMARY
    + """ AND lower(title) LIKE %(pattern)s
        ORDER BY "createdAt" DESC, id DESC LIMIT %(limit)s""",
    "assessment_history": _AUDIT
    + """ AND "entityType" = 'Assessment'
            AND "entityId" = %(assessment_id)s
        ORDER BY "createdAt" DESC, id DESC LIMIT %(limit)s""",
}


@cache
def statement(name: str, action: str) -> str:
    """The SQL named ``name``, tagged for ``action``."""
    return tag(SQL[name], action=action, route=ROUTES[action])


async def fetch_one(
    conn: AsyncConnection[Any], action: str, name: str, row: type[T], params: Params
) -> T | None:
    cur = conn.cursor(row_factory=class_row(row))
    await cur.execute(statement(name, action), params)
    return await cur.fetchone()


async def fetch_all(
    conn: AsyncConnection[Any], action: str, name: str, row: type[T], params: Params
) -> list[T]:
    cur = conn.cursor(row_factory=class_row(row))
    await cur.execute(statement(name, action), params)
    return await cur.fetchall()


async def write_audit(
    conn: AsyncConnection[Any],
    action: str,
    tenant_id: int,
    actor_id: int,
    what: str,
    entity_type: str,
    entity_id: int,
    details: dict[str, Any],
) -> None:
    params = {"tenant_id": tenant_id, "actor_id": actor_id, "action": what}
    params |= {"entity_type": entity_type, "entity_id": entity_id}
    params |= {"details": Jsonb(details)}
    await conn.execute(statement("insert_audit", action), params)


def like_prefix(text: str) -> str:
    """A LIKE pattern matching lower-cased values that start with ``text``."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%")
    return escaped.replace("_", "\\_") + "%"
