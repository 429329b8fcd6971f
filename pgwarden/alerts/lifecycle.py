"""The alert state machine: pending -> firing -> acknowledged -> resolved.

:func:`step` is pure: open alerts, this evaluation's observations and the clock in;
changed alerts and the notices to send out. One open alert per fingerprint
(de-duplication); a firing alert is notified once, then again only after the repeat
interval, on escalation, or when its severity rises.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from pgwarden.alerts.model import (
    Alert,
    Notice,
    Observation,
    fingerprint,
    runbook_for,
    severity_rank,
)
from pgwarden.alerts.mute import Mutes


@dataclass(frozen=True)
class Escalation:
    """L1 primary -> L2 secondary -> L3 lead -> L4 executive, after ack timeouts."""

    ack_timeout: timedelta = timedelta(minutes=15)
    by_severity: Mapping[str, timedelta] = field(default_factory=dict)
    executive_severities: Collection[str] = ("critical", "emergency")

    def timeout(self, severity: str) -> timedelta:
        return self.by_severity.get(severity, self.ack_timeout)

    def top(self, severity: str) -> int:
        return 4 if severity in self.executive_severities else 3

    def due(self, alert: Alert, now: datetime) -> int:
        """The level the alert should have reached by ``now`` (one step at a time)."""
        level = max(alert.escalation_level, 1)
        since = alert.escalated_at or alert.fired_at or now
        if level < self.top(alert.severity) and now - since >= self.timeout(
            alert.severity
        ):
            return level + 1
        return level


@dataclass(frozen=True)
class Policy:
    repeat: timedelta = timedelta(hours=4)
    mutes: Mutes = field(default_factory=Mutes)
    #: None: no roster, so no escalation beyond the channels
    escalation: Escalation | None = None
    for_: Mapping[str, timedelta] = field(default_factory=dict)


def step(
    target: str,
    open_alerts: Iterable[Alert],
    observations: Iterable[Observation],
    evaluated: Collection[str],
    now: datetime,
    policy: Policy,
) -> tuple[list[Alert], list[Notice]]:
    """Changed and new alerts, and what to notify."""
    by_fp = {a.fingerprint: a for a in open_alerts}
    changed: list[Alert] = []
    notices: list[Notice] = []
    seen: set[str] = set()
    for obs in observations:
        fp = fingerprint(target, obs.rule, obs.labels)
        if fp in seen:
            continue
        seen.add(fp)
        alert = _observed(target, fp, by_fp.get(fp), obs, now, policy)
        alert, told = _notify(alert, by_fp.get(fp), now, policy)
        changed.append(alert)
        notices += told
    for fp, old in by_fp.items():
        if fp not in seen and old.rule in evaluated:
            alert, told = _resolve(old, now, policy)
            changed.append(alert)
            notices += told
    return changed, notices


def _observed(
    target: str,
    fp: str,
    old: Alert | None,
    obs: Observation,
    now: datetime,
    policy: Policy,
) -> Alert:
    if old is None:
        old = Alert(
            target=target, fingerprint=fp, rule=obs.rule, severity=obs.severity,
            state="pending", labels=dict(obs.labels), value=obs.value,
            summary=obs.summary, description=obs.description,
            runbook=runbook_for(obs.rule), group_key=f"{target}/{obs.rule}",
            started_at=now, last_seen_at=now,
        )  # fmt: skip
    alert = replace(
        old, severity=obs.severity, value=obs.value, summary=obs.summary,
        description=obs.description, last_seen_at=now,
    )  # fmt: skip
    held = now - alert.started_at
    if alert.state == "pending" and held >= policy.for_.get(obs.rule, timedelta()):
        alert = replace(alert, state="firing", fired_at=now)
    return alert


def _notify(
    alert: Alert, old: Alert | None, now: datetime, policy: Policy
) -> tuple[Alert, list[Notice]]:
    if alert.state not in ("firing", "acknowledged"):
        return alert, []
    muted = policy.mutes.reason(alert, now)
    alert = replace(alert, muted_by=muted)
    if muted is not None or alert.state == "acknowledged":
        return alert, []
    worse = old is not None and severity_rank(alert.severity) > severity_rank(
        old.severity
    )
    if alert.last_notified_at is None or worse:
        level = max(alert.escalation_level, 1)
        return _told(alert, "firing", level, now, escalated=alert.escalated_at or now)
    if policy.escalation is not None:
        due = policy.escalation.due(alert, now)
        if due > alert.escalation_level:
            return _told(alert, "escalation", due, now, escalated=now)
    if now - alert.last_notified_at >= policy.repeat:
        return _told(alert, "repeat", max(alert.escalation_level, 1), now)
    return alert, []


def _told(
    alert: Alert,
    kind: str,
    level: int,
    now: datetime,
    escalated: datetime | None = None,
) -> tuple[Alert, list[Notice]]:
    alert = replace(
        alert, last_notified_at=now, notifications=alert.notifications + 1,
        escalation_level=level, escalated_at=escalated or alert.escalated_at,
    )  # fmt: skip
    return alert, [Notice(kind, alert, level)]  # type: ignore[arg-type]


def _resolve(old: Alert, now: datetime, policy: Policy) -> tuple[Alert, list[Notice]]:
    alert = replace(old, state="resolved", resolved_at=now, resolved_by="auto")
    told = old.last_notified_at is not None and policy.mutes.reason(old, now) is None
    if not told:
        return alert, []
    return alert, [Notice("resolved", alert, max(old.escalation_level, 1))]
