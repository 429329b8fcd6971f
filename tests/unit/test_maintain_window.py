"""The maintenance window: plain, crossing midnight, across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from pgwarden.config import load_settings
from pgwarden.errors import ConfigurationError
from pgwarden.maintain.window import Window


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_default_window_is_two_to_five_in_the_configured_zone() -> None:
    window = Window.from_settings(load_settings(overrides={"timezone": "Europe/Paris"}))
    assert window.describe() == "02:00-05:00 Europe/Paris"
    assert window.contains(_utc(2026, 11, 29, 1, 0))  # 02:00 in Paris (CET)
    assert window.contains(_utc(2026, 11, 29, 3, 59))
    assert not window.contains(_utc(2026, 11, 29, 4, 0))  # 05:00 local: closed
    assert not window.contains(_utc(2026, 11, 29, 0, 59))  # 01:59 local


def test_maintenance_timezone_overrides_the_global_one() -> None:
    zone = {"timezone": "America/New_York"}
    settings = load_settings(overrides={"timezone": "UTC", "maintenance": zone})
    assert Window.from_settings(settings).timezone == "America/New_York"


def test_window_crossing_midnight() -> None:
    window = Window(time(22, 0), time(3, 0), "UTC")
    assert window.contains(_utc(2026, 11, 29, 23, 30))
    assert window.contains(_utc(2026, 11, 30, 0, 30))
    assert window.contains(_utc(2026, 11, 30, 2, 59))
    assert not window.contains(_utc(2026, 11, 30, 3, 0))
    assert not window.contains(_utc(2026, 11, 29, 21, 59))
    assert window.next_start(_utc(2026, 11, 29, 23, 0)) == _utc(2026, 11, 30, 22, 0)
    assert window.next_start(_utc(2026, 11, 29, 12, 0)) == _utc(2026, 11, 29, 22, 0)


def test_spring_forward_night_is_shorter_but_still_open() -> None:
    # Europe/Berlin, 2026-03-29: 02:00 local does not exist (01:00 UTC -> 03:00 CEST)
    window = Window(time(2, 0), time(5, 0), "Europe/Berlin")
    assert not window.contains(_utc(2026, 3, 29, 0, 59))  # 01:59 CET
    assert window.contains(_utc(2026, 3, 29, 1, 0))  # 03:00 CEST
    assert window.contains(_utc(2026, 3, 29, 2, 59))  # 04:59 CEST
    assert not window.contains(_utc(2026, 3, 29, 3, 0))  # 05:00 CEST
    opening = window.next_start(_utc(2026, 3, 28, 12, 0))
    assert opening.astimezone(UTC) == _utc(2026, 3, 29, 1, 0)


def test_fall_back_night_is_longer() -> None:
    # Europe/Berlin, 2026-10-25: 03:00 CEST -> 02:00 CET, 02:00-03:00 happens twice
    window = Window(time(2, 0), time(5, 0), "Europe/Berlin")
    assert window.contains(_utc(2026, 10, 25, 0, 0))  # 02:00 CEST
    assert window.contains(_utc(2026, 10, 25, 1, 30))  # 02:30 CET (second time)
    assert window.contains(_utc(2026, 10, 25, 3, 59))  # 04:59 CET
    assert not window.contains(_utc(2026, 10, 25, 4, 0))


def test_unknown_zone_is_a_configuration_error() -> None:
    settings = load_settings(overrides={"maintenance": {"timezone": "Mars/Olympus"}})
    with pytest.raises(ConfigurationError, match="unknown time zone"):
        Window.from_settings(settings)
