"""The commands of the foundation, end to end through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.cli_helpers import pgwarden
from tests.conftest import TestServer


def test_embedded_lifecycle(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "srv")
    assert pgwarden("embedded", "status", "--data-dir", data_dir).returncode == 3
    started = pgwarden("embedded", "start", "--data-dir", data_dir)
    assert started.returncode == 0, started.stderr
    assert "started on 127.0.0.1:" in started.stderr
    again = pgwarden("embedded", "start", "--data-dir", data_dir)
    assert "already running" in again.stderr
    dsn = pgwarden("embedded", "dsn", "--data-dir", data_dir).stdout.strip()
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    status = pgwarden("embedded", "status", "--data-dir", data_dir, "--format", "json")
    assert status.returncode == 0
    assert json.loads(status.stdout)["running"] is True
    stopped = pgwarden("embedded", "stop", "--data-dir", data_dir)
    assert stopped.returncode == 0 and "stopped" in stopped.stderr
    assert pgwarden("embedded", "stop", "--data-dir", data_dir).stderr.strip() == (
        "not running"
    )


def test_doctor_json(empty_dsn: str, pg_server: TestServer) -> None:
    result = pgwarden("--dsn", empty_dsn, "doctor", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["server_version_num"] == pg_server.version_num
    checks = {check["name"]: check for check in report["checks"]}
    assert all({"name", "ok", "detail", "fix"} <= set(c) for c in checks.values())
    preload = [c for name, c in checks.items() if "preload" in name]
    assert preload and all(c["ok"] for c in preload)


def test_init_is_idempotent(empty_dsn: str) -> None:
    first = pgwarden("--dsn", empty_dsn, "init")
    assert first.returncode == 0, first.stderr
    assert "installed pgwarden schema" in first.stderr
    second = pgwarden("--repository-dsn", empty_dsn, "init")
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stderr


def test_demo_db_load_refuses_twice_then_resets(empty_dsn: str) -> None:
    loaded = pgwarden("--dsn", empty_dsn, "demo-db", "load", "--scale", "tiny")
    assert loaded.returncode == 0, loaded.stderr
    assert "loaded scale tiny" in loaded.stderr
    refused = pgwarden("--dsn", empty_dsn, "demo-db", "load", "--scale", "tiny")
    assert refused.returncode == 2
    assert "--reset" in refused.stderr
    reset = pgwarden(
        "--dsn", empty_dsn, "demo-db", "load", "--scale", "tiny", "--reset"
    )
    assert reset.returncode == 0, reset.stderr


def test_demo_db_rejects_unknown_scale(empty_dsn: str) -> None:
    result = pgwarden("--dsn", empty_dsn, "demo-db", "load", "--scale", "huge")
    assert result.returncode == 2
    assert "huge" in result.stderr


@pytest.mark.slow
def test_demo_runs_and_leaves_a_reusable_data_dir(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "demo")
    args = ("demo", "--data-dir", data_dir, "--scale", "tiny", "--duration", "6")
    first = pgwarden(*args, "--rate", "20", "--port", "0", "--collect-interval", "2")
    assert first.returncode == 0, first.stderr
    assert "DSN: postgresql://" in first.stdout
    assert "Dashboard: http://127.0.0.1:" in first.stdout
    assert "Admin token: " in first.stdout
    cycles = int(first.stderr.split(" collection cycles")[0].rsplit(" ", 1)[1])
    assert cycles >= 2
    assert "loading reference data" in first.stderr
    assert "embedded server stopped" in first.stderr
    second = pgwarden(*args, "--port", "0", "--keep-running")
    assert second.returncode == 0, second.stderr
    assert "reference data already loaded" in second.stderr
    dsn = pgwarden(
        "embedded", "dsn", "--data-dir", data_dir, "--dbname", "pgwarden_demo"
    )
    doctor = pgwarden("--dsn", dsn.stdout.strip(), "doctor", "--format", "json")
    checks = {c["name"]: c["ok"] for c in json.loads(doctor.stdout)["checks"]}
    assert checks["pgstattuple"] and checks["pg_buffercache"]
    assert checks["pg_stat_statements_extension"] and checks["slow_query_log"]
    assert pgwarden("embedded", "stop", "--data-dir", data_dir).returncode == 0
    assert pgwarden("embedded", "status", "--data-dir", data_dir).returncode == 3
