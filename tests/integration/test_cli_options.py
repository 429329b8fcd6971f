"""Global options after the command, and ports asked for by name."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_helpers import pgwarden


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something already listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


def test_doctor_takes_dsn_after_the_command(empty_dsn: str) -> None:
    result = pgwarden("doctor", "--dsn", empty_dsn, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["checks"]


def test_metrics_takes_format_and_dsn_after_the_command(empty_dsn: str) -> None:
    assert pgwarden("init", "--dsn", empty_dsn).returncode == 0
    result = pgwarden("metrics", "--format", "json", "--dsn", empty_dsn)
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), dict)


def test_sub_command_takes_global_options(empty_dsn: str) -> None:
    assert pgwarden("init", "--dsn", empty_dsn).returncode == 0
    result = pgwarden("alerts", "list", "--dsn", empty_dsn, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_the_option_after_the_command_wins(empty_dsn: str) -> None:
    gone = "postgresql://nobody@127.0.0.1:1/gone?connect_timeout=2"
    after = pgwarden("--dsn", gone, "doctor", f"--dsn={empty_dsn}")
    assert after.returncode == 0, after.stderr
    before = pgwarden("--dsn", empty_dsn, "doctor", "--dsn", gone)
    assert before.returncode == 3


def test_config_after_the_command(tmp_path: Path) -> None:
    settings = tmp_path / "other.toml"
    settings.write_text("[alerts]\ncache_hit_ratio_pct = 55\n")
    result = pgwarden(
        "config", "show", "--config", str(settings), "--format", "json", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["alerts"]["cache_hit_ratio_pct"] == 55


def test_a_global_option_after_double_dash_is_not_moved() -> None:
    result = pgwarden("config", "show", "--", "--dsn", "x")
    assert result.returncode == 2
    assert "--dsn" not in result.stdout


def test_serve_refuses_a_busy_port(busy_port: int) -> None:
    result = pgwarden(
        "serve", "--port", str(busy_port), "--dsn", "postgresql://u@127.0.0.1/db"
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(busy_port) in lines[0], result.stderr
    assert "in use" in lines[0]


def test_demo_refuses_a_busy_port(busy_port: int, tmp_path: Path) -> None:
    result = pgwarden(
        "demo", "--port", str(busy_port), "--data-dir", str(tmp_path / "pg")
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(busy_port) in lines[0], result.stderr
    assert not (tmp_path / "pg").exists()
