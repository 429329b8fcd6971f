"""DORA figures from recorded deployments: change fail rate, deployment frequency,
lead time for changes, time to restore."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from pgwarden.alerts.stats import percentile

OUTCOMES = ("success", "rolled-back", "hotfix")


@dataclass(frozen=True)
class Dora:
    days: float
    deployments: int
    failed: int
    change_fail_rate_pct: float | None
    success_pct: float | None
    per_week: float
    lead_time_p50_hours: float | None
    time_to_restore_p50_hours: float | None
    target_success_pct: float
    meets_target: bool | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def figures(
    deployments: Sequence[Mapping[str, Any]],
    since: datetime,
    until: datetime,
    target_success_pct: float = 95,
) -> Dora:
    """From rows with ``deployed_at``, ``outcome``, ``submitted_at`` (lead time
    start) and ``restored_at`` (failed ones, when service was back)."""
    rows = [d for d in deployments if since <= d["deployed_at"] <= until]
    days = max((until - since) / timedelta(days=1), 1e-9)
    failed = [d for d in rows if d["outcome"] != "success"]
    fail = 100 * len(failed) / len(rows) if rows else None
    success = None if fail is None else 100 - fail
    lead = [_hours(d.get("submitted_at"), d["deployed_at"]) for d in rows]
    restore = [_hours(d["deployed_at"], d.get("restored_at")) for d in failed]
    return Dora(
        days=round(days, 2),
        deployments=len(rows),
        failed=len(failed),
        change_fail_rate_pct=fail,
        success_pct=success,
        per_week=round(len(rows) * 7 / days, 2),
        lead_time_p50_hours=percentile([x for x in lead if x is not None], 50),
        time_to_restore_p50_hours=percentile([x for x in restore if x is not None], 50),
        target_success_pct=target_success_pct,
        meets_target=None if success is None else success > target_success_pct,
    )


def _hours(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start) / timedelta(hours=1), 2)
