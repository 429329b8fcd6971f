"""USL fit, run comparison, bottleneck analysis, safety rule, histograms."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pgwarden.load.bottleneck import Facts, analyse
from pgwarden.load.compare import compare
from pgwarden.load.elasticity import Step, analyse_cache, analyse_pool, sizes_between
from pgwarden.load.engine import LoadSpec
from pgwarden.load.histogram import Histogram
from pgwarden.load.outcome import classify
from pgwarden.load.safety import is_embedded, is_loopback
from pgwarden.load.scenario import ScenarioRef
from pgwarden.load.usl import fit


def _usl(n: float, sigma: float, kappa: float, lam: float) -> float:
    return lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


def test_usl_fit_recovers_sigma_and_kappa_from_synthetic_data() -> None:
    ns = [1, 2, 4, 8, 16, 32, 48, 64, 100]
    noise = [1.01, 0.99, 1.0, 1.015, 0.985, 1.0, 1.01, 0.99, 1.0]
    xs = [_usl(n, 0.05, 0.002, 120.0) * e for n, e in zip(ns, noise, strict=True)]
    model = fit(ns, xs)
    assert model.sigma == pytest.approx(0.05, abs=0.015)
    assert model.kappa == pytest.approx(0.002, abs=0.0005)
    assert model.lam == pytest.approx(120, rel=0.05)
    assert model.n_star == pytest.approx(21.8, rel=0.15)
    assert model.r2 > 0.98


def test_usl_fit_of_linear_scaling_has_no_peak() -> None:
    model = fit([1, 2, 4, 8], [10, 20, 40, 80])
    assert model.sigma == pytest.approx(0, abs=1e-9)
    assert model.kappa == pytest.approx(0, abs=1e-9)
    assert model.n_star is None
    with pytest.raises(ValueError, match="three"):
        fit([1, 2], [1, 2])


def _step(size: int, tput: float, use: float = 0.5, hit: float = 0.6) -> Step:
    return Step(size, tput, 10.0, 20.0, 0.0, use, 0.1, hit, 0.99)


def test_pool_sweep_recommends_the_smallest_size_near_the_best() -> None:
    sizes = sizes_between(10, 100, 10)
    assert sizes == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    steps = [_step(n, _usl(n, 0.03, 0.0008, 50.0), use=0.9) for n in sizes]
    result = analyse_pool(steps, scale_pool_pct=70)
    assert result["usl"]["n_star"] == pytest.approx(34.8, rel=0.05)
    assert result["recommended_pool_size"] in (30, 35)
    assert "90 % > 70 %" in result["playbook"][0]
    cache = analyse_cache([_step(10, 1, hit=0.2), _step(100, 1, hit=0.55)], 50)
    assert cache["recommended_cache_size"] == 100


def _report(p95: float, tput: float, rate: float = 0.0) -> dict[str, Any]:
    return {
        "overall": {"p95_ms": p95},
        "throughput_per_s": tput,
        "errors": {"rate": rate},
        "actions": {"search": {"p95_ms": p95}, "sign_in": {"p95_ms": 5.0}},
    }


def test_compare_flags_p95_growth_throughput_loss_and_errors() -> None:
    base = _report(10.0, 100.0)
    assert not any(c.regression for c in compare(base, copy.deepcopy(base), 10))
    slower = compare(base, _report(12.0, 100.0), 10)
    flagged = {(c.subject, c.metric) for c in slower if c.regression}
    assert flagged == {("overall", "p95_ms"), ("search", "p95_ms")}
    assert [c.change_pct for c in slower if c.subject == "search"] == [20.0]
    assert any(c.regression for c in compare(base, _report(10.0, 80.0), 10))
    assert any(c.regression for c in compare(base, _report(10.0, 100.0, 0.05), 10))
    assert not any(c.regression for c in compare(base, _report(10.5, 95.0), 10))


def test_bottleneck_names_the_pool_when_callers_wait_for_connections() -> None:
    found = analyse(
        Facts(pool_utilisation=0.97, pool_wait_share=0.7, pool_wait_p95_ms=40)
    )
    assert found["resource"] == "connection pool"
    assert (
        "busy 97%" in found["evidence"] and "70% of action latency" in found["evidence"]
    )


def test_bottleneck_names_lock_waits_and_ignores_thin_samples() -> None:
    locks = Facts(
        active_samples=40,
        lock_wait_share=0.8,
        top_lock_wait="Lock/relation",
        pool_utilisation=0.3,
        pool_wait_share=0.01,
    )
    assert analyse(locks)["resource"] == "lock waits"
    assert "Lock/relation" in analyse(locks)["evidence"]
    thin = Facts(active_samples=1, io_wait_share=1.0, db_cache_hit=1.0)
    assert analyse(thin)["resource"] == "none"
    cpu = Facts(machine_cpu_busy=0.98, on_cpu_share=0.9, active_samples=30)
    assert analyse(cpu)["resource"] == "CPU"


def test_actions_failing_for_a_connection_name_the_pool_even_on_a_busy_cpu() -> None:
    facts = Facts(
        machine_cpu_busy=1.0,
        on_cpu_share=1.0,
        active_samples=30,
        pool_exhausted=5,
        pool_utilisation=1.0,
        pool_wait_share=0.2,
    )
    result = analyse(facts)
    assert result["resource"] == "connection pool"
    assert "5 actions found no connection" in result["evidence"]
    assert [c["resource"] for c in result["candidates"]][:2] == [
        "connection pool",
        "CPU",
    ]


def test_only_a_loopback_pgwarden_conf_counts_as_embedded() -> None:
    assert is_loopback("postgresql://u:p@127.0.0.1:5432/db")
    assert is_loopback("host=localhost dbname=x")
    assert not is_loopback("postgresql://u:p@db.example.com/db")
    assert not is_loopback("host=127.0.0.1,db.example.com dbname=x")
    assert is_embedded("/d/pgdata/pgwarden.conf", "/d/pgdata")
    assert not is_embedded("/d/pgdata/postgresql.conf", "/d/pgdata")
    assert not is_embedded("/etc/pg/pgwarden.conf", "/var/lib/pg/main")
    assert not is_embedded(None, "/d/pgdata")


def test_histograms_merge_exactly_and_errors_are_classified() -> None:
    from psycopg import errors as pgerrors
    from psycopg_pool import PoolTimeout

    a, b = Histogram(), Histogram()
    for v in range(1, 1001):
        (a if v % 2 else b).record(v * 1000)
    merged = Histogram.decode(a.encode())
    merged.add(Histogram.decode(b.encode()))
    assert merged.count == 1000
    assert merged.percentile_ms(50) == pytest.approx(500, rel=0.01)
    assert merged.max_ms() == pytest.approx(1000, rel=0.01)
    assert classify(PoolTimeout("x")) == "pool_exhausted"
    assert classify(pgerrors.QueryCanceled("x")) == "timeout"
    assert classify(pgerrors.SerializationFailure("x")) == "serialization"
    assert classify(pgerrors.DeadlockDetected("x")) == "serialization"
    assert classify(ValueError("x")) == "other"


def test_workers_share_users_rate_and_pool() -> None:
    spec = LoadSpec(
        "", ScenarioRef("reference"), 10, 1, rate=90.0, pool_size=5, workers=3, seed=4
    )
    parts = [spec.share(i) for i in range(3)]
    assert [p.users for p in parts] == [4, 3, 3]
    assert [p.pool_size for p in parts] == [2, 2, 1]
    assert all(p.rate == pytest.approx(30) for p in parts)
    assert len({p.seed for p in parts}) == 3
