"""Checks of server settings: preload libraries, timing, query ids and the log."""

from __future__ import annotations

from pgwarden.doctor import fixes
from pgwarden.doctor.facts import DoctorFacts, split_list
from pgwarden.doctor.report import Check

PRELOAD_IMPACT = (
    "no query statistics: top queries, query advice, slow-query trends and workload "
    "baselines are unavailable"
)
IO_IMPACT = (
    "no I/O time per query or database (blk_read_time stays 0), so I/O-bound "
    "queries cannot be told from CPU-bound ones"
)
QUERY_ID_IMPACT = (
    "activity samples and log lines carry no query_id, so slow samples cannot be "
    "linked to pg_stat_statements"
)
LOG_IMPACT = (
    "slow queries are captured by activity sampling, which misses statements "
    "shorter than the sampling interval, and derived from pg_stat_statements, exact "
    "only for a statement run once per collection interval; on managed services "
    "(RDS, Cloud SQL, Neon) the server log is not readable and pgwarden always "
    "falls back to sampling and pg_stat_statements"
)
SOURCE_IMPACT = (
    "slow queries come from activity sampling, which misses statements shorter than "
    "the sampling interval and sees no statement's final duration, and from "
    "pg_stat_statements deltas (see the slow_query_sources check)"
)
EXPLAIN_IMPACT = (
    "optional: plans of slow statements are not logged; pgwarden runs EXPLAIN on "
    "demand instead"
)
LOG_SETTINGS = ("log_min_duration_statement", "log_destination", "logging_collector")
HIDDEN = "shared_preload_libraries is hidden from this role (pg_read_all_settings)"


def pgss_preload(facts: DoctorFacts) -> Check:
    fix = fixes.preload("pg_stat_statements", facts.platform)
    loaded = _loaded(facts, "pg_stat_statements", "pg_stat_statements.max")
    if loaded is None:
        detail = f"{HIDDEN} and pg_stat_statements is not installed to test it"
        return Check("pg_stat_statements_preload", False, detail, fix, PRELOAD_IMPACT)
    if loaded:
        detail = "pg_stat_statements is loaded (shared_preload_libraries)"
        return Check("pg_stat_statements_preload", True, detail, None, PRELOAD_IMPACT)
    value = facts.settings.get("shared_preload_libraries")
    detail = "pg_stat_statements is not in shared_preload_libraries" + (
        f" ({value!r})" if value is not None else ""
    )
    return Check("pg_stat_statements_preload", False, detail, fix, PRELOAD_IMPACT)


def _loaded(facts: DoctorFacts, library: str, marker_setting: str) -> bool | None:
    """From shared_preload_libraries, else from the library's own settings."""
    preloaded = facts.preloaded(library)
    if preloaded is not None:
        return preloaded
    if marker_setting in facts.settings:
        return True
    if library == "pg_stat_statements" and facts.pg_stat_statements != "not_installed":
        return facts.pg_stat_statements != "not_loaded"
    return None


def track_io_timing(facts: DoctorFacts) -> Check:
    value = facts.settings.get("track_io_timing")
    ok = value == "on"
    detail = f"track_io_timing = {value or 'unknown'}"
    fix = None if ok else _set(facts, "track_io_timing", "on")
    return Check("track_io_timing", ok, detail, fix, IO_IMPACT)


def _set(facts: DoctorFacts, name: str, value: str) -> str:
    return fixes.alter_system({name: value}, facts.platform, restart=False)


def compute_query_id(facts: DoctorFacts) -> Check:
    value = facts.settings.get("compute_query_id")
    pgss = _loaded(facts, "pg_stat_statements", "pg_stat_statements.max")
    ok = value in ("on", "regress") or (value == "auto" and bool(pgss))
    if value is None:
        detail = "compute_query_id " + (
            "does not exist before PostgreSQL 14" if facts.major < 14 else "unreadable"
        )
    elif value == "auto":
        loaded = "loaded" if pgss else "not loaded"
        detail = f"compute_query_id = auto and pg_stat_statements is {loaded}"
    else:
        detail = f"compute_query_id = {value}"
    fix = None if ok else _set(facts, "compute_query_id", "on")
    return Check("compute_query_id", ok, detail, fix, QUERY_ID_IMPACT)


def slow_query_log(facts: DoctorFacts) -> Check:
    wanted = _log_changes(facts)
    found = ", ".join(f"{name} = {_shown(facts, name)}" for name in LOG_SETTINGS)
    fix = None
    if wanted:
        restart = "logging_collector" in wanted
        fix = fixes.alter_system(wanted, facts.platform, restart=restart)
    return Check("slow_query_log", not wanted, found, fix, LOG_IMPACT)


def slow_query_source(facts: DoctorFacts) -> Check:
    """Which source the slow query log reads, and why (the fix when it is not the
    server log)."""
    source = facts.log_source
    if source is None:
        detail = "not looked up"
        return Check("slow_query_source", False, detail, None, SOURCE_IMPACT)
    fix = None if source.reads_log else source.fix
    return Check("slow_query_source", source.reads_log, source.detail, fix,
                 SOURCE_IMPACT)  # fmt: skip


def _shown(facts: DoctorFacts, name: str) -> str:
    value = facts.settings.get(name, "unknown")
    milliseconds = name == "log_min_duration_statement" and value.isdigit()
    return f"{value}ms" if milliseconds else value


def _log_changes(facts: DoctorFacts) -> dict[str, str]:
    """The settings to change so slow statements reach a parseable server log."""
    changes: dict[str, str] = {}
    duration = facts.settings.get("log_min_duration_statement", "-1")
    if not duration.lstrip("-").isdigit() or int(duration) < 0:
        changes["log_min_duration_statement"] = "'100ms'"
    destinations = split_list(facts.settings.get("log_destination", ""))
    structured = "jsonlog" if facts.major >= 15 else "csvlog"
    if not {"jsonlog", "csvlog"} & set(destinations):
        kept = [d for d in destinations if d != "stderr"]
        changes["log_destination"] = "'" + ",".join([*kept, "stderr", structured]) + "'"
    if facts.settings.get("logging_collector") != "on":
        changes["logging_collector"] = "on"
    return changes


def auto_explain(facts: DoctorFacts) -> Check:
    loaded = _loaded(facts, "auto_explain", "auto_explain.log_min_duration")
    session = facts.settings.get("session_preload_libraries", "")
    loaded = loaded or "auto_explain" in split_list(session)
    detail = "auto_explain is " + ("loaded" if loaded else "not loaded")
    fix = None
    if not loaded:
        fix = fixes.preload("auto_explain", facts.platform) + (
            "; then set auto_explain.log_min_duration = '500ms'"
        )
    return Check("auto_explain", bool(loaded), detail, fix, EXPLAIN_IMPACT)
