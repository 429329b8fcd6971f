"""Why an alert must not be notified now: a silence, maintenance in progress
(:mod:`pgwarden.alerts.maintenance`), or the maintenance window."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pgwarden.alerts.model import Alert
from pgwarden.maintain.window import Window as MaintenanceWindow

__all__ = ["MaintenanceWindow", "Mutes", "Silence"]


@dataclass(frozen=True)
class Silence:
    """Alerts of ``rule`` (None: any) carrying all ``labels`` are not notified."""

    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str
    rule: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    id: int | None = None

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, alert: Alert) -> bool:
        if self.rule is not None and self.rule != alert.rule:
            return False
        return all(alert.labels.get(k) == v for k, v in self.labels.items())


@dataclass(frozen=True)
class Mutes:
    silences: Sequence[Silence] = ()
    window: MaintenanceWindow | None = None
    #: rules whose alerts maintenance itself causes (locks, long transactions ...)
    maintenance_rules: Collection[str] = ()
    #: fingerprint -> the running maintenance operation that causes the alert
    caused: Mapping[str, str] = field(default_factory=dict)

    def reason(self, alert: Alert, now: datetime) -> str | None:
        for silence in self.silences:
            if silence.active(now) and silence.matches(alert):
                return f"silence {silence.id or ''}: {silence.comment}".strip()
        if alert.fingerprint in self.caused:
            return self.caused[alert.fingerprint]
        if (
            self.window is not None
            and alert.rule in self.maintenance_rules
            and self.window.contains(now)
        ):
            return "maintenance window"
        return None
