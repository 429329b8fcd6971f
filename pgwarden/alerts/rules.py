"""The built-in rule pack: each rule turns :class:`Facts` into observations.

Thresholds come from :class:`~pgwarden.config.AlertSettings` (the plan's defaults);
each rule has a severity, a ``for`` duration (pending before firing), labels, a
description with the measured value and a runbook in ``docs/runbooks/<rule>.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from pgwarden.alerts import facts as src
from pgwarden.alerts import measures
from pgwarden.alerts.facts import Facts
from pgwarden.alerts.model import Observation, Severity, runbook_for
from pgwarden.config import AlertSettings, SlowQuerySettings
from pgwarden.observe.analysis import connections
from pgwarden.slowlog.severity import Thresholds

#: the cache hit ratio needs at least this many block accesses to mean anything
MIN_CACHE_BLOCKS = 100

Check = Callable[[Facts, AlertSettings, Thresholds], list[Observation]]


@dataclass(frozen=True)
class Rule:
    name: str
    severity: Severity
    for_: timedelta
    #: the input it reads; a tuple: any one of them is enough
    source: str | tuple[str, ...]
    check: Check
    help: str

    @property
    def runbook(self) -> str:
        return runbook_for(self.name)


def _obs(
    rule: str, severity: Severity, value: float, summary: str, description: str,
    **labels: str,
) -> Observation:  # fmt: skip
    return Observation(rule, severity, value, summary, description, labels)


def connection_utilisation(
    f: Facts, s: AlertSettings, t: Thresholds
) -> list[Observation]:
    """Server connections (from collected history) and reported application pools."""
    return [*_server_connections(f, s), *_pool_connections(f, s)]


def _server_connections(f: Facts, s: AlertSettings) -> list[Observation]:
    if f.database is None:
        return []
    conns = connections(f.database)
    if conns.utilisation is None:
        return []
    pct = 100 * conns.utilisation
    if pct <= s.connection_utilisation_pct:
        return []
    severity: Severity = "critical" if pct >= 95 else "warning"
    return [_obs(
        "connection_utilisation", severity, pct,
        f"connections at {pct:.0f} % of the available",
        f"{conns.total} client connections of {conns.available} available "
        f"(max_connections {conns.max_connections} minus {conns.reserved or 0} "
        f"reserved) = {pct:.1f} %, above {s.connection_utilisation_pct:g} %.",
    )]  # fmt: skip


def _pool_connections(f: Facts, s: AlertSettings) -> list[Observation]:
    found = []
    for pool in f.app_pools:
        if pool.utilisation is None:
            continue
        pct = 100 * pool.utilisation
        if pct <= s.connection_utilisation_pct:
            continue
        severity: Severity = "critical" if pct >= 95 and pool.waiting else "warning"
        found.append(_obs(
            "connection_utilisation", severity, pct,
            f"application pool {pool.source} at {pct:.0f} %",
            f"application pool {pool.source}: {pool.in_use} of {pool.size} "
            f"connections in use = {pct:.1f} %, {pool.waiting} request(s) waiting, "
            f"above {s.connection_utilisation_pct:g} % (reported "
            f"{max(0.0, (f.now - pool.reported_at).total_seconds()):.0f} s ago).",
            pool=pool.source,
        ))  # fmt: skip
    return found


def cache_hit_ratio(f: Facts, s: AlertSettings, t: Thresholds) -> list[Observation]:
    hits, reads = f.cache_hits, f.cache_reads
    if hits is None or reads is None or hits + reads < MIN_CACHE_BLOCKS:
        return []
    pct = 100.0 * hits / (hits + reads)
    if pct >= s.cache_hit_ratio_pct:
        return []
    return [_obs(
        "cache_hit_ratio", "warning", pct,
        f"cache hit ratio {pct:.1f} %",
        f"{pct:.1f} % of {hits + reads} block reads in the last "
        f"{s.cache_hit_window_minutes:g} min came from shared buffers, below "
        f"{s.cache_hit_ratio_pct:g} %.",
    )]  # fmt: skip


def slow_query_spike(f: Facts, s: AlertSettings, t: Thresholds) -> list[Observation]:
    if f.slow_per_minute <= s.slow_queries_per_minute:
        return []
    n = f.slow_per_minute
    return [_obs(
        "slow_query_spike", "warning", n, f"{n} slow queries per minute",
        f"{n} slow queries (>= {t.warning_ms:g} ms) in one minute, above "
        f"{s.slow_queries_per_minute} per minute.",
    )]  # fmt: skip


def slow_query(f: Facts, s: AlertSettings, t: Thresholds) -> list[Observation]:
    found = []
    for stmt in f.slow_statements:
        severity = t.classify(stmt.worst_ms)
        if severity is None:
            continue
        text = " ".join(stmt.query.split())[:160]
        found.append(_obs(
            "slow_query", severity, stmt.worst_ms,
            f"slow query {stmt.worst_ms:.0f} ms ({severity})",
            f"{stmt.executions} slow execution(s) in the last "
            f"{s.slow_query_window_minutes:g} min, slowest {stmt.worst_ms:.0f} ms: "
            f"{text}",
            query=stmt.fingerprint,
        ))  # fmt: skip
    return found


def index_bloat(f: Facts, s: AlertSettings, t: Thresholds) -> list[Observation]:
    found = []
    for idx in measures.sized_indexes(f, s.index_bloat_min_bytes):
        if idx.bloat_pct <= s.index_bloat_pct:
            continue
        name = f"{idx.schema_name}.{idx.index_name}"
        found.append(_obs(
            "index_bloat", "warning", idx.bloat_pct,
            f"index {name} {idx.bloat_pct:.0f} % bloated",
            f"index {name} on {idx.table_name}: about {idx.bloat_bytes} of "
            f"{idx.size_bytes} bytes ({idx.bloat_pct:.1f} %) are bloat, above "
            f"{s.index_bloat_pct:g} %; REINDEX CONCURRENTLY in the window.",
            index=name,
        ))  # fmt: skip
    return found


def long_transaction(f: Facts, s: AlertSettings, t: Thresholds) -> list[Observation]:
    longest = measures.longest_transaction_s(f)
    if longest is None or longest < s.long_transaction_minutes * 60:
        return []
    return [_obs(
        "long_transaction", "warning", longest,
        f"transaction open for {longest / 60:.1f} min",
        f"the oldest open transaction started {longest:.0f} s ago, longer than "
        f"{s.long_transaction_minutes:g} min; it holds back VACUUM.",
    )]  # fmt: skip


def idle_in_transaction(f: Facts, s: AlertSettings, t: Thresholds) -> list[Observation]:
    idle = measures.idle_in_transaction(f, s.idle_in_transaction_minutes * 60)
    if not idle:
        return []
    worst = max(idle, key=lambda x: x.state_s)
    return [_obs(
        "idle_in_transaction", "warning", worst.state_s,
        f"{len(idle)} session(s) idle in transaction",
        f"{len(idle)} session(s) idle in transaction for more than "
        f"{s.idle_in_transaction_minutes:g} min; longest pid {worst.pid} "
        f"({worst.usename}, {worst.application_name or 'no application_name'}) "
        f"for {worst.state_s:.0f} s.",
    )]  # fmt: skip


def blocked_sessions(f: Facts, s: AlertSettings, t: Thresholds) -> list[Observation]:
    blocked = measures.blocked(f, s.blocked_session_seconds)
    if not blocked:
        return []
    worst = max(blocked, key=lambda x: x.state_s)
    severity: Severity = "critical" if len(blocked) >= 5 else "warning"
    return [_obs(
        "blocked_sessions", severity, len(blocked),
        f"{len(blocked)} session(s) blocked by locks",
        f"{len(blocked)} session(s) have waited for a lock for more than "
        f"{s.blocked_session_seconds:g} s; longest pid {worst.pid} for "
        f"{worst.state_s:.0f} s: {(worst.query or '')[:120]}",
    )]  # fmt: skip


def replication_lag(f: Facts, s: AlertSettings, t: Thresholds) -> list[Observation]:
    return [
        _obs(
            "replication_lag", "critical" if r.lag_s >= 10 * s.replication_lag_seconds
            else "warning", r.lag_s, f"replica {r.name} {r.lag_s:.0f} s behind",
            f"replica {r.name} replays {r.lag_s:.1f} s behind the primary, more "
            f"than {s.replication_lag_seconds:g} s{_wal_behind(r.lag_bytes)}.",
            replica=r.name,
        )
        for r in f.replicas
        if r.lag_s > s.replication_lag_seconds
    ]  # fmt: skip


def _wal_behind(lag_bytes: int | None) -> str:
    return "" if lag_bytes is None else f" ({lag_bytes} bytes of WAL not replayed)"


def wraparound(f: Facts, s: AlertSettings, t: Thresholds) -> list[Observation]:
    margin = measures.wraparound_margin_pct(f)
    if margin is None or margin >= s.wraparound_margin_pct:
        return []
    severity: Severity = "emergency" if margin < 10 else "critical"
    return [_obs(
        "wraparound", severity, margin,
        f"transaction ID wraparound margin {margin:.1f} %",
        f"database {f.xid_database} is {f.xid_age} transactions old; "
        f"{margin:.1f} % of the XID space remains (alert below "
        f"{s.wraparound_margin_pct:g} %). VACUUM (FREEZE) it now.",
    )]  # fmt: skip


def statement_evictions(f: Facts, s: AlertSettings, t: Thresholds) -> list[Observation]:
    n = f.evictions_last_hour
    if n is None or n <= s.statement_evictions_per_hour:
        return []
    return [_obs(
        "statement_evictions", "warning", n,
        f"pg_stat_statements evicted entries {n} times in an hour",
        f"pg_stat_statements deallocated entries {n} times in the last hour "
        f"(alert above {s.statement_evictions_per_hour}); statistics of rare "
        "queries are lost. Raise pg_stat_statements.max.",
    )]  # fmt: skip


def error_rate(f: Facts, s: AlertSettings, t: Thresholds) -> list[Observation]:
    """Errors above a share of calls, once there are enough of them to mean it."""
    rates = f.error_rates
    if rates is None or rates.share is None or rates.errors < s.error_rate_min_errors:
        return []
    pct = 100 * rates.share
    if pct <= s.error_rate_pct:
        return []
    severity: Severity = "critical" if pct >= 10 * s.error_rate_pct else "warning"
    classes = ", ".join(f"{name} {n}" for name, n in rates.by_class.items())
    return [_obs(
        "error_rate", severity, pct,
        f"errors at {pct:.1f} % of calls",
        f"{rates.errors} errors in the last {s.error_rate_window_minutes:g} min = "
        f"{pct:.2f} % of {rates.calls} calls ({rates.calls_source}), above "
        f"{s.error_rate_pct:g} %: {classes}.",
    )]  # fmt: skip


def collector_silent(f: Facts, s: AlertSettings, t: Thresholds) -> list[Observation]:
    limit = timedelta(minutes=s.collector_silent_minutes)
    last = f.last_collect_at
    # never collected yet: the first cycle gets the same grace from registration
    since = last if last is not None else f.watched_since
    if since is not None and f.now - since < limit:
        return []
    age = "never" if last is None else f"{(f.now - last).total_seconds():.0f} s ago"
    value = -1.0 if last is None else (f.now - last).total_seconds()
    return [_obs(
        "collector_silent", "critical", value, "no data from the collector",
        f"the last collection cycle of {f.target} was {age}, more than "
        f"{s.collector_silent_minutes:g} min; every other rule is blind.",
    )]  # fmt: skip


_M = timedelta(minutes=1)
BUILTIN: tuple[Rule, ...] = (
    Rule("connection_utilisation", "warning", 5 * _M, (src.HISTORY, src.APP),
         connection_utilisation, "Connections above a share of the available."),
    Rule("cache_hit_ratio", "warning", 0 * _M, src.HISTORY, cache_hit_ratio,
         "Shared buffer cache hit ratio below a floor over a window."),
    Rule("slow_query_spike", "warning", 0 * _M, src.SLOWLOG, slow_query_spike,
         "More slow queries per minute than the threshold."),
    Rule("slow_query", "warning", 0 * _M, src.SLOWLOG, slow_query,
         "A slow statement, by severity (warning/critical/emergency)."),
    Rule("index_bloat", "warning", 0 * _M, src.BLOAT, index_bloat,
         "B-tree index bloat above a share, for indexes above a size."),
    Rule("long_transaction", "warning", 0 * _M, (src.SESSIONS, src.HISTORY),
         long_transaction,
         "A transaction open longer than the threshold."),
    Rule("idle_in_transaction", "warning", 0 * _M, src.SESSIONS,
         idle_in_transaction, "Sessions idle in transaction too long."),
    Rule("blocked_sessions", "warning", 0 * _M, src.SESSIONS, blocked_sessions,
         "Sessions waiting for locks held by others."),
    Rule("replication_lag", "warning", 2 * _M, src.REPLICATION, replication_lag,
         "A replica replaying behind the primary."),
    Rule("wraparound", "critical", 0 * _M, src.XID, wraparound,
         "Little transaction ID space left before wraparound."),
    Rule("statement_evictions", "warning", 0 * _M, src.HISTORY,
         statement_evictions, "pg_stat_statements evicting entries."),
    Rule("collector_silent", "critical", 0 * _M, src.COLLECTOR, collector_silent,
         "No collection cycle recently."),
    Rule("error_rate", "warning", 0 * _M, src.ERRORS, error_rate,
         "Errors above a share of calls (server log and application reports)."),
)  # fmt: skip
RULES: dict[str, Rule] = {r.name: r for r in BUILTIN}


def active_rules(settings: AlertSettings) -> list[Rule]:
    """The built-in rules minus the disabled ones, with ``for`` overrides applied."""
    from dataclasses import replace

    return [
        replace(r, for_=timedelta(minutes=settings.for_minutes[r.name]))
        if r.name in settings.for_minutes
        else r
        for r in BUILTIN
        if r.name not in settings.disabled_rules
    ]


def thresholds(settings: SlowQuerySettings) -> Thresholds:
    return Thresholds.from_settings(settings)


def evaluate_rules(
    rules: list[Rule], facts: Facts, settings: AlertSettings, t: Thresholds
) -> tuple[list[Observation], set[str]]:
    """Observations of every rule whose source is available, and those rules."""
    seen: list[Observation] = []
    evaluated: set[str] = set()
    for rule in rules:
        needs = (rule.source,) if isinstance(rule.source, str) else rule.source
        if not facts.sources.intersection(needs):
            continue
        evaluated.add(rule.name)
        seen += rule.check(facts, settings, t)
    return seen, evaluated
