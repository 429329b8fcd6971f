"""Rows the reference application's actions return."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Cursor:
    """Keyset position: the ("createdAt", id) of the last row of a page."""

    created_at: datetime
    id: int


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows; ``next_cursor`` is ``None`` on the last page."""

    rows: tuple[T, ...]
    next_cursor: Cursor | None


@dataclass(frozen=True)
class AssessmentSummary:
    id: int
    tenant_id: int
    title: str
    status: str
    owner_id: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Assessment:
    id: int
    tenant_id: int
    questionnaire_id: int
    owner_id: int
    title: str
    status: str
    score: Decimal | None
    due_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class AnswerRow:
    id: int
    question_id: int
    position: int
    question: str
    value: str
    score: int | None
    status: str
    author_id: int
    updated_at: datetime


@dataclass(frozen=True)
class AssessmentDetail:
    assessment: Assessment
    answers: tuple[AnswerRow, ...]


@dataclass(frozen=True)
class SavedAnswer:
    id: int
    assessment_id: int
    question_id: int
    value: str
    score: int | None
    updated_at: datetime
    inserted: bool  # false when an existing answer was updated


@dataclass(frozen=True)
class EvidenceFile:
    id: int
    assessment_id: int
    answer_id: int | None
    file_name: str
    content_type: str
    size_bytes: int
    storage_key: str
    created_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    id: int
    actor_id: int | None
    action: str
    entity_type: str
    entity_id: int
    details: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class DashboardCounts:
    tenant_id: int
    by_status: dict[str, int]
    open_tasks: int

    @property
    def assessments(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class SignIn:
    user_id: int
    tenant_id: int
    session_id: int
    token: str
