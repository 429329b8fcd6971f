"""The share of query executions under the latency objective (no I/O).

pg_stat_statements has no histogram: per statement and interval pgwarden knows calls
and total time. The executions of an interval are taken as log-normal with the
interval's mean and the statement's stddev/mean ratio.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pgwarden.ops.review.metrics import percent


def lognormal_below(mean_ms: float, cv: float, limit_ms: float) -> float:
    """P(X < limit) for a log-normal X with this mean and stddev/mean ratio."""
    if mean_ms <= 0:
        return 1.0
    if cv <= 0:
        return 1.0 if mean_ms < limit_ms else 0.0
    sigma2 = math.log1p(cv * cv)
    mu = math.log(mean_ms) - sigma2 / 2
    z = (math.log(limit_ms) - mu) / math.sqrt(sigma2)
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


@dataclass(frozen=True)
class MeanBin:
    """Calls of one statement whose interval means fall in one narrow band."""

    queryid: int
    calls: int
    total_ms: float

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0


def latency(
    bins: Sequence[MeanBin],
    spread: Mapping[int, float],
    default_cv: float,
    slo_ms: float,
    log_ms: float,
    logged_over_slo: int,
    logged_over_log: int,
    target_pct: float | None = None,
) -> dict[str, Any]:
    """Share of executions under ``slo_ms``, estimated per statement interval.

    ``spread``: stddev/mean per statement (pg_stat_statements); ``logged_*``:
    executions the slow query log holds at or over ``slo_ms`` and ``log_ms``.
    """
    calls = sum(b.calls for b in bins)
    under = over_log = 0.0
    measured = 0
    for b in bins:
        cv = spread.get(b.queryid)
        measured += b.calls if cv is not None else 0
        cv = default_cv if cv is None else cv
        under += b.calls * lognormal_below(b.mean_ms, cv, slo_ms)
        over_log += b.calls * (1 - lognormal_below(b.mean_ms, cv, log_ms))
    estimate = under / calls if calls else None
    bound = 1 - logged_over_slo / calls if calls else None
    share = estimate
    if estimate is not None and bound is not None and bound < estimate:
        share = bound
    return {
        "slo_ms": slo_ms,
        "share_under_pct": percent(share, 2),
        "estimate_pct": percent(estimate, 2),
        "upper_bound_pct": percent(bound, 2),
        "bounded_by_log": share is not None and share != estimate,
        "executions": calls,
        "mean_ms": round(sum(b.total_ms for b in bins) / calls, 3) if calls else None,
        "statements": len({b.queryid for b in bins}),
        "spread_measured_pct": percent(measured / calls, 1) if calls else None,
        "log_threshold_ms": log_ms,
        "predicted_over_log": round(over_log),
        "logged_over_log": logged_over_log,
        "logged_over_slo": logged_over_slo,
        "target_pct": target_pct,
        "met": None
        if share is None or target_pct is None
        else 100 * share >= target_pct,
        "method": (
            "pg_stat_statements gives per statement and collection interval only "
            "the number of calls and their total time, not a histogram. Each "
            "statement's calls in each interval are assumed log-normal with the "
            "interval's mean and the statement's stddev/mean ratio from "
            "pg_stat_statements (cumulative since its reset, so it also holds the "
            f"spread between intervals; {default_cv:g} where unknown); the share "
            f"under {slo_ms:g} ms is summed weighted by calls. Intervals are the "
            "raw ones while kept, hourly roll-ups after that; top-level statements "
            "only, pgwarden's own left out. Cross-check: executions the slow query "
            "log recorded at or over the objective are known to be over it, which "
            "bounds the share from above; the model's predicted count over the "
            f"log threshold ({log_ms:g} ms) is shown next to the logged one."
        ),
    }
