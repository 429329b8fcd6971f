"""The fleet's pure parts: DSNs stripped of passwords, schedule slots, names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict

from pgwarden.errors import ConfigurationError
from pgwarden.fleet import strip
from pgwarden.fleet.passwords import check_env_name, with_password
from pgwarden.fleet.registry import check_name
from pgwarden.jobs.fleet import (
    SHARES,
    FleetState,
    collect_slot,
    cron_slot,
    phase,
    share_of,
)

SECRET = "Hunter2-secret-pw"


@pytest.mark.parametrize(
    "dsn",
    [
        f"host=db port=5432 dbname=app user=u password={SECRET}",
        f"host=db dbname=app password='{SECRET}' sslpassword={SECRET}x",
        f"postgresql://u:{SECRET}@db:5432/app?sslmode=require",
        f"postgresql://db/app?password={SECRET}",
    ],
)
def test_the_password_is_stripped_and_noticed(dsn: str) -> None:
    done = strip(dsn)
    assert done.had_password and SECRET not in done.dsn
    params = conninfo_to_dict(done.dsn)
    assert params["dbname"] == "app" and "password" not in params


def test_a_dsn_without_password_keeps_its_parameters() -> None:
    done = strip("host=db port=6432 dbname=app user=u sslmode=verify-full")
    assert not done.had_password
    assert conninfo_to_dict(done.dsn)["port"] == "6432"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.text(min_size=4, max_size=20))
def test_strip_is_total_and_never_keeps_a_password(text: str, secret: str) -> None:
    for dsn in (text, f"{text} password={secret!r}"):
        try:
            done = strip(dsn)
        except ConfigurationError as exc:
            assert secret not in str(exc) or secret in text.replace(secret, "")
            continue
        assert "password" not in conninfo_to_dict(done.dsn)


def test_the_password_comes_from_the_named_variable() -> None:
    dsn = with_password("host=db dbname=app", "PW", environ={"PW": SECRET})
    assert conninfo_to_dict(dsn)["password"] == SECRET
    with pytest.raises(ConfigurationError, match="PW"):
        with_password("host=db", "PW", environ={})
    assert with_password("host=db", None, environ={}) == "host=db"


@given(st.text(max_size=50))
def test_names_and_variables_are_checked_totally(text: str) -> None:
    for check in (check_name, check_env_name):
        try:
            check(text)
        except ConfigurationError:
            pass


@given(
    st.text(min_size=1, max_size=40),
    st.integers(min_value=1, max_value=3600),
    st.floats(min_value=1.6e9, max_value=2.0e9),
)
def test_collect_slots_keep_the_interval_and_the_phase(
    target: str, interval: int, now: float
) -> None:
    slot = collect_slot(target, interval, now)
    assert now < slot <= now + interval + 1e-6
    following = collect_slot(target, interval, slot)
    assert following - slot == pytest.approx(interval, abs=1e-3)
    assert 0 <= phase(target) < 1


def test_targets_spread_over_the_interval() -> None:
    phases = sorted(phase(f"collect:host:5432/db{i}") for i in range(200))
    assert phases[0] < 0.05 and phases[-1] > 0.95  # not all at second 0
    seconds = {int(p * 60) for p in phases}
    assert len(seconds) > 40


def test_cron_slots_follow_the_ticks_with_a_bounded_jitter() -> None:
    now = 1_800_000_000.0  # a whole minute
    slot = cron_slot("*/15 * * * *", "maintenance:x", now)
    assert now < slot <= now + 15 * 60 + 300
    assert cron_slot("*/15 * * * *", "maintenance:x", slot) > slot


@given(st.sets(st.integers(0, SHARES - 1)), st.sets(st.integers(0, SHARES - 1)))
def test_a_worker_fetches_from_the_queues_of_the_shares_it_holds(
    before: set[int], held: set[int]
) -> None:
    state = FleetState(group="eu")
    queues = ["pgwarden", state.queue("pgwarden")]
    queues += [state.share_queue("pgwarden", s) for s in sorted(before)]
    fetched = queues  # the very list the worker reads at each fetch
    state.follow("pgwarden", fetched, frozenset(held))
    assert fetched is queues and fetched[:2] == ["pgwarden", state.queue("pgwarden")]
    assert sorted(fetched[2:]) == sorted(state.share_queue("pgwarden", s) for s in held)
    assert len(set(fetched)) == len(fetched)
    assert {share_of(f"db{i}") for i in range(1000)} == set(range(SHARES))
