"""A run as data: the stable JSON document that reports render and CI compares.

Top-level keys of schema ``pgwarden.load/1``: ``schema, scenario, model, target,
started_at, settings, overall, service_time, throughput_per_s, errors, actions,
pool, app_cache, server, bottleneck, timeline, dropped, replica, generator``
(``replica`` is null unless read-only actions ran on a read replica). Latencies
are in milliseconds; shares and ratios are 0..1. Errors are counted apart, not in
the latency histograms.

``generator`` is the load generator's own cost, so a run that measured pgwarden's
engine rather than the database says so: ``workers``, ``cores`` (of the generator
host), ``driver`` (``asyncpg`` for the SQL fast path, ``psycopg``, or ``mixed``),
``driver_note`` (why the fast path was not taken, or null), ``cpu_s`` (CPU seconds
of the engine's worker processes in the measured window), ``actions`` (the
actions the workers ran in that window, measured or not: the open model's late
ones too), ``cpu_per_action_ms``,
``cpu_share_max`` (the busiest worker's CPU time over the window: 1.0 is a whole
core), ``runnable_share_max`` (the busiest worker's time running or waiting for a
CPU; null where the platform does not say), ``server_busy_share`` (mean active
sessions over the pool size; null without samples), ``loop_lag_p99_ms`` (how late
the event loop woke a 50 ms sleeper), ``start_lateness_p99_ms`` (open model: how
far behind schedule actions started; null in the closed model), ``saturated``
(a worker at 90 % of a core, or running or waiting for a CPU 90 % of the time,
or loop lag p99 at 20 ms, or starts 100 ms behind schedule while the server's
sessions were active less than half the time),
``reason`` (the evidence, or null), ``lower_bound`` (true when saturated: the
throughput and latencies are a lower bound on the database's capacity),
``target_rate_per_s`` (the open model's rate, else the throughput reached),
``workers_needed`` and ``hosts_needed`` (engine workers at no more than 70 % of
a core each for that rate, and hosts of ``cores`` cores for them).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict
from typing import Any

from pgwarden import pg
from pgwarden.load.bottleneck import Facts, analyse
from pgwarden.load.histogram import Histogram
from pgwarden.load.outcome import ERROR_CLASSES
from pgwarden.load.run import LoadRun

SCHEMA = "pgwarden.load/1"
#: a worker busy (or waiting for a CPU) this share of the window is saturated
SATURATED_SHARE = 0.9
#: event-loop lag (p99) that means the loop cannot keep up
LAG_SATURATED_MS = 20.0
#: open model: starts this late while connections were free: the generator lags
LATE_SATURATED_MS = 100.0
#: below this share of the pool's sessions active, the server had idle capacity
SERVER_IDLE = 0.5
#: a worker is planned at no more than this share of a core
WORKER_HEADROOM = 0.7


def build_report(run: LoadRun, target: str) -> dict[str, Any]:
    spec = run.spec
    seconds = spec.duration_s
    failed = sum(sum(c.values()) for c in run.errors.values())
    done = run.overall.count
    return {
        "schema": SCHEMA,
        "scenario": run.scenario,
        "model": spec.model,
        "target": target,
        "started_at": run.started_at.isoformat(),
        "settings": _settings(run),
        "overall": asdict(run.overall.summary()),
        "service_time": asdict(run.service.summary()),
        "throughput_per_s": round(done / seconds, 2),
        "errors": _errors(run, failed, done),
        "actions": {
            name: _action(run, name, h) for name, h in sorted(run.actions.items())
        }
        | {
            name: _action(run, name, Histogram())
            for name in sorted(set(run.errors) - set(run.actions))
        },
        "pool": _pool(run),
        "app_cache": _cache(run),
        "server": run.server.as_dict(),
        "bottleneck": analyse(facts(run)),
        "timeline": _timeline(run),
        "dropped": run.dropped,
        "replica": _replica(run),
        "generator": generator(run),
    }


def generator(run: LoadRun) -> dict[str, Any]:
    """The generator's CPU per action and whether it, not the database, was
    saturated; then how many workers and hosts the rate would need."""
    spec = run.spec
    failed = sum(sum(c.values()) for c in run.errors.values())
    actions = run.generator_actions or run.overall.count + failed
    per_action = run.generator_cpu_s / actions if actions else None
    shares = run.generator_shares or [0.0]
    runnable = [r for r in run.generator_runnable if r > 0]
    cpu_max = max(shares)
    runnable_max = max(runnable) if runnable else None
    lag = run.loop_lag.percentile_ms(99)
    late = run.lateness.percentile_ms(99) if spec.model == "open" else None
    reasons = []
    if cpu_max >= SATURATED_SHARE:
        reasons.append(f"an engine worker used {cpu_max:.0%} of a core")
    elif runnable_max is not None and runnable_max >= SATURATED_SHARE:
        reasons.append(
            f"an engine worker was running or waiting for a CPU {runnable_max:.0%} "
            f"of the time (it got {cpu_max:.0%} of a core)"
        )
    if lag >= LAG_SATURATED_MS:
        reasons.append(f"its event loop woke {lag:.0f} ms late (p99)")
    busy = _server_busy(run)
    idle = busy < SERVER_IDLE if busy is not None else _utilisation(run) < 0.7
    if late is not None and late >= LATE_SATURATED_MS and idle:
        reasons.append(
            f"actions started {late:.0f} ms behind schedule (p99) while the "
            "server had idle capacity"
            + (
                f" (its sessions active {busy:.0%} of the time)"
                if busy is not None
                else ""
            )
        )
    cores = os.cpu_count() or 1
    target = spec.rate if spec.rate is not None else done_rate(run)
    workers = len(run.generator_shares) or spec.workers
    needed = None
    if per_action is not None:
        needed = max(1, math.ceil(per_action * target / WORKER_HEADROOM))
        if reasons:
            needed = max(needed, workers + 1)
    drivers = sorted(run.drivers)
    return {
        "workers": workers,
        "cores": cores,
        "driver": drivers[0] if len(drivers) == 1 else "mixed" if drivers else None,
        "driver_note": run.driver_notes[0] if run.driver_notes else None,
        "cpu_s": round(run.generator_cpu_s, 3),
        "actions": actions,
        "cpu_per_action_ms": None if per_action is None else round(per_action * 1e3, 4),
        "cpu_share_max": round(cpu_max, 3),
        "runnable_share_max": None if runnable_max is None else round(runnable_max, 3),
        "server_busy_share": None if busy is None else round(busy, 3),
        "loop_lag_p99_ms": round(lag, 3),
        "start_lateness_p99_ms": None if late is None else round(late, 3),
        "saturated": bool(reasons),
        "reason": "; ".join(reasons) or None,
        "lower_bound": bool(reasons),
        "target_rate_per_s": round(target, 2),
        "workers_needed": needed,
        "hosts_needed": None if needed is None else math.ceil(needed / cores),
    }


def _server_busy(run: LoadRun) -> float | None:
    """Mean active sessions over the pool: how busy the server kept the load's
    connections (None without samples)."""
    if not run.server.samples or not run.pool_size:
        return None
    return min(run.server.active_mean / run.pool_size, 1.0)


def done_rate(run: LoadRun) -> float:
    return run.overall.count / run.spec.duration_s if run.spec.duration_s else 0.0


def _generator_evidence(g: dict[str, Any]) -> str:
    cost = (
        f"{g['cpu_per_action_ms']} ms of generator CPU per action, busiest worker "
        f"at {g['cpu_share_max']:.0%} of a core ({g['driver']})"
        if g["cpu_per_action_ms"] is not None
        else "no actions completed"
    )
    if not g["saturated"]:
        return f"not saturated: {cost}"
    need = g["workers_needed"]
    hosts = g["hosts_needed"]
    where = f" on {hosts} hosts of {g['cores']} cores" if hosts and hosts > 1 else ""
    return (
        f"the load generator, not the database, was the limit: {g['reason']}; "
        f"{cost}. The figures are a lower bound on the database's capacity; "
        f"{need} engine workers (--workers {need}){where} would be needed for "
        f"{g['target_rate_per_s']:g} actions/s"
    )


def facts(run: LoadRun) -> Facts:
    server = run.server
    locks = [w for w in server.wait_events if w.type == "Lock"]
    top = server.statements[0] if server.statements else None
    gen = generator(run)
    return Facts(
        pool_utilisation=_utilisation(run),
        pool_wait_share=_wait_share(run),
        pool_wait_p95_ms=run.pool_wait.percentile_ms(95),
        pool_exhausted=sum(c.get("pool_exhausted", 0) for c in run.errors.values()),
        active_samples=server.active_samples,
        lock_wait_share=server.wait_share("Lock"),
        top_lock_wait=f"Lock/{locks[0].event}" if locks else None,
        io_wait_share=server.wait_share("IO"),
        db_cache_hit=server.cache_hit_ratio,
        on_cpu_share=server.on_cpu_share,
        machine_cpu_busy=server.machine_cpu_busy,
        server_cpu_cores=server.server_cpu_cores,
        cores=server.cores,
        top_statement_share=top.share if top else 0.0,
        top_statement=top.query if top else None,
        generator_saturated=gen["saturated"],
        generator_share=max(gen["cpu_share_max"], gen["runnable_share_max"] or 0.0),
        generator_evidence=_generator_evidence(gen),
    )


def _settings(run: LoadRun) -> dict[str, Any]:
    spec = run.spec
    return {
        "users": spec.users,
        "duration_s": spec.duration_s,
        "rate_per_s": spec.rate,
        "think_ms": spec.think_ms,
        "ramp_up_s": spec.ramp_up_s,
        "warmup_s": spec.warmup,
        "pool_size": spec.pool_size,
        "pool_timeout_s": spec.pool_timeout_s,
        "cache_size": spec.cache_size,
        "workers": spec.workers,
        "seed": spec.seed,
    }


def _errors(run: LoadRun, failed: int, done: int) -> dict[str, Any]:
    by_class: dict[str, int] = dict.fromkeys(ERROR_CLASSES, 0)
    for counts in run.errors.values():
        for kind, n in counts.items():
            by_class[kind] += n
    attempts = failed + done
    return {
        "total": failed,
        "rate": round(failed / attempts, 4) if attempts else 0.0,
        "by_class": by_class,
    }


def _action(run: LoadRun, name: str, hist: Histogram) -> dict[str, Any]:
    errors = dict(run.errors.get(name, {}))
    return asdict(hist.summary()) | {
        "throughput_per_s": round(hist.count / run.spec.duration_s, 2),
        "errors": sum(errors.values()),
        "errors_by_class": errors,
    }


def _utilisation(run: LoadRun) -> float:
    capacity = run.pool_size * run.spec.duration_s
    return round(min(run.pool_busy_s / capacity, 1.0), 4) if capacity else 0.0


def _wait_share(run: LoadRun) -> float:
    if run.latency_total_s <= 0:
        return 0.0
    return round(min(run.pool_wait_total_s / run.latency_total_s, 1.0), 4)


def _pool(run: LoadRun) -> dict[str, Any]:
    return {
        "size": run.pool_size,
        "utilisation": _utilisation(run),
        "wait": asdict(run.pool_wait.summary()),
        "wait_share_of_latency": _wait_share(run),
        "max_waiting": run.pool_max_waiting,
    }


def _replica(run: LoadRun) -> dict[str, Any] | None:
    spec = run.spec
    if spec.replica_dsn is None or run.replica_server is None:
        return None
    capacity = run.replica_pool_size * spec.duration_s
    busy = round(min(run.replica_pool_busy_s / capacity, 1.0), 4) if capacity else 0.0
    return {
        "target": pg.describe(spec.replica_dsn),
        "pool": {"size": run.replica_pool_size, "utilisation": busy},
        "server": run.replica_server.as_dict(),
    }


def _cache(run: LoadRun) -> dict[str, Any]:
    lookups = run.cache_hits + run.cache_misses
    return {
        "capacity": run.cache_capacity,
        "hits": run.cache_hits,
        "misses": run.cache_misses,
        "hit_ratio": round(run.cache_hits / lookups, 4) if lookups else None,
    }


def _timeline(run: LoadRun) -> list[dict[str, Any]]:
    size = run.pool_size or 1
    return [
        {
            "t": i + 1,
            "throughput": s.count,
            "errors": s.errors,
            "p50_ms": round(s.latency.percentile_ms(50), 3),
            "p95_ms": round(s.latency.percentile_ms(95), 3),
            "p99_ms": round(s.latency.percentile_ms(99), 3),
            "pool_in_use": round(s.pool_busy_s, 2),
            "pool_utilisation": round(min(s.pool_busy_s / size, 1.0), 4),
        }
        for i, s in enumerate(run.seconds)
    ]
