"""Periodic evaluation after collection cycles, with a fake clock and evaluation."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pgwarden.alerts.channels import ConsoleChannel, WebhookChannel
from pgwarden.alerts.periodic import PeriodicEvaluation, loop_channels
from pgwarden.config import load_settings

OPEN = SimpleNamespace(closed=False)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def quiet(*args: Any, **kwargs: Any) -> Any:
    return SimpleNamespace(notices=(), deliveries=(), summary=lambda: "")


def periodic(clock: Clock, evaluate: Any = quiet, **alerts: Any) -> Any:
    settings = load_settings(overrides={"alerts": alerts})
    lines: list[str] = []
    p = PeriodicEvaluation(settings, "db", report=lines.append, channels=[],
                           clock=clock, evaluate=evaluate)  # fmt: skip
    return p, lines


def test_the_first_cycle_evaluates_then_every_interval() -> None:
    clock = Clock()
    p, lines = periodic(clock, evaluate_interval_seconds=60)
    assert p.after_cycle(OPEN, OPEN) is not None
    clock.now += 30
    assert p.after_cycle(OPEN, OPEN) is None  # not yet due
    clock.now += 30
    assert p.after_cycle(OPEN, OPEN) is not None
    assert p.evaluations == 2 and lines == []


def test_a_failure_is_one_line_and_the_next_cycle_tries_again() -> None:
    def fails(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("relation pgwarden.alert does not exist\nLINE 1: ...")

    clock = Clock()
    p, lines = periodic(clock, fails, evaluate_interval_seconds=5)
    assert p.after_cycle(OPEN, OPEN) is None
    clock.now += 5
    assert p.after_cycle(OPEN, OPEN) is None
    assert p.failures == 2
    assert lines == ["alert evaluation of db failed: relation pgwarden.alert does "
                     "not exist"] * 2  # fmt: skip


def test_no_repository_connection_skips() -> None:
    p, _ = periodic(Clock())
    assert p.after_cycle(None, OPEN) is None
    assert p.after_cycle(SimpleNamespace(closed=True), OPEN) is None
    assert p.evaluations == 0 and p.due()


def test_a_lost_target_connection_evaluates_without_live_inputs() -> None:
    seen: list[Any] = []

    def record(*args: Any, target_conn: Any = None, **kwargs: Any) -> Any:
        seen.append(target_conn)
        return quiet()

    p, _ = periodic(Clock(), record)
    p.after_cycle(OPEN, SimpleNamespace(closed=True))
    assert seen == [None]


def test_channels_default_to_the_console() -> None:
    [console] = loop_channels(load_settings())
    assert isinstance(console, ConsoleChannel)
    hook = {"name": "ops", "kind": "webhook", "url": "http://127.0.0.1:9/"}
    configured = load_settings(overrides={"alerts": {"channels": [hook]}})
    [webhook] = loop_channels(configured)
    assert isinstance(webhook, WebhookChannel) and webhook.name == "ops"
