"""The alert lifecycle with a fake clock: pending, firing, repeats, escalation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

from pgwarden.alerts.lifecycle import Escalation, Policy, step
from pgwarden.alerts.model import Alert, Notice, Observation
from pgwarden.alerts.mute import MaintenanceWindow, Mutes, Silence

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def obs(rule: str = "connection_utilisation", severity: str = "warning") -> Observation:
    return Observation(rule, severity, 85.0, "connections high", "85 %", {})  # type: ignore[arg-type]


class World:
    """Open alerts between evaluations, like the repository keeps them."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.open: dict[str, Alert] = {}
        self.notices: list[Notice] = []
        self.history: list[Alert] = []

    def tick(self, now: datetime, *found: Observation) -> list[Notice]:
        evaluated = {"connection_utilisation", "slow_query", "cache_hit_ratio"}
        changed, notices = step(
            "db", self.open.values(), found, evaluated, now, self.policy
        )
        for alert in changed:
            if alert.open:
                self.open[alert.fingerprint] = alert
            else:
                self.open.pop(alert.fingerprint, None)
                self.history.append(alert)
        self.notices += notices
        return notices

    def only(self) -> Alert:
        assert len(self.open) == 1
        return next(iter(self.open.values()))


def test_held_30_minutes_every_minute_notifies_once() -> None:
    world = World(Policy(repeat=timedelta(hours=4)))
    for n in range(30):
        world.tick(T0 + n * MINUTE, obs())
    assert [x.kind for x in world.notices] == ["firing"]
    assert world.only().state == "firing" and world.only().notifications == 1


def test_one_notification_per_repeat_interval() -> None:
    world = World(Policy(repeat=timedelta(hours=4)))
    for n in range(9 * 60):
        world.tick(T0 + n * MINUTE, obs())
    kinds = [(x.kind, world.notices.index(x)) for x in world.notices]
    assert [k for k, _ in kinds] == ["firing", "repeat", "repeat"]
    assert len(world.open) == 1  # de-duplicated: one alert throughout


def test_for_duration_keeps_alert_pending() -> None:
    policy = Policy(for_={"connection_utilisation": 5 * MINUTE})
    world = World(policy)
    for n in range(5):
        assert world.tick(T0 + n * MINUTE, obs()) == []
        assert world.only().state == "pending"
    told = world.tick(T0 + 5 * MINUTE, obs())
    assert [x.kind for x in told] == ["firing"]
    assert world.only().fired_at == T0 + 5 * MINUTE


def test_pending_that_clears_is_never_notified() -> None:
    world = World(Policy(for_={"connection_utilisation": 5 * MINUTE}))
    world.tick(T0, obs())
    assert world.tick(T0 + MINUTE) == []
    assert world.history[0].fired_at is None and not world.open


def test_resolves_when_condition_clears_and_says_so() -> None:
    world = World(Policy())
    world.tick(T0, obs())
    told = world.tick(T0 + MINUTE)
    assert [x.kind for x in told] == ["resolved"]
    assert world.history[0].resolved_at == T0 + MINUTE
    assert world.history[0].resolved_by == "auto"


def test_rule_not_evaluated_keeps_its_alert_open() -> None:
    world = World(Policy())
    world.tick(T0, obs("replication_lag"))
    assert world.tick(T0 + MINUTE) == []  # replication input missing: no resolve
    assert world.only().state == "firing"


def test_acknowledged_alert_is_not_repeated_but_resolves() -> None:
    world = World(Policy(repeat=timedelta(hours=1)))
    world.tick(T0, obs())
    alert = world.only()
    world.open[alert.fingerprint] = replace(alert, state="acknowledged", acked_at=T0)
    for n in range(1, 180):
        world.tick(T0 + n * MINUTE, obs())
    assert [x.kind for x in world.notices] == ["firing"]
    assert [x.kind for x in world.tick(T0 + 3 * timedelta(hours=1))] == ["resolved"]


def test_severity_rise_notifies_again() -> None:
    world = World(Policy())
    world.tick(T0, obs("slow_query", "warning"))
    told = world.tick(T0 + MINUTE, obs("slow_query", "critical"))
    assert [(x.kind, x.alert.severity) for x in told] == [("firing", "critical")]


def test_silence_mutes_until_it_expires() -> None:
    silence = Silence(
        T0, T0 + 10 * MINUTE, "deploying", "ana", "connection_utilisation"
    )
    world = World(Policy(mutes=Mutes([silence])))
    for n in range(10):
        world.tick(T0 + n * MINUTE, obs())
    assert world.notices == []
    assert "deploying" in (world.only().muted_by or "")
    told = world.tick(T0 + 10 * MINUTE, obs())
    assert [x.kind for x in told] == ["firing"]


def test_maintenance_window_mutes_only_what_maintenance_causes() -> None:
    window = MaintenanceWindow(time(2, 0), time(5, 0), "UTC")
    mutes = Mutes((), window, ("slow_query",))
    world = World(Policy(mutes=mutes))
    night = datetime(2025, 3, 3, 3, 0, tzinfo=UTC)
    told = world.tick(night, obs("slow_query"), obs("connection_utilisation"))
    assert [x.alert.rule for x in told] == ["connection_utilisation"]


def test_window_across_midnight_in_a_time_zone() -> None:
    window = MaintenanceWindow(time(23, 0), time(1, 0), "Europe/Berlin")
    assert window.contains(datetime(2025, 1, 1, 22, 30, tzinfo=UTC))  # 23:30 CET
    assert window.contains(datetime(2025, 1, 1, 23, 30, tzinfo=UTC))  # 00:30
    assert not window.contains(datetime(2025, 1, 1, 0, 30, tzinfo=UTC))  # 01:30


def test_escalation_steps_every_ack_timeout_executive_only_when_critical() -> None:
    escalation = Escalation(timedelta(minutes=15))
    for severity, levels in (("warning", [1, 2, 3]), ("critical", [1, 2, 3, 4])):
        world = World(Policy(escalation=escalation))
        for n in range(90):
            world.tick(T0 + n * MINUTE, obs(severity=severity))
        assert [x.level for x in world.notices] == levels
        when = [x.alert.last_notified_at for x in world.notices]
        assert when == [T0 + 15 * n * MINUTE for n in range(len(levels))]


def test_per_severity_ack_timeout() -> None:
    escalation = Escalation(
        timedelta(minutes=15), by_severity={"critical": timedelta(minutes=5)}
    )
    world = World(Policy(escalation=escalation))
    for n in range(11):
        world.tick(T0 + n * MINUTE, obs(severity="critical"))
    assert [x.level for x in world.notices] == [1, 2, 3]


def test_duplicate_observations_make_one_alert() -> None:
    world = World(Policy())
    world.tick(T0, obs(), obs())
    assert len(world.open) == 1 and len(world.notices) == 1
