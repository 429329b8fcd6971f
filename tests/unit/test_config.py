"""The settings registry: defaults, file, environment, errors and masking."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pgwarden.config import effective, iter_settings, load_settings, mask_dsn
from pgwarden.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("PGWARDEN_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_are_the_plan() -> None:
    s = load_settings()
    assert (s.slow_queries.warning_ms, s.slow_queries.critical_ms) == (100, 500)
    assert s.slow_queries.emergency_ms == 1000
    assert s.slow_queries.retention_days == 30
    assert s.dashboard.refresh_seconds == 60
    assert s.alerts.connection_utilisation_pct == 80
    assert s.alerts.cache_hit_ratio_pct == 40
    assert s.alerts.slow_queries_per_minute == 10
    assert s.alerts.index_bloat_pct == 20
    assert s.maintenance.hot_tables == ["User", "Assessment", "Answer", "EvidenceFile"]
    assert (s.maintenance.window_start, s.maintenance.window_end) == ("02:00", "05:00")
    assert s.index_health.unused_days == 30
    assert s.partitioning.min_rows == 10_000_000
    assert (s.load.normal_users, s.load.peak_users, s.load.stress_users) == (
        100,
        500,
        1000,
    )
    assert (s.elasticity.pool_min, s.elasticity.pool_max) == (10, 100)
    assert s.slo.time_to_ack_minutes == 15


def test_file_then_env_then_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pgwarden.toml").write_text(
        'dsn = "host=filehost"\n'
        "[alerts]\ncache_hit_ratio_pct = 55\nindex_bloat_pct = 25\n"
    )
    s = load_settings()
    assert s.alerts.cache_hit_ratio_pct == 55
    monkeypatch.setenv("PGWARDEN_ALERTS__CACHE_HIT_RATIO_PCT", "60")
    s = load_settings()
    assert s.alerts.cache_hit_ratio_pct == 60
    assert s.alerts.index_bloat_pct == 25  # the file still counts for other keys
    s = load_settings(overrides={"dsn": "host=clihost"})
    assert s.dsn is not None and s.dsn.get_secret_value() == "host=clihost"


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "custom.toml"
    path.write_text("[alerts]\ncache_hit = 10\n")
    with pytest.raises(ConfigurationError) as info:
        load_settings(path)
    assert str(info.value) == f"{path}: alerts.cache_hit: unknown setting"
    assert info.value.exit_code == 2


def test_malformed_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[alerts\n")
    with pytest.raises(ConfigurationError, match=r"bad\.toml: malformed TOML"):
        load_settings(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_settings(tmp_path / "absent.toml")


def test_invalid_value_from_env_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PGWARDEN_ALERTS__CACHE_HIT_RATIO_PCT", "140")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith("PGWARDEN_ALERTS__CACHE_HIT_RATIO_PCT: alerts.")
    assert "less than or equal to 100" in message


def test_window_format_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text('[maintenance]\nwindow_start = "2am"\n')
    with pytest.raises(ConfigurationError, match=r"maintenance\.window_start"):
        load_settings(path)


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        (
            "postgresql://app:s3cret@db:5432/x",
            "postgresql://app:********@db:5432/x",
        ),
        ("postgresql://app@db/x", "postgresql://app@db/x"),
        ("host=db password=s3cret user=app", None),
    ],
)
def test_mask_dsn(dsn: str, expected: str | None) -> None:
    masked = mask_dsn(dsn)
    assert "s3cret" not in masked
    if expected is not None:
        assert masked == expected


def test_effective_masks_every_secret() -> None:
    s = load_settings(
        overrides={
            "dsn": "postgresql://a:pw1@h/d",
            "repository_dsn": "host=r password=pw2",
        }
    )
    text = repr(effective(s))
    assert "pw1" not in text and "pw2" not in text


def test_docs_mention_every_setting() -> None:
    docs = (ROOT / "docs" / "CONFIGURATION.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_.]+)` \|", docs, re.MULTILINE))
    names = {name for name, _, _ in iter_settings()}
    assert names - documented == set(), "settings missing from docs/CONFIGURATION.md"
    assert documented - names == set(), "docs/CONFIGURATION.md lists unknown settings"
