"""The on-call roster: rotation, handoffs in local time, overrides, check, iCal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pgwarden.config import load_settings
from pgwarden.errors import ConfigurationError
from pgwarden.ops.oncall import (
    calendar,
    check,
    escalation_target,
    from_settings,
    now_on_call,
    on_call,
    shifts,
)
from pgwarden.ops.oncall.ical import fold

PEOPLE = ["ana", "ben", "cai", "dee"]


def roster(**extra: Any) -> Any:
    oncall = {
        "timezone": "Europe/Berlin", "handoff_day": "monday", "handoff_time": "09:00",
        "rotation_start": "2025-01-06",
        "people": [{"name": p, "email": f"{p}@example.com"} for p in PEOPLE]
        + [{"name": "lee"}, {"name": "exe"}],
        "layers": [{"name": "primary", "people": PEOPLE},
                   {"name": "secondary", "people": PEOPLE, "offset": 1}],
        "lead": "lee", "executive": "exe", **extra,
    }  # fmt: skip
    return from_settings(load_settings(overrides={"oncall": oncall}))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_weekly_rotation_hands_off_at_local_time() -> None:
    r = roster()
    # Monday 2025-01-06 09:00 Berlin = 08:00 UTC
    assert on_call(r, "primary", at("2025-01-06T07:59:00+00:00")) == "dee"
    assert on_call(r, "primary", at("2025-01-06T08:00:00+00:00")) == "ana"
    assert on_call(r, "secondary", at("2025-01-06T08:00:00+00:00")) == "ben"
    assert on_call(r, "primary", at("2025-01-13T08:00:00+00:00")) == "ben"
    # after the switch to summer time the handoff is 07:00 UTC
    assert on_call(r, "primary", at("2025-03-31T07:00:00+00:00")) == "ana"
    assert on_call(r, "primary", at("2025-03-31T06:59:00+00:00")) == "dee"


def test_override_wins_and_splits_the_shift() -> None:
    r = roster(overrides=[{"layer": "primary", "person": "dee",
                           "start": "2025-01-08T00:00", "end": "2025-01-09T00:00",
                           "reason": "ana at the dentist"}])  # fmt: skip
    assert on_call(r, "primary", at("2025-01-08T12:00:00+00:00")) == "dee"
    week = shifts(r, at("2025-01-06T08:00:00+00:00"), at("2025-01-13T08:00:00+00:00"))
    found = [s for s in week if s.layer == "primary"]
    assert [(s.person, s.override) for s in found] == [
        ("ana", False),
        ("dee", True),
        ("ana", False),
    ]


def test_now_and_escalation_targets() -> None:
    r = roster()
    when = at("2025-01-07T12:00:00+00:00")
    assert [(s.layer, s.person) for s in now_on_call(r, when)] == [
        ("primary", "ana"),
        ("secondary", "ben"),
    ]
    assert [escalation_target(r, n, when) for n in (1, 2, 3, 4)] == [
        "ana",
        "ben",
        "lee",
        "exe",
    ]


def test_check_four_people_is_fair_and_covered() -> None:
    assert check(roster(), at("2025-01-06T08:00:00+00:00"), 8, 25) == []


def test_check_finds_unfairness_gaps_and_unknown_people() -> None:
    r = roster(layers=[{"name": "primary", "people": ["ana", "ben", "zed"]},
                       {"name": "secondary", "people": []}])  # fmt: skip
    found = [f.what for f in check(r, at("2025-01-06T08:00:00+00:00"), 8, 25)]
    assert any("zed is on the schedule but not in oncall.people" in f for f in found)
    assert any(f.startswith("gap in secondary") for f in found)
    assert any("ana is on call 38 % of the primary time" in f for f in found)
    assert check(roster(layers=[]), at("2025-01-06T08:00:00+00:00"), 8, 25)


def test_same_person_on_two_layers_is_flagged() -> None:
    r = roster(layers=[{"name": "primary", "people": PEOPLE},
                       {"name": "secondary", "people": PEOPLE}])  # fmt: skip
    found = check(r, at("2025-01-06T08:00:00+00:00"), 1, 100)
    assert found and found[0].severity == "warning"


def test_ical_is_rfc5545() -> None:
    r = roster()
    start = at("2025-01-06T08:00:00+00:00")
    text = calendar(shifts(r, start, start + timedelta(weeks=8)), "pgwarden", start)
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:")
    assert text.endswith("END:VCALENDAR\r\n")
    assert text.count("BEGIN:VEVENT") == 16
    assert (
        "DTSTART:20250106T080000Z" in text and "SUMMARY:On call (primary): ana" in text
    )
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    long = fold("SUMMARY:" + "é" * 80)
    assert all(len(p.encode()) <= 75 for p in long.split("\r\n"))


def test_bad_time_zone_and_override_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match=r"oncall\.timezone"):
        roster(timezone="Mars/Olympus")
    with pytest.raises(ConfigurationError, match=r"oncall\.overrides\.start"):
        roster(overrides=[{"layer": "primary", "person": "ana", "start": "soon",
                           "end": "2025-01-01"}])  # fmt: skip


def test_no_roster_means_no_escalation_target() -> None:
    r = from_settings(load_settings())
    assert not r.configured
    assert escalation_target(r, 1, datetime(2025, 1, 1, tzinfo=UTC)) is None


def test_the_current_shift_runs_to_the_handoff_or_the_override() -> None:
    when = at("2025-01-07T12:00:00+00:00")
    first = now_on_call(roster(), when)[0]
    assert (first.start, first.end) == (
        at("2025-01-06T08:00:00+00:00"),
        at("2025-01-13T08:00:00+00:00"),
    )
    r = roster(overrides=[{"layer": "primary", "person": "dee",
                           "start": "2025-01-08T00:00", "end": "2025-01-09T00:00",
                           "reason": "swap"}])  # fmt: skip
    before = now_on_call(r, when)[0]
    assert (before.person, before.end) == ("ana", at("2025-01-07T23:00:00+00:00"))
    during = now_on_call(r, at("2025-01-08T12:00:00+00:00"))[0]
    assert (during.person, during.override) == ("dee", True)
