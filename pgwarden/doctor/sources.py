"""Which slow-query sources are active on the target, and what each can see."""

from __future__ import annotations

from pgwarden.doctor.facts import DoctorFacts
from pgwarden.doctor.report import Check

SOURCES_IMPACT = (
    "without the server log, executions between two activity samples are seen only "
    "through pg_stat_statements: exact when a statement ran once in an interval, "
    "else the interval's mean (or its slowest call on PostgreSQL 17+ with "
    "slow_queries.statements_minmax_reset), never with parameter values or a plan"
)
SEES = {
    "server_log": "every execution over log_min_duration_statement, exact duration, "
    "plan with auto_explain",
    "activity": "statements still running at a sample (every {every:g} s): a lower "
    "bound of the duration, missing those shorter than the interval",
    "application": "what instrumented applications report: exact, their code only",
    "statements": "statements of this database per collection interval: exact when "
    "run once, else the mean over its calls; no parameters, plan or session",
}


def slow_query_sources(facts: DoctorFacts) -> Check:
    """Each source, on or off, and what it sees; ok when some source gives the
    durations of executions over the threshold (the server log or the derived)."""
    log = facts.log_source
    reads_log = log is not None and log.reads_log
    parts = [
        _server_log(facts),
        f"activity sampling: on ({SEES['activity'].format(every=facts.sample_every)})",
        f"application reports: when sent ({SEES['application']})",
        _derived(facts, reads_log),
    ]
    ok = reads_log or _derived_on(facts, reads_log)
    fix = None if ok else _fix(facts)
    return Check("slow_query_sources", ok, "; ".join(parts), fix, SOURCES_IMPACT)


def _fix(facts: DoctorFacts) -> str:
    log_fix = facts.log_source.fix if facts.log_source is not None else None
    if facts.pg_stat_statements != "readable":
        fix = "make pg_stat_statements readable (see the pg_stat_statements checks)"
    else:
        fix = "set slow_queries.statements_source = true"
    return f"{fix}, or have the server log read: {log_fix}" if log_fix else fix


def _server_log(facts: DoctorFacts) -> str:
    log = facts.log_source
    if log is None:
        return "server log: not looked up"
    if log.reads_log:
        return f"server log: on, {log.detail} ({SEES['server_log']})"
    why = log.detail.split(": ", 1)[-1]
    return f"server log: off ({why})"


def _derived_on(facts: DoctorFacts, reads_log: bool) -> bool:
    return (
        facts.statements_source
        and not reads_log
        and facts.pg_stat_statements == "readable"
    )


def _derived(facts: DoctorFacts, reads_log: bool) -> str:
    name = "derived from pg_stat_statements"
    if not facts.statements_source:
        return f"{name}: off (slow_queries.statements_source = false)"
    if facts.pg_stat_statements != "readable":
        return f"{name}: off (pg_stat_statements is {facts.pg_stat_statements})"
    if reads_log:
        return f"{name}: standing by (the server log sees every slow execution)"
    return f"{name}: on ({SEES['statements']}; interval maximum: {_maxima(facts)})"


def _maxima(facts: DoctorFacts) -> str:
    if facts.minmax_off is not None:
        return f"unavailable, {facts.minmax_off}"
    if facts.minmax_reset:
        return "on (min/max reset each cycle)"
    return "available, off (slow_queries.statements_minmax_reset)"
