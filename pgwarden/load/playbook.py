"""The scaling playbook section of an elasticity result: thresholds, signals, steps.

Each rule names a signal, its threshold (``elasticity.scale_pool_pct``,
``elasticity.scale_cache_hit_pct``, or what the sweep measured), the value
measured, whether it says to scale, and the step to take. The same section is
printed as a table, written to JSON and shown in the HTML report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pgwarden.load.readreplica import GAIN_PCT, P95_GAIN_PCT, replica_helps


def build_playbook(
    result: dict[str, Any],
    scale_pool_pct: float,
    scale_cache_hit_pct: float,
    cache_size: int,
) -> dict[str, Any]:
    rules = [
        rule
        for rule in (
            _pool_rule(result.get("pool"), scale_pool_pct),
            _cache_rule(result.get("cache"), scale_cache_hit_pct, cache_size),
            _buffers_rule(result.get("shared_buffers"), scale_cache_hit_pct),
            _replica_rule(result.get("replica")),
            _generator_rule(result),
        )
        if rule is not None
    ]
    steps = [
        line
        for kind in ("pool", "cache", "shared_buffers", "replica")
        for line in (result.get(kind) or {}).get("playbook", [])
    ]
    return {
        "thresholds": {
            "pool_utilisation_pct": scale_pool_pct,
            "cache_hit_pct": scale_cache_hit_pct,
            "replica_gain_pct": GAIN_PCT,
        },
        "rules": rules,
        "steps": steps,
    }


def _rule(
    signal: str, threshold: str, measured: str, scale: bool, step: str
) -> dict[str, Any]:
    return {
        "signal": signal,
        "threshold": threshold,
        "measured": measured,
        "scale": scale,
        "step": step,
    }


def _generator_rule(result: dict[str, Any]) -> dict[str, Any] | None:
    """Whether the load generator, not the database, limited any step of a sweep:
    then those steps' figures are lower bounds on what the database can do."""
    steps = [
        (kind, step)
        for kind in ("pool", "cache", "shared_buffers")
        for step in (result.get(kind) or {}).get("steps", [])
    ]
    if not steps:
        return None
    limited = [f"{kind} {step['size']}" for kind, step in steps
               if step.get("generator_saturated")]  # fmt: skip
    if not limited:
        return _rule("load generator", "saturated in no step", "not saturated",
                     False, "the figures measure the database")  # fmt: skip
    return _rule(
        "load generator", "saturated in no step", f"saturated at {', '.join(limited)}",
        True, "those steps' figures are a lower bound on the database's capacity: run "
        "again with more engine workers (--workers) or hosts (--distributed)",
    )  # fmt: skip


def _pool_rule(pool: dict[str, Any] | None, pct: float) -> dict[str, Any] | None:
    if not pool:
        return None
    size = pool["recommended_pool_size"]
    at = _nearest(pool["steps"], size)
    use = at["pool_utilisation"] * 100
    peak = (pool.get("usl") or {}).get("n_star")
    knee = f"; USL peak N* {peak:.0f}" if peak is not None else ""
    return _rule(
        "pool utilisation",
        f"> {pct:.0f} %{knee}",
        f"{use:.0f} % at pool {size}",
        use > pct,
        _pool_step(use > pct, size, peak),
    )


def _pool_step(saturated: bool, size: int, peak: float | None) -> str:
    if not saturated:
        return f"keep a pool of {size}"
    if peak is not None and peak >= size + 1:
        return f"raise the pool toward {peak:.0f}, then add application instances"
    return (
        "the pool is at its throughput peak: add application instances or "
        "database CPU, not connections"
    )


def _cache_rule(
    cache: dict[str, Any] | None, pct: float, cache_size: int
) -> dict[str, Any] | None:
    if not cache:
        return None
    at = _nearest(cache["steps"], cache_size)
    hit = at["cache_hit_ratio"]
    low = hit is not None and hit * 100 < pct
    wanted = cache["recommended_cache_size"]
    return _rule(
        "application cache hit ratio",
        f"< {pct:.0f} %",
        f"{_pct(hit)} at {at['size']} entries",
        low,
        f"grow the application cache to {wanted} entries"
        if low and wanted is not None
        else "cache other reads: no size tried reaches the threshold"
        if low
        else "keep the cache size",
    )


def _buffers_rule(buffers: dict[str, Any] | None, pct: float) -> dict[str, Any] | None:
    if not buffers:
        return None
    best = max(buffers["steps"], key=lambda s: s["db_cache_hit_ratio"] or 0.0)
    hit = best["db_cache_hit_ratio"]
    low = hit is None or hit * 100 < pct
    return _rule(
        "database cache hit ratio",
        f"< {pct:.0f} %",
        f"{_pct(hit)} at shared_buffers {best['size']}",
        low,
        "add memory: the working set does not fit"
        if low
        else f"set shared_buffers = {buffers['recommended_shared_buffers']}",
    )


def _replica_rule(replica: dict[str, Any] | None) -> dict[str, Any] | None:
    if not replica:
        return None
    gain, p95 = replica["throughput_change_pct"], replica["p95_change_pct"]
    helps = replica_helps(replica)
    return _rule(
        "read replica gain",
        f"throughput >= +{GAIN_PCT:.0f} % or p95 <= -{P95_GAIN_PCT:.0f} %",
        f"throughput {_signed(gain)}, p95 {_signed(p95)}",
        helps,
        "add a read replica and route read-only actions to it"
        if helps
        else "no replica needed at this load",
    )


def _nearest(steps: Sequence[dict[str, Any]], size: int) -> dict[str, Any]:
    return min(steps, key=lambda s: abs(s["size"] - size))


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f} %"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"
