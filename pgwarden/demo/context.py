"""Parameters for the reference application's actions, drawn from its real data."""

from __future__ import annotations

import random
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

_TENANTS = """SELECT "tenantId", count(*) FROM "Assessment" GROUP BY 1 ORDER BY 1"""
_USERS = """SELECT m."tenantId", u.id, u.email FROM "User" AS u
    JOIN "Membership" AS m ON m."userId" = u.id
    WHERE m.status = 'ACTIVE' ORDER BY u.id"""
_ASSESSMENTS = """SELECT "tenantId", id, "questionnaireId",
    status IN ('DRAFT', 'IN_PROGRESS') FROM "Assessment" ORDER BY id"""
_QUESTIONS = """SELECT "questionnaireId", array_agg(id ORDER BY position)
    FROM "Question" GROUP BY 1"""
_FRAMEWORKS = """SELECT name FROM "Framework" ORDER BY id"""


@dataclass(frozen=True)
class TenantData:
    """One tenant's ids: users (id, email), assessments and the open ones."""

    id: int
    users: tuple[tuple[int, str], ...]
    assessments: tuple[int, ...]
    open_assessments: tuple[int, ...]


@dataclass(frozen=True)
class WorkloadContext:
    """Fetched once; tenants are weighted by their number of assessments (Zipf)."""

    tenants: tuple[TenantData, ...]
    weights: tuple[float, ...]
    questionnaire_of: dict[int, int]
    questions: dict[int, tuple[int, ...]]
    search_terms: tuple[str, ...]

    def pick_tenant(self, rng: random.Random) -> TenantData:
        return rng.choices(self.tenants, self.weights)[0]

    def pick_question(self, rng: random.Random, assessment_id: int) -> int:
        return rng.choice(self.questions[self.questionnaire_of[assessment_id]])


async def fetch_context(pool: AsyncConnectionPool) -> WorkloadContext:
    """Read the ids and weights the workload draws its parameters from."""
    async with pool.connection() as conn:
        tenants = await (await conn.execute(_TENANTS)).fetchall()
        users = await (await conn.execute(_USERS)).fetchall()
        assessments = await (await conn.execute(_ASSESSMENTS)).fetchall()
        questions = await (await conn.execute(_QUESTIONS)).fetchall()
        frameworks = await (await conn.execute(_FRAMEWORKS)).fetchall()
    by_tenant: dict[int, list[tuple[int, str]]] = {}
    for tenant_id, user_id, email in users:
        by_tenant.setdefault(tenant_id, []).append((user_id, email))
    owned: dict[int, list[int]] = {}
    open_ones: dict[int, list[int]] = {}
    for tenant_id, assessment_id, _qn, is_open in assessments:
        owned.setdefault(tenant_id, []).append(assessment_id)
        if is_open:
            open_ones.setdefault(tenant_id, []).append(assessment_id)
    data = [
        TenantData(
            t,
            tuple(by_tenant[t]),
            tuple(owned[t]),
            tuple(open_ones.get(t, ())),
        )
        for t, _n in tenants
        if by_tenant.get(t)
    ]
    if not data:
        raise LookupError("the reference application has no data to work on")
    weights = {t: float(n) for t, n in tenants}
    return WorkloadContext(
        tuple(data),
        tuple(weights[t.id] for t in data),
        {a: qn for _t, a, qn, _o in assessments},
        {qn: tuple(ids) for qn, ids in questions},
        tuple(name for (name,) in frameworks),
    )
