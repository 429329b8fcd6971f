"""Thin reads for a post-launch review: the repository's history of the period and,
when the target answers, its statement spread and index usage."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.config import Settings
from pgwarden.errors import PgwardenError, TargetError
from pgwarden.ops.review import measures as review_measures
from pgwarden.ops.review.business import (
    QUERIES,
    Computed,
    check_query,
    one_number,
    previous_span,
)
from pgwarden.ops.review.latency import MeanBin
from pgwarden.ops.review.store import rows

logger = logging.getLogger(__name__)

#: width of the bands of ln(interval mean) calls are grouped in (about 5 %)
BAND = 0.05


@dataclass
class Facts:
    """What one review reads, before any figure is computed."""

    cycles: list[datetime] = field(default_factory=list)
    first_cycle: datetime | None = None  # pgwarden's first cycle of the target
    restarts: list[tuple[datetime, datetime]] = field(default_factory=list)
    bins: list[MeanBin] = field(default_factory=list)
    spread: dict[int, float] = field(default_factory=dict)
    database: dict[str, Any] = field(default_factory=dict)
    slow: dict[str, int] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    indexes: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    #: business measures' readings of the period and of the one before it
    measures: list[dict[str, Any]] = field(default_factory=list)
    previous_measures: list[dict[str, Any]] = field(default_factory=list)
    #: adoption figures computed by the configured queries (by measure name)
    computed: dict[str, Computed] = field(default_factory=dict)
    #: error rates (the read of pgwarden.observe) of the period and the one before
    error_rates: dict[str, Any] | None = None
    previous_error_rates: dict[str, Any] | None = None
    error_rates_reason: str | None = None


def repository(
    repo: psycopg.Connection[Any],
    target_id: int,
    start: datetime,
    end: datetime,
    slo_ms: float,
    log_ms: float,
) -> Facts:
    """The period's cycles, statements, database deltas, runs, alerts and changes."""
    from pgwarden.ops.ccb import board
    from pgwarden.sqltext import own_queryids

    span = {"target": target_id, "start": start, "end": end}
    texts = {int(r["queryid"]): r["query"] for r in rows(repo, "texts", span)}
    bins = rows(
        repo,
        "statement_bins",
        span | {"exclude": sorted(own_queryids(texts)), "width": BAND},
    )
    slow = rows(repo, "slow_counts", span | {"slo_ms": slo_ms, "log_ms": log_ms})[0]
    return Facts(
        cycles=[r["ts"] for r in rows(repo, "cycles", span)],
        first_cycle=rows(repo, "first_cycle", span)[0]["ts"],
        restarts=[(r["from_ts"], r["to_ts"]) for r in rows(repo, "restarts", span)],
        bins=[
            MeanBin(int(b["queryid"]), int(b["calls"]), float(b["total_ms"]))
            for b in bins
        ],
        database=rows(repo, "database_sums", span)[0],
        slow={k: int(v or 0) for k, v in slow.items()},
        runs=rows(repo, "maintenance_runs", span),
        alerts=rows(repo, "alerts", span),
        deployments=board.deployments(repo, start),
        actions=board.open_actions(repo),
        **outcomes(repo, target_id, start, end),
    )


def outcomes(
    repo: psycopg.Connection[Any], target_id: int, start: datetime, end: datetime
) -> dict[str, Any]:
    """Business measures' readings and error rates of the period and the one
    before it; error rates the repository cannot give are a reason, not zeros."""
    from pgwarden.observe.errors import error_rates

    before, _ = previous_span(start, end)
    found = review_measures.readings(repo, target_id, before, end)
    out: dict[str, Any] = {
        "measures": [r for r in found if r["recorded_at"] >= start],
        "previous_measures": [r for r in found if r["recorded_at"] < start],
    }
    try:
        out["error_rates"] = error_rates(repo, target_id, start, end).as_dict()
        out["previous_error_rates"] = error_rates(
            repo, target_id, before, start
        ).as_dict()
    except PgwardenError as exc:
        out["error_rates_reason"] = f"error rates not read: {exc}"
    return out


def adoption(
    target: psycopg.Connection[Any] | None,
    settings: Settings,
    start: datetime,
    end: datetime,
    failed: str | None = None,
) -> dict[str, Computed]:
    """Run each configured adoption query for the period and the one before it,
    read-only under the statement timeout; a failure is its reason."""
    found = {}
    for name, setting in QUERIES.items():
        text = getattr(settings.reviews, setting.split(".")[1])
        if not text:
            continue
        if target is None:
            found[name] = Computed(error=failed or "the target was not read")
            continue
        try:
            check_query(setting, text)
            before, _ = previous_span(start, end)
            found[name] = Computed(
                _run_query(target, text, start, end, settings),
                _run_query(target, text, before, start, settings),
            )
        except (PgwardenError, psycopg.Error) as exc:
            found[name] = Computed(error=_first_line(exc))
    return found


def _run_query(
    target: psycopg.Connection[Any],
    text: str,
    start: datetime,
    end: datetime,
    settings: Settings,
) -> float:
    timeout = str(int(settings.statement_timeout_ms or 5000))
    with target.transaction(), target.cursor() as cur:
        cur.execute(pg.query("measures", "read_only"))
        cur.execute(pg.query("measures", "local_timeout"), {"ms": timeout})
        cur.execute(text, {"start": start, "end": end})
        return one_number(cur.fetchall() if cur.description else [])


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]


def spread(target: psycopg.Connection[Any]) -> dict[int, float]:
    """stddev/mean per statement from the target's pg_stat_statements."""
    with pg.guarded("statement spread (pg_stat_statements)"):
        found = pg.fetch_all(target, pg.query("review", "spread"))
    return {int(r["queryid"]): float(r["cv"]) for r in found if r["cv"] is not None}


def index_share(
    target: psycopg.Connection[Any],
    repo: psycopg.Connection[Any],
    target_id: int,
    end: datetime,
    settings: Settings,
) -> dict[str, Any]:
    """The plan's index efficiency: share of indexes without a scan (advise)."""
    from pgwarden.advise import gather_catalog, gather_history
    from pgwarden.advise.health import efficiency, usage_rows
    from pgwarden.advise.health import unused_indexes as unused

    days = settings.index_health.unused_days
    catalog = gather_catalog(target)
    history = gather_history(repo, target_id, end - timedelta(days=days), end)
    found = unused(catalog.indexes, history, days, end, catalog.stats_reset)
    usage = usage_rows(catalog.indexes, history, found)
    slo = settings.slo
    eff = efficiency(
        usage, slo.unused_index_pct, slo.unused_index_after_days, history.covered_days
    )
    return {
        **eff.as_dict(),
        "unused_indexes": [f"{u.schema}.{u.index}" for u in usage if u.unused][:30],
        "method": (
            f"An index is unused with no scan in the {days} days before the period "
            "ended, summed from pgwarden's per-interval idx_scan deltas (the index "
            "health report's rule, pgwarden indexes health); primary keys, unique "
            "and constraint indexes are never unused. Share = unused / all indexes "
            "of the target at generation time; the objective applies once the "
            f"history covers {slo.unused_index_after_days} days. Scans on replicas "
            "are not counted."
        ),
    }


def from_target(
    facts: Facts,
    target_dsn: str,
    repo: psycopg.Connection[Any],
    target_id: int,
    end: datetime,
    settings: Settings,
    start: datetime | None = None,
) -> Facts:
    """Add what only the target knows; a target that does not answer is a note."""
    try:
        conn = pg.connect(
            target_dsn, statement_timeout_ms=settings.statement_timeout_ms
        )
    except TargetError as exc:
        facts.notes.append(
            f"target not read ({exc}): latency spread assumed, "
            "unused-index share unknown"
        )
        if start is not None:
            facts.computed = adoption(None, settings, start, end, "target not read")
        return facts
    with conn:
        if start is not None:
            facts.computed = adoption(conn, settings, start, end)
        try:
            facts.spread = spread(conn)
        except TargetError as exc:
            facts.notes.append(f"latency spread assumed: {exc}")
        try:
            facts.indexes = index_share(conn, repo, target_id, end, settings)
        except TargetError as exc:
            facts.notes.append(f"unused-index share unknown: {exc}")
    return facts
