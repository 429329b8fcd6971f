"""The fast path for SQL scenarios (asyncpg) against a real server: it measures
what the psycopg path measures, keeps the open model's correction, and a
generator that cannot keep up says its figures are a lower bound."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict

from pgwarden.load import LoadSpec, ScenarioRef, build_report, run_load
from pgwarden.load.html import render_html
from tests.conftest import TestServer

MIXED = """
[actions.by_tenant]
weight = 4
sql = 'SELECT id FROM "Assessment" WHERE "tenantId" = %(tenant)s LIMIT %(n)s'
params.tenant = { zipf = 'SELECT id FROM "Tenant" ORDER BY id' }
params.n = { int_range = [1, 20] }

[actions.label]
weight = 2
sql = "SELECT %(word)s::text || (%(k)s::int)::text"
params.word = { choice = ["a", "b"] }
params.k = { int_range = [1, 3] }

[actions.broken]
sql = "SELECT 1 / (%(z)s::int - %(z)s::int)"
params.z = { int_range = [1, 1] }

[actions.slow]
sql = "SELECT pg_sleep(%(s)s)"
params.s = { choice = [0.3] }
"""


def _embedded_only(server: TestServer) -> None:
    if server.name != "embedded":
        pytest.skip("engine behaviour: checked on the embedded server only")


def _write(tmp_path: Path, name: str, text: str) -> ScenarioRef:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return ScenarioRef(str(path))


def _consistent(report: dict[str, Any]) -> None:
    """Counts, errors, percentiles and the timeline agree with each other."""
    overall, actions = report["overall"], report["actions"]
    assert overall["count"] == sum(a["count"] for a in actions.values())
    assert report["service_time"]["count"] == overall["count"]
    assert report["errors"]["total"] == sum(a["errors"] for a in actions.values())
    assert sum(t["throughput"] for t in report["timeline"]) == overall["count"]
    assert 0 < overall["p50_ms"] <= overall["p95_ms"] <= overall["p99_ms"]
    assert overall["p99_ms"] <= overall["max_ms"]
    assert report["pool"]["wait"]["count"] > 0
    gen = report["generator"]
    assert gen["cpu_s"] > 0 and gen["cpu_per_action_ms"] > 0
    assert gen["workers"] == 1 and gen["workers_needed"] >= 1


def test_the_fast_path_measures_what_the_psycopg_path_measures(
    demo_dsn: str, pg_server: TestServer, tmp_path: Path
) -> None:
    _embedded_only(pg_server)
    scenario = _write(tmp_path, "mixed", MIXED)
    reports = {}
    for driver in ("asyncpg", "psycopg"):
        spec = LoadSpec(
            demo_dsn, scenario, users=4, duration_s=1.2, warmup_s=0.3, think_ms=0,
            pool_size=4, seed=5, statement_timeout_ms=50, driver=driver,
        )  # fmt: skip
        report = build_report(run_load(spec), "test")
        reports[driver] = report
        assert report["generator"]["driver"] == driver
        _consistent(report)
        actions = report["actions"]
        assert set(actions) == {"by_tenant", "label", "broken", "slow"}
        for name in ("by_tenant", "label"):
            assert actions[name]["count"] > 0 and actions[name]["errors"] == 0
        # errors are counted by class, never in the latency histograms
        assert actions["broken"]["count"] == 0
        assert actions["broken"]["errors_by_class"] == {
            "other": actions["broken"]["errors"]
        }
        assert actions["broken"]["errors"] > 0
        assert actions["slow"]["count"] == 0
        assert set(actions["slow"]["errors_by_class"]) == {"timeout"}
    fast, slow = reports["asyncpg"], reports["psycopg"]
    assert fast["generator"]["driver_note"] is None
    assert set(fast["errors"]["by_class"]) == set(slow["errors"]["by_class"])
    # a DSN keyword asyncpg does not take: psycopg runs it, and the report says why
    dsn = f"{demo_dsn} options='-c work_mem=8MB'"
    spec = LoadSpec(dsn, scenario, users=2, duration_s=0.5, warmup_s=0.1, think_ms=0,
                    seed=5, statement_timeout_ms=50)  # fmt: skip
    report = build_report(run_load(spec), "test")
    gen = report["generator"]
    assert gen["driver"] == "psycopg" and "'options'" in gen["driver_note"]
    assert report["overall"]["count"] > 0  # which actions ran depends on the pace
    password = conninfo_to_dict(demo_dsn)["password"]
    assert password and password not in json.dumps(report)


def test_the_open_model_on_the_fast_path_counts_from_the_schedule(
    pg_server: TestServer, tmp_path: Path
) -> None:
    _embedded_only(pg_server)
    # one user, 100 arrivals/s, one action in ten sleeps 50 ms: the arrivals
    # behind a sleep wait, and that wait is part of their latency
    stall = _write(
        tmp_path,
        "stall",
        '[actions.stall]\nsql = "SELECT pg_sleep(%(s)s)"\n'
        f"params.s = {{ choice = [{'0.0, ' * 9}0.05] }}\n",
    )
    spec = LoadSpec(
        pg_server.dsn("postgres"), stall, users=1, duration_s=1.5, warmup_s=0.2,
        rate=100.0, pool_size=1, seed=7, driver="asyncpg",
    )  # fmt: skip
    report = build_report(run_load(spec), "test")
    assert report["model"] == "open"
    assert report["generator"]["driver"] == "asyncpg"
    _consistent(report)
    assert report["overall"]["mean_ms"] > report["service_time"]["mean_ms"]
    assert report["generator"]["start_lateness_p99_ms"] > 0
    assert report["errors"]["total"] == 0 and report["dropped"] == 0


def test_an_unreachable_rate_is_reported_as_the_generator_s_limit(
    pg_server: TestServer, tmp_path: Path
) -> None:
    _embedded_only(pg_server)
    one = _write(tmp_path, "one", '[actions.one]\nsql = "SELECT 1"\n')
    spec = LoadSpec(
        pg_server.dsn("postgres"), one, users=32, duration_s=1.0, warmup_s=0.3,
        rate=200_000.0, pool_size=32, seed=1, drain_s=0.2,
    )  # fmt: skip
    report = build_report(run_load(spec), "test")
    gen = report["generator"]
    assert gen["driver"] == "asyncpg"
    assert gen["saturated"] and gen["lower_bound"] and gen["reason"]
    assert gen["target_rate_per_s"] == 200_000.0
    assert gen["actions"] > 0 and gen["cpu_per_action_ms"] > 0
    assert gen["workers_needed"] >= 2 and gen["hosts_needed"] >= 1
    bottleneck = report["bottleneck"]
    assert bottleneck["resource"] == "load generator"
    assert "lower bound" in bottleneck["evidence"]
    assert "lower bound" in render_html(report)
