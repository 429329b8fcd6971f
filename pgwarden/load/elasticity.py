"""Elasticity: the same load at several pool sizes, cache sizes, and with a replica.

The pool sweep holds users fixed and varies the application's pool; the throughput
curve gets a Universal Scalability Law fit and a recommended size (the smallest
that reaches 95 % of the best throughput measured, and no more than the fitted
peak N*). The cache sweep varies the application's LRU cache, the
``shared_buffers`` sweep the database's (:mod:`pgwarden.load.buffers`), and the
replica step routes read-only actions to a standby
(:mod:`pgwarden.load.readreplica`). Each ends in playbook lines with the thresholds
of ``elasticity.scale_pool_pct`` and ``elasticity.scale_cache_hit_pct``, gathered
by :func:`run_elasticity` into one playbook section (:mod:`pgwarden.load.playbook`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from pgwarden.errors import ConfigurationError
from pgwarden.load.engine import LoadSpec
from pgwarden.load.report import build_report
from pgwarden.load.run import check_writable_dsn, run_load
from pgwarden.load.usl import fit

GOOD_ENOUGH = 0.95
StepDone = Callable[[str, Any, dict[str, Any]], None]


@dataclass(frozen=True)
class Step:
    size: int
    throughput_per_s: float
    p95_ms: float
    p99_ms: float
    error_rate: float
    pool_utilisation: float
    pool_wait_share: float
    cache_hit_ratio: float | None
    db_cache_hit_ratio: float | None
    #: the generator, not the database, was the limit: a lower bound (report.generator)
    generator_saturated: bool = False
    generator_cpu_per_action_ms: float | None = None

    @classmethod
    def of(cls, size: int, report: dict[str, Any]) -> Step:
        generator = report.get("generator") or {}
        return cls(
            size,
            report["throughput_per_s"],
            report["overall"]["p95_ms"],
            report["overall"]["p99_ms"],
            report["errors"]["rate"],
            report["pool"]["utilisation"],
            report["pool"]["wait_share_of_latency"],
            report["app_cache"]["hit_ratio"],
            report["server"]["cache_hit_ratio"],
            bool(generator.get("saturated", False)),
            generator.get("cpu_per_action_ms"),
        )


@dataclass(frozen=True)
class Plan:
    """Which steps to run; an empty size list leaves its sweep out."""

    pool_sizes: Sequence[int] = ()
    cache_sizes: Sequence[int] = ()
    buffer_sizes: Sequence[str] = ()
    replica: bool = False
    replica_dsn: str | None = None
    scale_pool_pct: float = 70.0
    scale_cache_hit_pct: float = 50.0
    read_only: frozenset[str] = field(default_factory=frozenset)

    @property
    def with_replica(self) -> bool:
        return self.replica or self.replica_dsn is not None


def check_plan(spec: LoadSpec, plan: Plan, target: str) -> None:
    """Refuse a step the target cannot take before any sweep runs."""
    from pgwarden.load.buffers import check_sweep
    from pgwarden.load.readreplica import check_standby, primary_server

    if plan.replica and plan.replica_dsn:
        raise ConfigurationError("give --replica or --replica-dsn, not both")
    if plan.with_replica and not plan.read_only:
        raise ConfigurationError(
            f"--replica: scenario {spec.scenario.value!r} has no read-only actions "
            "to route to a replica"
        )
    check_writable_dsn(spec)
    if plan.buffer_sizes:
        check_sweep(spec, plan.buffer_sizes, target)
    if plan.replica_dsn:
        check_standby(plan.replica_dsn)
    elif plan.replica:
        primary_server(spec.dsn)


def run_elasticity(
    spec: LoadSpec, plan: Plan, target: str, done: StepDone | None = None
) -> dict[str, Any]:
    """Every step of ``plan`` in order, then the playbook section."""
    from pgwarden.load.buffers import analyse_buffers, sweep_shared_buffers
    from pgwarden.load.playbook import build_playbook

    result: dict[str, Any] = {"target": target, "users": spec.users}
    best = spec
    if plan.pool_sizes:
        steps = sweep(spec, "pool", plan.pool_sizes, target, done)
        result["pool"] = analyse_pool(steps, plan.scale_pool_pct)
        best = replace(spec, pool_size=result["pool"]["recommended_pool_size"])
    if plan.cache_sizes:
        steps = sweep(best, "cache", plan.cache_sizes, target, done)
        result["cache"] = analyse_cache(steps, plan.scale_cache_hit_pct)
    if plan.buffer_sizes:
        swept = sweep_shared_buffers(best, plan.buffer_sizes, target, done)
        result["shared_buffers"] = analyse_buffers(swept, plan.scale_cache_hit_pct)
    if plan.with_replica:
        result["replica"] = _replica_step(best, plan, target, done)
    result["playbook"] = build_playbook(
        result, plan.scale_pool_pct, plan.scale_cache_hit_pct, best.cache_size
    )
    return result


def _replica_step(
    spec: LoadSpec, plan: Plan, target: str, done: StepDone | None
) -> dict[str, Any]:
    from pgwarden.load.readreplica import compare_replica, embedded_standby

    if plan.replica_dsn:
        return compare_replica(spec, plan.replica_dsn, plan.read_only, target, done)
    with embedded_standby(spec.dsn) as standby:
        return compare_replica(spec, standby, plan.read_only, target, done)


def sizes_between(low: int, high: int, step: int) -> list[int]:
    """``low, low+step, …, high`` (``high`` always included)."""
    found = list(range(low, high + 1, max(step, 1)))
    return found if found and found[-1] == high else [*found, high]


def sweep(
    spec: LoadSpec,
    kind: str,
    sizes: Sequence[int],
    target: str,
    done: StepDone | None = None,
) -> list[Step]:
    """Run ``spec`` once per size of the ``pool`` or the ``cache``."""
    steps = []
    for size in sizes:
        changed = (
            replace(spec, pool_size=size)
            if kind == "pool"
            else replace(spec, cache_size=size)
        )
        report = build_report(run_load(changed), target)
        if done is not None:
            done(kind, size, report)
        steps.append(Step.of(size, report))
    return steps


def analyse_pool(steps: Sequence[Step], scale_pool_pct: float) -> dict[str, Any]:
    best = max(s.throughput_per_s for s in steps)
    enough = [s for s in steps if s.throughput_per_s >= GOOD_ENOUGH * best]
    recommended = min(s.size for s in enough) if enough else steps[0].size
    usl: dict[str, Any] | None = None
    try:
        model = fit([s.size for s in steps], [s.throughput_per_s for s in steps])
        usl = asdict(model)
        if model.n_star is not None and model.r2 >= 0.8:
            recommended = min(recommended, max(1, math.ceil(model.n_star)))
    except ValueError:
        pass
    at = min(steps, key=lambda s: abs(s.size - recommended))
    return {
        "steps": [asdict(s) for s in steps],
        "usl": usl,
        "recommended_pool_size": recommended,
        "playbook": _pool_advice(at, recommended, usl, scale_pool_pct),
    }


def analyse_cache(steps: Sequence[Step], scale_cache_hit_pct: float) -> dict[str, Any]:
    wanted = scale_cache_hit_pct / 100
    good = [s for s in steps if (s.cache_hit_ratio or 0.0) >= wanted]
    recommended = min(s.size for s in good) if good else None
    if recommended is None:
        largest = max(steps, key=lambda s: s.size)
        advice = (
            f"application cache hit ratio stays below {scale_cache_hit_pct:.0f} % up "
            f"to {largest.size} entries ({_pct(largest.cache_hit_ratio)}): the "
            "working set is larger; grow the cache further or cache other reads"
        )
    else:
        advice = (
            f"an application cache of {recommended} entries keeps the hit ratio at "
            f"or above {scale_cache_hit_pct:.0f} %; scale it with the number of "
            "active tenants"
        )
    return {
        "steps": [asdict(s) for s in steps],
        "recommended_cache_size": recommended,
        "playbook": [advice],
    }


def _pool_advice(
    at: Step, size: int, usl: dict[str, Any] | None, scale_pool_pct: float
) -> list[str]:
    lines = []
    use = at.pool_utilisation * 100
    peak = usl.get("n_star") if usl else None
    if use > scale_pool_pct:
        lines.append(
            f"pool utilisation {use:.0f} % > {scale_pool_pct:.0f} % at size {size}: "
            "the pool is saturated at this load; add connections up to the peak "
            "below, or add application instances"
        )
    else:
        lines.append(
            f"pool utilisation {use:.0f} % <= {scale_pool_pct:.0f} % at size {size}: "
            f"keep a pool of {size}"
        )
    if peak is not None:
        lines.append(
            f"the USL peak is near {peak:.0f} connections: beyond it more connections "
            "lower throughput; scale the database (CPU, a read replica) instead"
        )
    return lines


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"
