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
from pgwarden.errors import TargetError
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
    )


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
        return facts
    with conn:
        try:
            facts.spread = spread(conn)
        except TargetError as exc:
            facts.notes.append(f"latency spread assumed: {exc}")
        try:
            facts.indexes = index_share(conn, repo, target_id, end, settings)
        except TargetError as exc:
            facts.notes.append(f"unused-index share unknown: {exc}")
    return facts
