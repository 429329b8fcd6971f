"""The generator's cost in the report, the fast path's DSN reading and draws."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgwarden.load import LoadRun, LoadSpec, ScenarioRef, build_report
from pgwarden.load.fast import NotFast, connect_options, picker
from pgwarden.load.histogram import Histogram
from pgwarden.load.html import render_html
from pgwarden.load.recorder import Recorder
from pgwarden.load.report import generator
from pgwarden.load.sqlfile import Generator

GENERATOR_KEYS = {
    "workers",
    "cores",
    "driver",
    "driver_note",
    "cpu_s",
    "actions",
    "cpu_per_action_ms",
    "cpu_share_max",
    "runnable_share_max",
    "server_busy_share",
    "loop_lag_p99_ms",
    "start_lateness_p99_ms",
    "saturated",
    "reason",
    "lower_bound",
    "target_rate_per_s",
    "workers_needed",
    "hosts_needed",
}


def _run(
    actions: int, cpu_s: float, shares: list[float], rate: float | None = None
) -> LoadRun:
    spec = LoadSpec(
        "dbname=x", ScenarioRef("reference"), users=4, duration_s=10.0, rate=rate
    )
    run = LoadRun(spec, "s", datetime.now(UTC))
    for i in range(actions):
        run.overall.record(1000 + i % 7)
    run.actions["a"] = Histogram()
    run.generator_cpu_s = cpu_s
    run.generator_shares = shares
    run.generator_runnable = shares
    run.drivers["asyncpg"] = len(shares)
    return run


def test_an_idle_generator_reports_its_cost_and_no_lower_bound() -> None:
    run = _run(1000, 0.5, [0.05])
    report = build_report(run, "t")
    gen = report["generator"]
    assert set(gen) == GENERATOR_KEYS
    assert gen["cpu_per_action_ms"] == pytest.approx(0.5)
    assert gen["driver"] == "asyncpg"
    assert not gen["saturated"] and not gen["lower_bound"] and gen["reason"] is None
    # 0.5 ms per action at 100 actions/s is 5 % of a core: one worker
    assert gen["workers_needed"] == 1 and gen["hosts_needed"] == 1
    found = {c["resource"]: c for c in report["bottleneck"]["candidates"]}
    assert found["load generator"]["score"] < 0.25
    assert "not saturated" in found["load generator"]["evidence"]
    assert report["bottleneck"]["resource"] != "load generator"


def test_a_saturated_generator_makes_the_figures_a_lower_bound() -> None:
    # 40 µs per action against an asked 100 000/s: 4 cores at 100 %, 6 at 70 %
    run = _run(20_000, 0.8, [0.97, 0.4], rate=100_000.0)
    gen = generator(run)
    assert gen["saturated"] and gen["lower_bound"]
    assert "97%" in gen["reason"]
    assert gen["workers_needed"] == 6
    assert gen["hosts_needed"] == -(-6 // gen["cores"])
    report = build_report(run, "t")
    assert report["bottleneck"]["resource"] == "load generator"
    assert "lower bound" in report["bottleneck"]["evidence"]
    assert "--workers 6" in report["bottleneck"]["evidence"]
    assert "lower bound" in render_html(report)


def test_no_actions_gives_no_cost_per_action() -> None:
    gen = generator(_run(0, 0.1, [0.01]))
    assert gen["cpu_per_action_ms"] is None and gen["workers_needed"] is None


def test_the_recorder_folds_equal_latencies_and_keeps_the_window() -> None:
    rec = Recorder(10.0, 12.0)
    rec.ok("a", 9.5, 9.5, 9.6, 0.0)  # before the window: not counted
    for i in range(100):
        at = 10.0 + i * 0.015
        rec.ok("a" if i % 2 else "b", at, at + 0.001, at + 0.003, 0.0005)
    rec.flush()
    assert rec.overall.count == 100 and rec.service.count == 100
    assert rec.actions["a"].count == rec.actions["b"].count == 50
    assert sum(s.count for s in rec.seconds) == 100
    assert rec.overall.percentile_ms(50) == pytest.approx(3.0, rel=0.01)
    assert rec.service.percentile_ms(50) == pytest.approx(2.0, rel=0.01)
    assert rec.lateness.percentile_ms(50) == pytest.approx(1.0, rel=0.01)
    assert rec.pool_wait_total_s == pytest.approx(0.05)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_reading_any_dsn_for_asyncpg_gives_options_or_not_fast(text: str) -> None:
    try:
        options = connect_options(text)
    except NotFast:
        return
    assert set(options) <= {"host", "port", "user", "password", "database", "ssl"} | {
        "timeout"
    }


def test_dsns_asyncpg_cannot_honour_keep_psycopg() -> None:
    assert connect_options("host=h port=5433 dbname=d user=u password=p") == {
        "host": "h",
        "port": 5433,
        "user": "u",
        "password": "p",
        "database": "d",
    }
    for dsn in (
        "host=a,b dbname=d",
        "dbname=d options='-c x=1'",
        "dbname=d sslrootcert=/x",
        "port=abc",
    ):
        with pytest.raises(NotFast):
            connect_options(dsn)


@given(
    st.integers(-(2**62), 2**62),
    st.integers(0, 2**60),
    st.lists(st.integers(), min_size=1, max_size=30),
    st.floats(0.1, 3.0),
    st.integers(0, 2**32),
)
def test_compiled_draws_stay_within_their_generators(
    low: int, span: int, values: list[int], exponent: float, seed: int
) -> None:
    rng = random.Random(seed)
    draw = Generator("int_range", (low, low + span)).compile()
    assert all(low <= draw(rng) <= low + span for _ in range(20))
    for kind in ("choice", "zipf", "sample"):
        draw = Generator(kind, tuple(values), None, exponent).compile()
        assert all(draw(rng) in values for _ in range(20))
    pick = picker([1.0, 2.0, 3.0][: len(values) % 3 + 1])
    assert all(0 <= pick(rng) < len(values) % 3 + 1 for _ in range(20))
