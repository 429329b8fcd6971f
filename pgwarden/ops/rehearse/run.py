"""Release rehearsal and dry run (``pgwarden rehearse run``).

1. pre-flight checks against the target (read-only);
2. the release steps on a rehearsal database (a clone of the target database, or a
   restored copy) proven not to be the target (``rehearse_guard``), timed, with
   their locks, rewrites and WAL;
3. the rollback steps, timed, and whether they restore the schema;
4. a report with the go/no-go verdict.

Modules: ``rehearse_plan`` (the plan file), ``rehearse_preflight`` and
``rehearse_checks`` (pre-flight), ``rehearse_clone`` (the rehearsal database),
``rehearse_guard`` (where the steps may run),
``rehearse_steps``, ``rehearse_sql`` and ``rehearse_measure`` (running and
measuring), ``rehearse_report`` (verdict and rendering), ``rehearse_store`` (the
record in the repository).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg

from pgwarden.ops.rehearse import checks as rehearse_checks
from pgwarden.ops.rehearse import guard as rehearse_guard
from pgwarden.ops.rehearse import preflight as rehearse_preflight
from pgwarden.ops.rehearse import report as rehearse_report
from pgwarden.ops.rehearse.clone import CloneFailed, Database, database
from pgwarden.ops.rehearse.plan import Plan, as_summary
from pgwarden.ops.rehearse.steps import Rehearsal, Verify, rehearse


def run(
    plan: Plan,
    target_dsn: str,
    repository_dsn: str,
    *,
    keep_clone: bool = False,
    checks_only: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Rehearse ``plan`` against the target; the report (see rehearse_report)."""
    started = datetime.now(UTC)
    progress("pre-flight checks")
    facts = rehearse_preflight.gather(target_dsn, repository_dsn, plan.change_request)
    done: Rehearsal | None = None
    notes: list[str] = []
    clone: dict[str, Any] = {"description": "nothing (--checks-only)", "notes": notes}
    if not checks_only:
        _room_for_clone(plan, facts)
        progress("preparing the rehearsal database")
        with database(
            plan, target_dsn, facts.database, keep_clone, notes, progress
        ) as db:
            clone |= {
                "method": db.method,
                "database": db.name,
                "created": db.created,
                "seconds": round(db.seconds, 3),
                "description": _describe(db.method, db.where, db.seconds),
            }
            done = rehearse(plan, db.dsn, progress, _verifier(plan, target_dsn, db))
    checks = rehearse_checks.judge(
        facts, plan.checks, rehearse_report.needed_bytes(done)
    )
    return rehearse_report.build(
        as_summary(plan),
        facts.target,
        checks,
        done,
        clone,
        started,
        datetime.now(UTC),
        bool(plan.rollback),
    )


def _verifier(plan: Plan, target_dsn: str, db: Database) -> Verify:
    """Checks, right before the first step, that the steps may run where ``db``'s
    connection leads: never the target (read again now), and a marked database."""

    def verify(conn: psycopg.Connection[Any]) -> None:
        rehearse_guard.check(
            conn,
            rehearse_guard.target_identity(target_dsn),
            marker=db.marker,
            allow_existing=plan.allow_existing,
            where=db.where,
        )

    return verify


def _room_for_clone(plan: Plan, facts: rehearse_checks.Facts) -> None:
    """A clone lives on the target's server: refuse one that cannot fit."""
    free = plan.checks.disk_free_gb
    if plan.rehearsal_dsn or free is None:
        return
    if plan.clone_source not in (None, facts.database):
        return
    if facts.database_bytes >= free * rehearse_checks.GIB:
        raise CloneFailed(
            f"a clone of {facts.database!r} needs "
            f"{facts.database_bytes / rehearse_checks.GIB:.1f} GiB on the target's "
            f"server, more than disk_free_gb = {free:g}: set rehearsal_dsn to a "
            "restored copy on another server"
        )


def _describe(method: str, where: str, seconds: float) -> str:
    if method == "existing copy":
        return f"the existing copy {where}"
    how = (
        "CREATE DATABASE … TEMPLATE" if method == "template" else "pg_dump | pg_restore"
    )
    return f"clone {where} ({how}, {seconds:.1f} s)"
