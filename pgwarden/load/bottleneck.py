"""Which resource limited a run, and the evidence for it.

Each candidate gets a score in [0, 1] from the run's own measurements; the
highest one at or above :data:`THRESHOLD` is named the bottleneck. Below it, no
resource was saturated and throughput was set by the users and their think time.
A saturated load generator is conclusive (the run measured the generator, not the
database) unless actions failed for want of a pooled connection; an unsaturated
one is listed below the threshold with its cost.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

THRESHOLD = 0.25
CPU_BUSY = 0.85
ENOUGH_SAMPLES = 20  # wait-event shares from fewer active sessions count less


@dataclass(frozen=True)
class Facts:
    """The measurements the analysis reads (shares are 0..1)."""

    pool_utilisation: float = 0.0
    pool_wait_share: float = 0.0
    pool_wait_p95_ms: float = 0.0
    pool_exhausted: int = 0
    active_samples: int = 0
    lock_wait_share: float = 0.0
    top_lock_wait: str | None = None
    io_wait_share: float = 0.0
    db_cache_hit: float | None = None
    on_cpu_share: float = 0.0
    machine_cpu_busy: float | None = None
    server_cpu_cores: float | None = None
    cores: int = 1
    top_statement_share: float = 0.0
    top_statement: str | None = None
    generator_saturated: bool = False
    generator_share: float = 0.0  # busiest worker's share of a core (or runnable)
    generator_evidence: str | None = None


@dataclass(frozen=True)
class Finding:
    resource: str
    score: float
    evidence: str


def analyse(f: Facts) -> dict[str, Any]:
    """``{"resource", "evidence", "candidates": [...]}``, strongest first."""
    checks = (_generator, _pool, _locks, _io, _cpu, _statement)
    found = sorted(
        (c for c in (check(f) for check in checks) if c),
        key=lambda c: c.score,
        reverse=True,
    )
    top = found[0] if found and found[0].score >= THRESHOLD else None
    return {
        "resource": top.resource if top else "none",
        "evidence": top.evidence
        if top
        else "no resource was saturated: throughput followed the users and "
        "their think time",
        "candidates": [asdict(c) for c in found],
    }


def _generator(f: Facts) -> Finding | None:
    if f.generator_evidence is None:
        return None
    if f.generator_saturated:  # conclusive, unless actions found no connection
        return Finding("load generator", 0.99, f.generator_evidence)
    score = round(min(f.generator_share, 1.0) * (THRESHOLD - 0.05), 3)
    return Finding("load generator", score, f.generator_evidence)


def _pool(f: Facts) -> Finding | None:
    score = f.pool_wait_share * (1.0 if f.pool_utilisation >= 0.7 else 0.5)
    if f.pool_exhausted:
        score = 1.0  # actions failed for want of a connection: conclusive
    if score <= 0:
        return None
    evidence = (
        f"connections busy {f.pool_utilisation:.0%} of the time; waiting for one "
        f"took {f.pool_wait_share:.0%} of action latency (p95 wait "
        f"{f.pool_wait_p95_ms:.1f} ms)"
    )
    if f.pool_exhausted:
        evidence += f"; {f.pool_exhausted} actions found no connection in time"
    return Finding("connection pool", round(min(score, 1.0), 3), evidence)


def _locks(f: Facts) -> Finding | None:
    if f.lock_wait_share <= 0:
        return None
    which = f" ({f.top_lock_wait})" if f.top_lock_wait else ""
    evidence = (
        f"{f.lock_wait_share:.0%} of {f.active_samples} active sessions sampled "
        "waited on locks"
    )
    score = f.lock_wait_share * _confidence(f)
    return Finding("lock waits", round(score, 3), evidence + which)


def _io(f: Facts) -> Finding | None:
    miss = 0.0 if f.db_cache_hit is None else max(0.0, 0.9 - f.db_cache_hit)
    score = f.io_wait_share * _confidence(f) + miss
    if score <= 0:
        return None
    hit = "n/a" if f.db_cache_hit is None else f"{f.db_cache_hit:.1%}"
    evidence = (
        f"{f.io_wait_share:.0%} of {f.active_samples} active sessions sampled "
        "waited on I/O; "
        f"buffer cache hit ratio {hit}"
    )
    return Finding("I/O", round(min(score, 1.0), 3), evidence)


def _confidence(f: Facts) -> float:
    return min(1.0, f.active_samples / ENOUGH_SAMPLES)


def _cpu(f: Facts) -> Finding | None:
    if f.machine_cpu_busy is None or f.machine_cpu_busy < CPU_BUSY:
        return None
    score = f.machine_cpu_busy * max(f.on_cpu_share, 0.5)
    server = (
        f"; server backends used {f.server_cpu_cores:.2f} cores"
        if f.server_cpu_cores is not None
        else ""
    )
    evidence = (
        f"machine CPU {f.machine_cpu_busy:.0%} busy on {f.cores} cores (load "
        f"generator included){server}; {f.on_cpu_share:.0%} of active sessions "
        "sampled were on CPU, not waiting"
    )
    return Finding("CPU", round(score, 3), evidence)


def _statement(f: Facts) -> Finding | None:
    if f.top_statement is None or f.top_statement_share < 0.3:
        return None
    text = " ".join(f.top_statement.split())[:120]
    evidence = (
        f"one statement took {f.top_statement_share:.0%} of statement time: {text}"
    )
    return Finding(
        "a single statement", round(f.top_statement_share * 0.8, 3), evidence
    )
