"""The reference application's schema, its catalogue checks and its planted problems."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Literal

import psycopg
from psycopg import sql

REFERENCE_TABLES: tuple[str, ...] = (
    "Tenant",
    "User",
    "Role",
    "Membership",
    "Framework",
    "Control",
    "Questionnaire",
    "Question",
    "Assessment",
    "Answer",
    "EvidenceFile",
    "Comment",
    "Task",
    "AuditLog",
    "Notification",
    "Session",
    "ApiKey",
    "Webhook",
    "Invitation",
    "Tag",
    "AssessmentTag",
    "Report",
    "Subscription",
    "Invoice",
)

ProblemKind = Literal[
    "duplicate_index",
    "redundant_index",
    "unused_index",
    "missing_index",
    "unindexed_foreign_key",
]


@dataclass(frozen=True)
class PlantedProblem:
    """A problem put into the reference schema on purpose, for the advisors to find."""

    kind: ProblemKind
    table: str
    target: str  # an index name, or the column(s) for missing indexes and foreign keys
    description: str
    related: str | None = None  # the index it duplicates or is a prefix of


PLANTED_PROBLEMS: tuple[PlantedProblem, ...] = (
    PlantedProblem(
        "duplicate_index",
        "EvidenceFile",
        "idx_evidence_assessment",
        'Same definition as "EvidenceFile_assessmentId_idx".',
        related="EvidenceFile_assessmentId_idx",
    ),
    PlantedProblem(
        "redundant_index",
        "AuditLog",
        "AuditLog_tenantId_idx",
        '("tenantId") is a prefix of ("tenantId", "createdAt").',
        related="AuditLog_tenantId_createdAt_idx",
    ),
    PlantedProblem(
        "unused_index",
        "Assessment",
        "Assessment_dueAt_idx",
        'No query of the application filters or sorts on "dueAt".',
    ),
    PlantedProblem(
        "unused_index",
        "Notification",
        "Notification_kind_idx",
        'No query of the application filters on "kind".',
    ),
    PlantedProblem(
        "unused_index",
        "EvidenceFile",
        "EvidenceFile_sha256_idx",
        "No query of the application looks evidence files up by checksum.",
    ),
    PlantedProblem(
        "missing_index",
        "AuditLog",
        "entityType,entityId",
        "The assessment_history action filters on these columns; no index has them.",
    ),
    PlantedProblem(
        "unindexed_foreign_key",
        "Answer",
        "authorId",
        'Foreign key "Answer_authorId_fkey" to "User" has no index starting with it.',
    ),
)

_SECTION = re.compile(r"^-- section: (\w+)\s*$", re.MULTILINE)


@cache
def schema_sections() -> dict[str, str]:
    """The sections of ``schema.sql`` by name: ``tables`` and ``indexes``."""
    text = files("pgwarden.demo").joinpath("schema.sql").read_text(encoding="utf-8")
    parts = _SECTION.split(text)
    return {
        name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)
    }


#: the comment ``pgwarden demo-db load`` puts on the "Tenant" table it creates: the
#: reference tables of a schema are pgwarden's, not an application's of the same shape
REFERENCE_MARKER = "pgwarden:reference-app"


def reference_tables_found(
    conn: psycopg.Connection, schema: str = "public"
) -> list[str]:
    """The relations of ``schema`` named like a table of the reference application."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_catalog.pg_class c"
        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = ANY(%s) ORDER BY 1",
        (schema, list(REFERENCE_TABLES)),
    ).fetchall()
    return [str(row[0]) for row in rows]


def reference_marked(conn: psycopg.Connection, schema: str = "public") -> bool:
    """Whether ``schema``'s "Tenant" table carries :data:`REFERENCE_MARKER`."""
    row = conn.execute(
        "SELECT pg_catalog.obj_description(c.oid, 'pg_class')"
        " FROM pg_catalog.pg_class c"
        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = 'Tenant' AND c.relkind IN ('r', 'p')",
        (schema,),
    ).fetchone()
    return bool(row and row[0] and str(row[0]).startswith(REFERENCE_MARKER))


def mark_reference_tables(conn: psycopg.Connection, schema: str = "public") -> None:
    """Put :data:`REFERENCE_MARKER` on ``schema``'s "Tenant" table."""
    conn.execute(
        sql.SQL("COMMENT ON TABLE {} IS {}").format(
            sql.Identifier(schema, "Tenant"), sql.Literal(REFERENCE_MARKER)
        )
    )


def reference_tables_present(conn: psycopg.Connection, schema: str = "public") -> bool:
    """Whether the reference application's "Tenant" table exists in ``schema``."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c"
        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = 'Tenant'"
        " AND c.relkind IN ('r', 'p'))",
        (schema,),
    ).fetchone()
    return bool(row and row[0])


def drop_reference_tables(conn: psycopg.Connection, schema: str = "public") -> None:
    """Drop the reference tables (only those) from ``schema``."""
    names = sql.SQL(", ").join(sql.Identifier(schema, t) for t in REFERENCE_TABLES)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(names))
