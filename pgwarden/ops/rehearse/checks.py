"""Pre-flight checks of a release, judged from facts gathered on the target (pure).

Each check has a status ``pass``, ``warn``, ``fail`` (blocks the release) or ``skip``
(could not be checked: missing privilege, extension or repository; the reason says
which), the observed value, the threshold and the fix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pgwarden.ops.rehearse.plan import CHECK_NAMES, Checks

Status = Literal["pass", "warn", "fail", "skip"]
WRAPAROUND_LIMIT = 2**31
GIB = 1024**3
RELEASABLE = ("approved", "scheduled")
IDLE_STATES = ("idle in transaction", "idle in transaction (aborted)")


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    observed: str
    threshold: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Facts:
    """What the pre-flight read of the target found; ``unavailable`` maps a check
    to the reason it could not be read."""

    target: str
    connect_ms: float
    server_version: int
    database: str
    database_bytes: int
    standby: bool
    sessions: Sequence[Mapping[str, Any]] = ()
    replicas: Sequence[Mapping[str, Any]] = ()
    invalid_indexes: Sequence[Mapping[str, Any]] = ()
    xid_age: int | None = None
    statements: Mapping[str, Any] | None = None
    repository: bool = False
    target_known: bool = False
    alerts: Sequence[Mapping[str, Any]] = ()
    change_request: Mapping[str, Any] | None = None
    change_request_id: int | None = None
    unavailable: Mapping[str, str] = field(default_factory=dict)


def _level(
    value: float, warn: float, fail: float, higher_is_worse: bool = True
) -> Status:
    if not higher_is_worse:
        value, warn, fail = -value, -warn, -fail
    if value >= fail:
        return "fail"
    return "warn" if value >= warn else "pass"


def reachable(facts: Facts, cfg: Checks) -> Check:
    status: Status = "warn" if facts.connect_ms >= cfg.connect_warn_ms else "pass"
    major = facts.server_version // 10000
    return Check(
        "reachable",
        status,
        f"PostgreSQL {major}, connected in {facts.connect_ms:.0f} ms",
        f"connects; warn at {cfg.connect_warn_ms:.0f} ms",
        "check the network path and max_connections before the window"
        if status != "pass"
        else "",
    )


def replication_lag(facts: Facts, cfg: Checks) -> Check:
    threshold = (
        f"warn {cfg.replication_lag_warn_s:g} s, fail {cfg.replication_lag_fail_s:g} s"
    )
    if facts.standby:
        return Check(
            "replication_lag",
            "fail",
            f"{facts.target} is a standby (read-only)",
            "the target is the primary",
            "point --dsn at the primary: a release runs there",
        )
    if not facts.replicas:
        return Check("replication_lag", "pass", "no standbys attached", threshold)
    worst = max(facts.replicas, key=lambda r: float(r["lag_s"]))
    lag = float(worst["lag_s"])
    status = _level(lag, cfg.replication_lag_warn_s, cfg.replication_lag_fail_s)
    return Check(
        "replication_lag",
        status,
        f"{worst['name']} {lag:.1f} s behind ({len(facts.replicas)} standby(s))",
        threshold,
        "wait for the standby to catch up (the release adds WAL it must replay); "
        "check its disk and network"
        if status != "pass"
        else "",
    )


def _oldest(
    sessions: Sequence[Mapping[str, Any]], states: Sequence[str]
) -> Mapping[str, Any] | None:
    found = [s for s in sessions if s["state"] in states]
    return max(found, key=lambda s: float(s["xact_s"])) if found else None


def _who(session: Mapping[str, Any]) -> str:
    app = session.get("application_name") or "no application_name"
    return f"pid {session['pid']} ({session.get('usename')}, {app})"


def long_running(facts: Facts, cfg: Checks) -> Check:
    threshold = (
        f"warn {cfg.long_running_warn_s:g} s, fail {cfg.long_running_fail_s:g} s"
    )
    oldest = _oldest(facts.sessions, ("active",))
    if oldest is None:
        return Check("long_running", "pass", "no active transactions", threshold)
    age = max(float(oldest["xact_s"]), float(oldest["query_s"]))
    status = _level(age, cfg.long_running_warn_s, cfg.long_running_fail_s)
    return Check(
        "long_running",
        status,
        f"oldest active transaction {age:.0f} s: {_who(oldest)}",
        threshold,
        "let it finish or cancel it (SELECT pg_cancel_backend(pid)): a DDL lock "
        "queues behind it and every query queues behind the DDL"
        if status != "pass"
        else "",
    )


def idle_in_transaction(facts: Facts, cfg: Checks) -> Check:
    threshold = (
        f"warn {cfg.idle_in_transaction_warn_s:g} s, "
        f"fail {cfg.idle_in_transaction_fail_s:g} s"
    )
    oldest = _oldest(facts.sessions, IDLE_STATES)
    if oldest is None:
        return Check("idle_in_transaction", "pass", "none", threshold)
    age = float(oldest["xact_s"])
    count = sum(1 for s in facts.sessions if s["state"] in IDLE_STATES)
    status = _level(age, cfg.idle_in_transaction_warn_s, cfg.idle_in_transaction_fail_s)
    return Check(
        "idle_in_transaction",
        status,
        f"{count} session(s); oldest open {age:.0f} s: {_who(oldest)}",
        threshold,
        "end it (SELECT pg_terminate_backend(pid)) and fix the application that "
        "leaves transactions open; set idle_in_transaction_session_timeout"
        if status != "pass"
        else "",
    )


def blocking_locks(facts: Facts, cfg: Checks) -> Check:
    blocked = [s for s in facts.sessions if s["blocking_pids"]]
    threshold = f"fail at {cfg.blocked_sessions_fail} waiting session(s)"
    if not blocked:
        return Check("blocking_locks", "pass", "no session waits on a lock", threshold)
    waits = "; ".join(
        f"pid {s['pid']} waits on {', '.join(str(p) for p in s['blocking_pids'])}"
        for s in blocked[:5]
    )
    status: Status = "fail" if len(blocked) >= cfg.blocked_sessions_fail else "warn"
    return Check(
        "blocking_locks",
        status,
        f"{len(blocked)} session(s) waiting: {waits}",
        threshold,
        "find the blocker (pgwarden alerts, pg_blocking_pids) and end it before "
        "the release takes its own locks",
    )


def invalid_indexes(facts: Facts, cfg: Checks) -> Check:
    found = facts.invalid_indexes
    threshold = f"warn at {cfg.invalid_indexes_warn}"
    if len(found) < cfg.invalid_indexes_warn:
        return Check("invalid_indexes", "pass", f"{len(found)} invalid", threshold)
    names = ", ".join(str(i["index_name"]) for i in found[:5])
    return Check(
        "invalid_indexes",
        "warn",
        f"{len(found)} invalid: {names}",
        threshold,
        "a failed CREATE INDEX CONCURRENTLY left them: DROP INDEX CONCURRENTLY "
        "each, then build it again (a release that creates it would fail)",
    )


def wraparound(facts: Facts, cfg: Checks) -> Check:
    threshold = (
        f"warn {cfg.wraparound_warn_pct:g} %, fail {cfg.wraparound_fail_pct:g} % "
        "of 2^31 transactions"
    )
    if facts.xid_age is None:
        return Check("wraparound", "skip", "no database visible", threshold)
    pct = 100.0 * facts.xid_age / WRAPAROUND_LIMIT
    status = _level(pct, cfg.wraparound_warn_pct, cfg.wraparound_fail_pct)
    return Check(
        "wraparound",
        status,
        f"oldest datfrozenxid age {facts.xid_age:,} ({pct:.1f} %)",
        threshold,
        "VACUUM (FREEZE) the oldest tables first: an anti-wraparound vacuum "
        "during the window blocks DDL"
        if status != "pass"
        else "",
    )


def pg_stat_statements(facts: Facts, cfg: Checks) -> Check:
    info = facts.statements
    threshold = "installed, tracking, not empty"
    fix = (
        "add pg_stat_statements to shared_preload_libraries and CREATE EXTENSION "
        "pg_stat_statements: without it the release's effect on queries is unseen"
    )
    if info is None or not info.get("installed"):
        return Check(
            "pg_stat_statements", "warn", f"not installed in {facts.database}",
            threshold, fix,
        )  # fmt: skip
    if info.get("track") == "none":
        return Check(
            "pg_stat_statements", "warn", "pg_stat_statements.track = none",
            threshold, "SET pg_stat_statements.track = top (ALTER SYSTEM, reload)",
        )  # fmt: skip
    count = int(info.get("count") or 0)
    if count == 0:
        return Check(
            "pg_stat_statements", "warn", "no statements tracked (just reset?)",
            threshold, "run the workload for a while before the release",
        )  # fmt: skip
    return Check(
        "pg_stat_statements",
        "pass",
        f"{count} statements tracked (version {info.get('version')})",
        threshold,
    )


def firing_alerts(facts: Facts, cfg: Checks) -> Check:
    threshold = "fail on critical or emergency, warn on others"
    if not facts.repository:
        return Check(
            "firing_alerts", "skip",
            "pgwarden is not initialised in the repository: no alert state",
            threshold, "run pgwarden init, pgwarden collect and pgwarden worker",
        )  # fmt: skip
    if not facts.target_known:
        return Check(
            "firing_alerts", "skip",
            f"pgwarden has not collected {facts.target}: no alert state",
            threshold, "run pgwarden collect and pgwarden worker for this target",
        )  # fmt: skip
    if not facts.alerts:
        return Check("firing_alerts", "pass", "none firing", threshold)
    severe = [a for a in facts.alerts if a["severity"] in ("critical", "emergency")]
    names = ", ".join(f"{a['rule']} ({a['severity']})" for a in facts.alerts[:5])
    return Check(
        "firing_alerts",
        "fail" if severe else "warn",
        f"{len(facts.alerts)} firing: {names}",
        threshold,
        "resolve the incident first (pgwarden alerts list); do not change a "
        "database that is already in trouble",
    )


def change_request(facts: Facts, cfg: Checks) -> Check:
    threshold = f"status {' or '.join(RELEASABLE)}"
    if facts.change_request_id is None:
        return Check(
            "change_request", "fail", "the plan names no change request",
            threshold,
            "pgwarden ccb request new --migration …, get it approved, then set "
            "change_request = ID in the plan",
        )  # fmt: skip
    if not facts.repository:
        return Check(
            "change_request", "skip",
            "pgwarden is not initialised in the repository: no change requests",
            threshold, "run pgwarden init and record the request with pgwarden ccb",
        )  # fmt: skip
    req = facts.change_request
    if req is None:
        return Check(
            "change_request", "fail",
            f"no change request {facts.change_request_id}",
            threshold, "check the id: pgwarden ccb request list",
        )  # fmt: skip
    if req["status"] in RELEASABLE:
        return Check(
            "change_request", "pass", f"request {req['id']} is {req['status']}",
            threshold,
        )  # fmt: skip
    return Check(
        "change_request",
        "fail",
        f"request {req['id']} is {req['status']}",
        threshold,
        f"the board must approve it first: pgwarden ccb request show {req['id']}",
    )


def disk_headroom(facts: Facts, cfg: Checks, needed_bytes: int | None) -> Check:
    """Free disk (from the plan) against what the rehearsal measured the release
    needs: the rewritten relations (old and new copies coexist until commit) plus
    the WAL written."""
    db = f"database {facts.database_bytes / GIB:.2f} GiB"
    threshold = "warn above half the free space, fail above it"
    if cfg.disk_free_gb is None:
        return Check(
            "disk_headroom", "skip",
            f"{db}; free disk is not visible through SQL",
            threshold, "set disk_free_gb under [checks] (from df or the console)",
        )  # fmt: skip
    if needed_bytes is None:
        return Check(
            "disk_headroom", "skip",
            f"{db}; free {cfg.disk_free_gb:g} GiB; nothing rehearsed to measure",
            threshold, "rehearse the steps to measure the space they need",
        )  # fmt: skip
    free = cfg.disk_free_gb * GIB
    status = _level(needed_bytes, free / 2, free)
    return Check(
        "disk_headroom",
        status,
        f"{db}; the release needs {needed_bytes / GIB:.3f} GiB of "
        f"{cfg.disk_free_gb:g} GiB free",
        threshold,
        "free or add disk space before the window; rewrite big tables in batches"
        if status != "pass"
        else "",
    )


#: the checks in report order (disk_headroom is judged after the rehearsal)
CHECKS: dict[str, Callable[[Facts, Checks], Check]] = {
    "reachable": reachable,
    "replication_lag": replication_lag,
    "long_running": long_running,
    "idle_in_transaction": idle_in_transaction,
    "blocking_locks": blocking_locks,
    "invalid_indexes": invalid_indexes,
    "wraparound": wraparound,
    "pg_stat_statements": pg_stat_statements,
    "firing_alerts": firing_alerts,
    "change_request": change_request,
}
NAMES = (*CHECKS, "disk_headroom")
assert NAMES == CHECK_NAMES
PRIVILEGE_FIX = (
    "grant the role pg_monitor (or pg_read_all_stats) so pgwarden can see this"
)


def judge(facts: Facts, cfg: Checks, needed_bytes: int | None) -> list[Check]:
    """Every check, in order; a check the plan skips or that could not read its
    facts is ``skip`` with the reason."""
    found = [fn(facts, cfg) for fn in CHECKS.values()]
    found.append(disk_headroom(facts, cfg, needed_bytes))
    return [_overridden(c, facts, cfg) for c in found]


def _overridden(check: Check, facts: Facts, cfg: Checks) -> Check:
    if check.name in cfg.skip:
        return Check(check.name, "skip", "skipped by the plan", check.threshold)
    reason = facts.unavailable.get(check.name)
    if reason is not None:
        return Check(check.name, "skip", reason, check.threshold, PRIVILEGE_FIX)
    return check
