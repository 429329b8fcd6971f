"""``evaluate``: judge gathered facts (pure, no I/O); extension and privilege checks."""

from __future__ import annotations

from pgwarden.doctor import fixes
from pgwarden.doctor.facts import DoctorFacts, Extension
from pgwarden.doctor.privileges import maintenance_privileges, monitoring_role
from pgwarden.doctor.report import Check
from pgwarden.doctor.settings import (
    auto_explain,
    compute_query_id,
    pgss_preload,
    slow_query_log,
    slow_query_source,
    track_io_timing,
)
from pgwarden.doctor.sources import slow_query_sources

SUPPORTED_MAJORS = range(14, 19)
IMPACT = {
    "server_version": "pgwarden is built for PostgreSQL 14 to 18; on older servers "
    "some statistics views and columns are missing and features needing them are off",
    "pg_stat_statements": "no query statistics: top queries, query advice, slow-query "
    "trends and workload baselines are unavailable",
    "pgstattuple": "table and index bloat are estimated from statistics instead of "
    "measured",
    "hypopg": "the index advisor cannot test candidate indexes as hypothetical "
    "indexes; it only lists candidates",
    "pg_buffercache": "no per-relation view of what is in shared buffers",
}


def evaluate(facts: DoctorFacts) -> list[Check]:
    """One Check per capability, in the order doctor prints them."""
    return [
        server_version(facts),
        pgss_preload(facts),
        pgss_extension(facts),
        contrib_extension(facts, "pgstattuple"),
        hypopg(facts),
        contrib_extension(facts, "pg_buffercache"),
        track_io_timing(facts),
        compute_query_id(facts),
        slow_query_log(facts),
        slow_query_source(facts),
        slow_query_sources(facts),
        monitoring_role(facts),
        maintenance_privileges(facts),
        auto_explain(facts),
    ]


def server_version(facts: DoctorFacts) -> Check:
    shown = facts.settings.get("server_version", str(facts.major))
    found = f"PostgreSQL {shown} (server_version_num {facts.server_version_num})"
    if facts.major < SUPPORTED_MAJORS.start:
        detail = f"{found} is older than the supported 14 to 18"
        fix = "upgrade to PostgreSQL 14 or newer (pg_upgrade or a managed upgrade)"
        return Check("server_version", False, detail, fix, IMPACT["server_version"])
    if facts.major >= SUPPORTED_MAJORS.stop:
        found += "; newer than the tested 14 to 18"
    return Check("server_version", True, found, None, IMPACT["server_version"])


def pgss_extension(facts: DoctorFacts) -> Check:
    ext = facts.extension("pg_stat_statements")
    status = facts.pg_stat_statements
    impact = IMPACT["pg_stat_statements"]
    if not ext.installed:
        detail, fix = _not_installed(facts, ext)
        return Check("pg_stat_statements_extension", False, detail, fix, impact)
    found = f"pg_stat_statements {ext.installed_version} in schema {ext.schema}"
    if status == "readable":
        return Check(
            "pg_stat_statements_extension", True, f"{found}, readable", None, impact
        )
    detail, fix = _unreadable_pgss(facts, ext, status)
    return Check(
        "pg_stat_statements_extension", False, f"{found}, but {detail}", fix, impact
    )


def _unreadable_pgss(
    facts: DoctorFacts, ext: Extension, status: str
) -> tuple[str, str]:
    if status == "not_loaded":
        return (
            "the library is not loaded (not in shared_preload_libraries)",
            fixes.preload("pg_stat_statements", facts.platform),
        )
    if status == "denied":
        view = f"{fixes.ident(ext.schema or 'public')}.pg_stat_statements"
        return (
            f"role {fixes.ident(facts.role)} may not read it",
            f"GRANT SELECT ON {view} TO {fixes.ident(facts.role)};",
        )
    return (
        "reading it timed out",
        "check the server load; pg_stat_statements.max may be very large",
    )


def contrib_extension(facts: DoctorFacts, name: str) -> Check:
    ext = facts.extension(name)
    if ext.installed:
        found = f"{name} {ext.installed_version} installed in schema {ext.schema}"
        return Check(name, True, found, None, IMPACT[name])
    detail, fix = _not_installed(facts, ext)
    return Check(name, False, detail, fix, IMPACT[name])


def hypopg(facts: DoctorFacts) -> Check:
    check = contrib_extension(facts, "hypopg")
    if check.ok or facts.extension("hypopg").available:
        return check
    return Check(
        "hypopg", False, check.detail, fixes.install_hypopg(facts.major), check.impact
    )


def _not_installed(facts: DoctorFacts, ext: Extension) -> tuple[str, str]:
    if "extensions" in facts.unreadable:
        reason = facts.unreadable["extensions"]
        return f"could not list extensions: {reason}", fixes.create_extension(ext.name)
    if ext.available:
        return (
            f"{ext.name} is available on the server but not installed in this database",
            fixes.create_extension(ext.name),
        )
    detail = f"{ext.name} is not in pg_available_extensions on this server"
    return detail, fixes.install_contrib(ext.name, facts.major)
