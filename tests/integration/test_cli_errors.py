"""Bad input reaches the user as one clear line and the documented exit code."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tests.cli_helpers import pgwarden


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_version() -> None:
    result = pgwarden("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("pgwarden ")


def test_unreachable_server_exits_3_with_host_and_reason() -> None:
    port = _closed_port()
    result = pgwarden("--dsn", f"postgresql://u@127.0.0.1:{port}/db", "doctor")
    assert result.returncode == 3
    line = _one_error_line(result.stderr)
    assert f"127.0.0.1:{port}/db" in line
    assert "refused" in line.lower()


def test_malformed_dsn_is_a_usage_error() -> None:
    result = pgwarden("--dsn", "this is not a dsn", "doctor")
    assert result.returncode == 2
    assert "malformed DSN" in _one_error_line(result.stderr)


def test_debug_shows_the_traceback_and_keeps_the_exit_code() -> None:
    result = pgwarden("doctor", "--dsn", "this is not a dsn", "--debug")
    assert result.returncode == 2
    assert "Traceback" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("error: malformed DSN")


def test_no_target_at_all_says_how_to_give_one(tmp_path: Path) -> None:
    for command in (("doctor",), ("metrics",), ("collect", "--once")):
        result = pgwarden(*command, cwd=tmp_path)
        assert result.returncode == 2, (command, result.stderr)
        line = _one_error_line(result.stderr)
        for way in ("--dsn", "PGWARDEN_DSN", "PG*", "dsn in pgwarden.toml"):
            assert way in line, (command, line)


def test_password_never_printed_on_failure() -> None:
    port = _closed_port()
    dsn = f"postgresql://u:hunter2secret@127.0.0.1:{port}/db"
    result = pgwarden("--dsn", dsn, "init")
    assert result.returncode == 3
    assert "hunter2secret" not in result.stderr + result.stdout


def test_unknown_setting_exits_2(tmp_path: Path) -> None:
    (tmp_path / "pgwarden.toml").write_text("[alerts]\nbogus = 1\n")
    result = pgwarden("config", "show", cwd=tmp_path)
    assert result.returncode == 2
    line = _one_error_line(result.stderr)
    assert "pgwarden.toml: alerts.bogus: unknown setting" in line


def test_bad_format_exits_2() -> None:
    result = pgwarden("--format", "yaml", "config", "show")
    assert result.returncode == 2
    assert "--format" in _one_error_line(result.stderr)


def test_config_show_json_masks_secrets(tmp_path: Path) -> None:
    result = pgwarden(
        "config",
        "show",
        "--format",
        "json",
        cwd=tmp_path,
        PGWARDEN_DSN="postgresql://app:topsecret@db/app",
        PGWARDEN_DASHBOARD__ADMIN_TOKEN="tok-topsecret",
        PGWARDEN_DASHBOARD__VIEWER_TOKEN="view-topsecret",
    )
    assert result.returncode == 0, result.stderr
    assert "topsecret" not in result.stdout
    data = json.loads(result.stdout)
    assert data["dsn"] == "postgresql://app:********@db/app"
    assert data["dashboard"]["admin_token"] == "********"
    assert data["dashboard"]["viewer_token"] == "********"
    assert data["alerts"]["cache_hit_ratio_pct"] == 40


def test_hostile_table_name_is_data(tmp_path: Path) -> None:
    hostile = 'x"; DROP TABLE "Tenant"; --'
    (tmp_path / "pgwarden.toml").write_text(
        f"[maintenance]\nhot_tables = [{json.dumps(hostile)}]\n"
    )
    result = pgwarden("config", "show", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["maintenance"]["hot_tables"] == [hostile]


def test_unknown_command_is_usage_error() -> None:
    result = pgwarden("no-such-command")
    assert result.returncode == 2
