"""The load engine against a real server: models, pool exhaustion, stalls, safety."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pgwarden import pg
from pgwarden.demo.workload import ACTION_MIX
from pgwarden.load import LoadSpec, ScenarioRef, Tick, build_report, run_load
from pgwarden.load.safety import TargetRefused, check_target
from tests.conftest import TestServer

REFERENCE = ScenarioRef("reference")


def _engine_only_once(server: TestServer) -> None:
    """Timing-heavy engine behaviour does not depend on the server version."""
    if server.name != "embedded":
        pytest.skip("engine behaviour: checked on the embedded server only")


def _spec(dsn: str, **kwargs: object) -> LoadSpec:
    base = LoadSpec(
        dsn=dsn,
        scenario=REFERENCE,
        users=8,
        duration_s=2.0,
        pool_size=4,
        cache_size=100,
        seed=11,
    )
    return replace(base, **kwargs)  # type: ignore[arg-type]


def _plausible(report: dict[str, object]) -> None:
    overall = report["overall"]
    assert isinstance(overall, dict)
    assert overall["count"] > 20
    assert 0 < overall["p50_ms"] <= overall["p95_ms"] <= overall["p99_ms"]
    assert overall["p99_ms"] <= overall["max_ms"] < 5000


def test_closed_model_run_measures_every_action_without_errors(
    demo_dsn: str,
) -> None:
    run = run_load(
        _spec(demo_dsn, ramp_up_s=0.5, warmup_s=0.5, think_ms=5.0, duration_s=1.5)
    )
    report = build_report(run, "test")
    _plausible(report)
    assert report["errors"]["total"] == 0, report["errors"]
    assert set(report["actions"]) <= set(ACTION_MIX)
    assert len(report["actions"]) >= 6
    assert report["model"] == "closed"
    assert 0 < report["pool"]["utilisation"] <= 1
    assert report["pool"]["wait"]["count"] > 0
    assert report["app_cache"]["hits"] + report["app_cache"]["misses"] > 0
    server = report["server"]
    assert server["load_connections_max"] >= 1
    assert server["cache_hit_ratio"] > 0.5
    assert server["samples"] >= 3
    assert report["bottleneck"]["resource"]
    assert report["timeline"] and report["timeline"][0]["throughput"] > 0


def test_open_model_run_keeps_the_arrival_rate(demo_dsn: str) -> None:
    run = run_load(_spec(demo_dsn, rate=60.0, users=6, duration_s=1.5))
    report = build_report(run, "test")
    _plausible(report)
    assert report["model"] == "open"
    assert report["errors"]["total"] == 0, report["errors"]
    assert 30 <= report["throughput_per_s"] <= 90
    assert report["service_time"]["p50_ms"] <= report["overall"]["p50_ms"]


def test_a_tiny_pool_with_a_short_timeout_is_reported_as_exhausted(
    demo_dsn: str, pg_server: TestServer
) -> None:
    _engine_only_once(pg_server)
    # A lock held on "Assessment" keeps the one pooled connection busy for far
    # longer than the pool timeout, so the other users' waits must time out.
    progress, thread = _stall_on_first_tick(demo_dsn, 0.6)
    run = run_load(
        _spec(demo_dsn, users=12, pool_size=1, pool_timeout_s=0.02, duration_s=1.5),
        progress,  # type: ignore[arg-type]
    )
    thread.join()
    report = build_report(run, "test")
    assert report["errors"]["by_class"]["pool_exhausted"] > 0
    assert report["errors"]["by_class"]["other"] == 0
    assert report["bottleneck"]["resource"] == "connection pool"


def _stall_on_first_tick(dsn: str, seconds: float) -> tuple[object, threading.Thread]:
    """A progress callback that locks "Assessment" for ``seconds`` once."""

    def hold() -> None:
        with psycopg.connect(dsn) as conn:
            conn.execute('LOCK TABLE "Assessment" IN ACCESS EXCLUSIVE MODE')
            time.sleep(seconds)

    thread = threading.Thread(target=hold)

    def progress(ticks: Mapping[int, Tick]) -> None:
        if not thread.is_alive() and thread.ident is None:
            thread.start()

    return progress, thread


def test_open_model_shows_a_stall_the_closed_model_hides(
    demo_dsn: str, pg_server: TestServer
) -> None:
    _engine_only_once(pg_server)
    stall = 1.2
    progress, thread = _stall_on_first_tick(demo_dsn, stall)
    open_run = run_load(
        _spec(demo_dsn, rate=40.0, users=8, pool_size=8, duration_s=3.0), progress
    )  # type: ignore[arg-type]
    thread.join()
    progress, thread = _stall_on_first_tick(demo_dsn, stall)
    closed_run = run_load(
        _spec(demo_dsn, users=2, pool_size=2, duration_s=3.0), progress
    )  # type: ignore[arg-type]
    thread.join()
    opened, closed = open_run.overall.summary(), closed_run.overall.summary()
    assert opened.max_ms >= stall * 1000 * 0.8
    assert opened.p99_ms >= stall * 1000 * 0.6
    assert closed.p99_ms < stall * 1000 * 0.3, closed
    assert opened.p99_ms > 3 * closed.p99_ms


def test_a_scenario_file_runs_weighted_sql(demo_dsn: str, tmp_path: Path) -> None:
    path = tmp_path / "tenants.toml"
    path.write_text(
        """
[actions.tenant_assessments]
weight = 3
sql = 'SELECT id FROM "Assessment" WHERE "tenantId" = %(tenant)s LIMIT %(n)s'
params.tenant = { zipf = 'SELECT id FROM "Tenant" ORDER BY id' }
params.n = { int_range = [1, 20] }

[actions.by_status]
sql = 'SELECT count(*) FROM "Assessment" WHERE status = %(status)s'
params.status = { choice = ["DRAFT", "COMPLETED"] }
"""
    )
    spec = _spec(demo_dsn, scenario=ScenarioRef(str(path)), duration_s=1.5)
    report = build_report(run_load(spec), "test")
    assert report["scenario"] == "tenants"
    assert set(report["actions"]) == {"tenant_assessments", "by_status"}
    assert report["errors"]["total"] == 0
    counts = {n: a["count"] for n, a in report["actions"].items()}
    assert counts["tenant_assessments"] > counts["by_status"]


def test_two_worker_processes_merge_their_histograms(
    demo_dsn: str, pg_server: TestServer
) -> None:
    _engine_only_once(pg_server)
    run = run_load(_spec(demo_dsn, workers=2, duration_s=1.0))
    report = build_report(run, "test")
    _plausible(report)
    assert report["pool"]["size"] == 4
    assert report["server"]["load_connections_max"] == 4
    assert report["errors"]["total"] == 0


def test_a_role_that_cannot_prove_the_server_is_embedded_is_refused(
    demo_dsn: str,
) -> None:
    role, password = f"load_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with psycopg.connect(demo_dsn, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
    try:
        params = psycopg.conninfo.conninfo_to_dict(demo_dsn)
        dsn = psycopg.conninfo.make_conninfo(demo_dsn, user=role, password=password)
        with pg.connect(dsn) as conn:
            with pytest.raises(TargetRefused) as refused:
                check_target(conn, dsn, ())
            assert refused.value.exit_code == 3
            assert "load.allowed_targets" in str(refused.value)
            name = f"{params['host']}:{params['port']}/{params['dbname']}"
            assert "allowed_targets" in check_target(conn, dsn, (name,))
        with pytest.raises(TargetRefused):
            run_load(_spec(dsn, duration_s=0.5))
        with pg.connect(demo_dsn) as conn:
            assert "embedded" in check_target(conn, demo_dsn, ())
    finally:
        with psycopg.connect(demo_dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
