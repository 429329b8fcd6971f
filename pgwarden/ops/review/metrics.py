"""The figures of a post-launch review, from rows (no I/O).

Each function returns plain data with a ``method`` sentence saying how the figure
is measured; the review prints them under "How it was measured". Availability is in
:mod:`review_uptime`, the latency objective in :mod:`review_latency`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pgwarden.observe.analysis import ratio


def percent(value: float | None, digits: int = 3) -> float | None:
    """A share (0..1) as a rounded percentage."""
    return None if value is None else round(100 * value, digits)


def database(sums: Mapping[str, Any], cache_target_pct: float | None) -> dict[str, Any]:
    """Cache hit ratio and error rates from the summed pg_stat_database deltas."""
    hit, read = sums.get("blks_hit"), sums.get("blks_read")
    commits, rollbacks = sums.get("xact_commit") or 0, sums.get("xact_rollback") or 0
    cache = ratio(hit, read)
    rollback = ratio(rollbacks, commits) if commits + rollbacks else None
    return {
        "cache": {
            "hit_ratio_pct": percent(cache, 2),
            "blks_hit": hit,
            "blks_read": read,
            "target_pct": cache_target_pct,
            "met": None
            if cache is None or cache_target_pct is None
            else 100 * cache > cache_target_pct,
            "method": (
                "blks_hit / (blks_hit + blks_read) of pg_stat_database, summed over "
                "the period's collected intervals (hourly roll-ups and the hour "
                "being collected): shared buffer hits only, the OS page cache "
                "counts as a read."
            ),
        },
        "errors": {
            "transactions": commits + rollbacks,
            "rollbacks": rollbacks,
            "rollback_pct": percent(rollback, 3),
            "deadlocks": sums.get("deadlocks") or 0,
            "temp_files": sums.get("temp_files") or 0,
            "statement_errors": None,
            "method": (
                "xact_rollback / (xact_commit + xact_rollback) and deadlocks of "
                "pg_stat_database over the period; a rollback may be the "
                "application's choice, so the rate is a proxy for errors. "
                "PostgreSQL does not count failed statements: they are in the "
                "server log only (log_min_error_statement), not collected."
            ),
        },
    }


# -- maintenance, incidents, changes, actions -------------------------------------


def maintenance(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    by_status: dict[str, int] = {}
    by_operation: dict[str, int] = {}
    for r in runs:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
        by_operation[r["operation"]] = by_operation.get(r["operation"], 0) + 1
    manual = [r for r in runs if r["trigger"] == "manual"]
    failed = [r for r in runs if r["status"] in ("failed", "timeout", "cancelled")]
    return {
        "runs": len(runs),
        "by_status": by_status,
        "by_operation": by_operation,
        "scheduled": len(runs) - len(manual),
        "interventions": len(manual),
        "failed": [_run(r) for r in failed[:20]],
        "manual": [_run(r) for r in manual[:20]],
        "method": (
            "pgwarden.maintenance_runs started in the period; an intervention is a "
            "manual run (pgwarden maintain run), failed counts failed, timed-out "
            "and cancelled runs."
        ),
    }


def _run(r: Mapping[str, Any]) -> dict[str, Any]:
    where = f"{r['schema_name']}.{r['table_name']}"
    if r.get("index_name"):
        where += f"/{r['index_name']}"
    return {
        "operation": r["operation"],
        "on": where,
        "status": r["status"],
        "started_at": r["started_at"].isoformat(),
        "error": r.get("error"),
    }


def incidents(
    alerts: Sequence[Mapping[str, Any]], ack_target: timedelta
) -> dict[str, Any]:
    from pgwarden.alerts.stats import summarise

    stats = {s.severity: s.as_dict() for s in summarise(alerts, ack_target)}
    every = stats.get("all", {})
    unacked = [a for a in alerts if a.get("acked_at") is None]
    minutes = ack_target.total_seconds() / 60
    within = every.get("acked_within_target_pct")
    return {
        "alerts": len(alerts),
        "incidents": sum(a["severity"] in ("critical", "emergency") for a in alerts),
        "by_severity": {k: v for k, v in stats.items() if k != "all"},
        "mtta_min": _minutes(every.get("mtta_s")),
        "mttr_min": _minutes(every.get("mttr_s")),
        "acked_within_target_pct": None if within is None else round(within, 1),
        "ack_target_min": minutes,
        "not_acknowledged": len(unacked),
        "unresolved": sum(a.get("resolved_at") is None for a in alerts),
        "met": None if within is None else within >= 100,
        "method": (
            "Alerts of the target that fired in the period. MTTA: mean of "
            "acknowledged - fired over the acknowledged ones; MTTR: mean of "
            "resolved - fired over the resolved ones; the share acknowledged "
            f"within {minutes:g} min counts every alert that fired (one never "
            "acknowledged is not within). Incidents: critical and emergency."
        ),
    }


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 2)


def changes(dora: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **dict(dora),
        "method": (
            "Deployments recorded with pgwarden ccb deployed in the period (the "
            "board's, for every target of the repository); success "
            "rate = successful / all (a rollback or hotfix is a failed change), "
            "the same figures as pgwarden ccb dora."
        ),
    }


def actions(
    open_items: Sequence[Mapping[str, Any]], period_end: datetime
) -> dict[str, Any]:
    end_day = period_end.date()
    overdue = [a for a in open_items if a["due"] < end_day]
    return {
        "open": len(open_items),
        "overdue": len(overdue),
        "open_items": [
            {
                "id": a["id"],
                "title": a["title"],
                "owner": a["owner"],
                "due": a["due"].isoformat(),
                "overdue": a["due"] < end_day,
                "measure": a.get("measure"),
            }
            for a in open_items[:30]
        ],
        "method": (
            "Action items of the change control board still open when the review "
            "was generated, carried over; overdue when due before the period ended. "
            "An item that follows a measure shows its figure and trend."
        ),
    }


# -- comparison with the previous review ------------------------------------------

HEADLINE = (
    ("availability_pct", ("availability", "availability_pct")),
    ("slo_share_pct", ("latency", "share_under_pct")),
    ("cache_hit_pct", ("cache", "hit_ratio_pct")),
    ("unused_index_pct", ("indexes", "unused_pct")),
    ("alerts", ("incidents", "alerts")),
    ("mtta_min", ("incidents", "mtta_min")),
    ("mttr_min", ("incidents", "mttr_min")),
    ("change_success_pct", ("changes", "success_pct")),
    ("rollback_pct", ("errors", "rollback_pct")),
    ("deadlocks", ("errors", "deadlocks")),
    ("open_actions", ("actions", "open")),
)


def headline(report: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, (section, field) in HEADLINE:
        found[name] = (report.get(section) or {}).get(field)
    return found


def trend(
    current: Mapping[str, Any], previous: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Each headline figure now, in the previous review, and the change."""
    if previous is None:
        return {"previous": None, "figures": []}
    now, then = headline(current), headline(previous)
    rows = []
    for name, _ in HEADLINE:
        a, b = now[name], then.get(name)
        delta = None
        if isinstance(a, int | float) and isinstance(b, int | float):
            delta = round(a - b, 3)
        rows.append({"figure": name, "now": a, "previous": b, "change": delta})
    period = previous.get("period", {})
    return {
        "previous": {
            "label": period.get("label"),
            "start": period.get("start"),
            "end": period.get("end"),
        },
        "figures": rows,
    }
