"""Each action of the reference application, with parameters drawn like a user's."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

from pgwarden.demo.app import ReferenceApp
from pgwarden.demo.context import TenantData, WorkloadContext

Action = Callable[[ReferenceApp, WorkloadContext, random.Random], Awaitable[object]]

_STATUSES = (None, None, None, None, None, "IN_PROGRESS", "DRAFT", "COMPLETED")
_VALUES = ("Yes", "No", "Partially", "See the attached procedure.")
_FILES = (
    ("policy.pdf", "application/pdf"),
    ("screenshot.png", "image/png"),
    ("access-review.csv", "text/csv"),
)


async def sign_in(app: ReferenceApp, ctx: WorkloadContext, rng: random.Random) -> None:
    _user_id, email = rng.choice(ctx.pick_tenant(rng).users)
    await app.sign_in(email)


async def list_assessments(
    app: ReferenceApp, ctx: WorkloadContext, rng: random.Random
) -> None:
    tenant, status = ctx.pick_tenant(rng).id, rng.choice(_STATUSES)
    page = await app.list_assessments(tenant, status=status)
    if page.next_cursor and rng.random() < 0.3:  # some users open page two
        await app.list_assessments(tenant, status=status, cursor=page.next_cursor)


async def open_assessment(
    app: ReferenceApp, ctx: WorkloadContext, rng: random.Random
) -> None:
    tenant = ctx.pick_tenant(rng)
    await app.open_assessment(tenant.id, rng.choice(tenant.assessments))


async def open_assessment_n_plus_one(
    app: ReferenceApp, ctx: WorkloadContext, rng: random.Random
) -> None:
    tenant = ctx.pick_tenant(rng)
    await app.open_assessment_n_plus_one(tenant.id, rng.choice(tenant.assessments))


async def save_answer(
    app: ReferenceApp, ctx: WorkloadContext, rng: random.Random
) -> None:
    tenant = ctx.pick_tenant(rng)
    assessment = _work_in_progress(tenant, rng)
    question = ctx.pick_question(rng, assessment)
    author, _email = rng.choice(tenant.users)
    score = rng.randint(1, 5) if rng.random() < 0.3 else None
    value = rng.choice(_VALUES)
    await app.save_answer(tenant.id, assessment, question, author, value, score)


async def attach_evidence(
    app: ReferenceApp, ctx: WorkloadContext, rng: random.Random
) -> None:
    tenant = ctx.pick_tenant(rng)
    assessment = _work_in_progress(tenant, rng)
    author, _email = rng.choice(tenant.users)
    name, content_type = rng.choice(_FILES)
    content = rng.randbytes(rng.randint(200, 4000))
    await app.attach_evidence(
        tenant.id, assessment, author, name, content, content_type=content_type
    )


async def read_audit_log(
    app: ReferenceApp, ctx: WorkloadContext, rng: random.Random
) -> None:
    await app.read_audit_log(ctx.pick_tenant(rng).id)


async def dashboard_counts(
    app: ReferenceApp, ctx: WorkloadContext, rng: random.Random
) -> None:
    await app.dashboard_counts(ctx.pick_tenant(rng).id)


async def search(app: ReferenceApp, ctx: WorkloadContext, rng: random.Random) -> None:
    term = rng.choice(ctx.search_terms)
    await app.search(ctx.pick_tenant(rng).id, term[: rng.randint(2, len(term))])


async def assessment_history(
    app: ReferenceApp, ctx: WorkloadContext, rng: random.Random
) -> None:
    tenant = ctx.pick_tenant(rng)
    await app.assessment_history(tenant.id, rng.choice(tenant.assessments))


def _work_in_progress(tenant: TenantData, rng: random.Random) -> int:
    """Mostly an open assessment, as people answer those."""
    if tenant.open_assessments and rng.random() < 0.9:
        return rng.choice(tenant.open_assessments)
    return rng.choice(tenant.assessments)


ACTIONS: dict[str, Action] = {
    "sign_in": sign_in,
    "list_assessments": list_assessments,
    "open_assessment": open_assessment,
    "open_assessment_n_plus_one": open_assessment_n_plus_one,
    "save_answer": save_answer,
    "attach_evidence": attach_evidence,
    "read_audit_log": read_audit_log,
    "dashboard_counts": dashboard_counts,
    "search": search,
    "assessment_history": assessment_history,
}
