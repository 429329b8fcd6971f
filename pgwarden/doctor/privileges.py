"""Privilege checks: the monitoring role and the right to maintain tables."""

from __future__ import annotations

from pgwarden.doctor import fixes
from pgwarden.doctor.facts import DoctorFacts
from pgwarden.doctor.report import Check

MONITOR_IMPACT = (
    "query texts and activity of other roles are hidden (<insufficient privilege>), "
    "so statistics and slow-query capture are incomplete"
)
MAINTAIN_IMPACT = (
    "pgwarden maintain skips the tables the role may not VACUUM, ANALYZE or REINDEX"
)
ADMIN_NOTE = "as a superuser, or the admin user on managed services"


def monitoring_role(facts: DoctorFacts) -> Check:
    role = fixes.ident(facts.role)
    if facts.superuser:
        detail = f"role {role} is a superuser"
        return Check("monitoring_role", True, detail, None, MONITOR_IMPACT)
    for member in ("pg_monitor", "pg_read_all_stats"):
        if facts.roles.get(member):
            detail = f"role {role} has the privileges of {member}"
            return Check("monitoring_role", True, detail, None, MONITOR_IMPACT)
    detail = f"role {role} is not a member of pg_monitor or pg_read_all_stats"
    if "predefined roles" in facts.unreadable:
        reason = facts.unreadable["predefined roles"]
        detail = f"could not check the role memberships of {role}: {reason}"
    fix = f"{fixes.grant('pg_monitor', facts.role)} ({ADMIN_NOTE})"
    return Check("monitoring_role", False, detail, fix, MONITOR_IMPACT)


def maintenance_privileges(facts: DoctorFacts) -> Check:
    role = fixes.ident(facts.role)
    if facts.superuser:
        detail = f"role {role} is a superuser"
        return Check("maintenance_privileges", True, detail, None, MAINTAIN_IMPACT)
    if facts.major >= 17 and facts.roles.get("pg_maintain"):
        detail = f"role {role} has the privileges of pg_maintain"
        return Check("maintenance_privileges", True, detail, None, MAINTAIN_IMPACT)
    if facts.maintenance is None:
        reason = facts.unreadable.get("maintenance", "not read")
        detail = f"could not count the tables {role} may maintain: {reason}"
        return Check(
            "maintenance_privileges",
            False,
            detail,
            _maintain_fix(facts),
            MAINTAIN_IMPACT,
        )
    denied, tables = facts.maintenance.denied, facts.maintenance.tables
    detail = f"role {role} may not VACUUM/ANALYZE {denied} of {tables} tables"
    fix = _maintain_fix(facts) if denied else None
    return Check("maintenance_privileges", denied == 0, detail, fix, MAINTAIN_IMPACT)


def _maintain_fix(facts: DoctorFacts) -> str:
    if facts.major >= 17:
        return f"{fixes.grant('pg_maintain', facts.role)} ({ADMIN_NOTE})"
    return (
        "run pgwarden maintain as the owner of the tables or a superuser (before "
        "PostgreSQL 17 only owners may VACUUM/ANALYZE; pg_maintain arrives in 17)"
    )
