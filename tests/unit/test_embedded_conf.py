"""The embedded server's generated configuration."""

from __future__ import annotations

from pgwarden.embedded_conf import governance_conf, hba_conf


def _settings(text: str) -> dict[str, str]:
    pairs = (line.split(" = ", 1) for line in text.splitlines() if " = " in line)
    return {key: value for key, value in pairs}


def test_jsonlog_from_15_and_csvlog_before() -> None:
    assert _settings(governance_conf(5432, 18))["log_destination"] == "'jsonlog'"
    assert _settings(governance_conf(5432, 15))["log_destination"] == "'jsonlog'"
    assert _settings(governance_conf(5432, 14))["log_destination"] == "'csvlog'"


def test_governance_defaults() -> None:
    conf = _settings(governance_conf(6543, 18))
    assert conf["port"] == "6543"
    assert conf["listen_addresses"] == "'127.0.0.1'"
    assert conf["unix_socket_directories"] == "''"
    assert conf["shared_preload_libraries"] == "'pg_stat_statements,auto_explain'"
    assert conf["auto_explain.log_min_duration"] == "-1"
    assert conf["log_min_duration_statement"] == "'100ms'"
    assert conf["compute_query_id"] == "on"
    assert conf["track_io_timing"] == "on"


def test_overrides_win() -> None:
    conf = _settings(governance_conf(1, 18, {"shared_preload_libraries": "''"}))
    assert conf["shared_preload_libraries"] == "''"


def test_hba_is_scram_on_loopback_only() -> None:
    rules = [
        line.split()
        for line in hba_conf().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules == [
        ["host", "all", "all", "127.0.0.1/32", "scram-sha-256"],
        ["host", "all", "all", "::1/128", "scram-sha-256"],
        ["host", "replication", "all", "127.0.0.1/32", "scram-sha-256"],
    ]
