"""A run as data: the stable JSON document that reports render and CI compares.

Top-level keys of schema ``pgwarden.load/1``: ``schema, scenario, model, target,
started_at, settings, overall, service_time, throughput_per_s, errors, actions,
pool, app_cache, server, bottleneck, timeline, dropped, replica`` (``replica`` is
null unless read-only actions ran on a read replica). Latencies are in
milliseconds; shares and ratios are 0..1. Errors are counted apart, not in the
latency histograms.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pgwarden import pg
from pgwarden.load.bottleneck import Facts, analyse
from pgwarden.load.histogram import Histogram
from pgwarden.load.outcome import ERROR_CLASSES
from pgwarden.load.run import LoadRun

SCHEMA = "pgwarden.load/1"


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
    }


def facts(run: LoadRun) -> Facts:
    server = run.server
    locks = [w for w in server.wait_events if w.type == "Lock"]
    top = server.statements[0] if server.statements else None
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
