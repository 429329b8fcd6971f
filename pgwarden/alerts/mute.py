"""Why an alert must not be notified now: a silence, or the maintenance window."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from pgwarden.alerts.model import Alert


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
class MaintenanceWindow:
    """A daily window (may cross midnight) in a time zone."""

    start: time
    end: time
    timezone: str = "UTC"

    @classmethod
    def parse(cls, start: str, end: str, timezone: str) -> MaintenanceWindow:
        return cls(time.fromisoformat(start), time.fromisoformat(end), timezone)

    def contains(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone)).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True)
class Mutes:
    silences: Sequence[Silence] = ()
    window: MaintenanceWindow | None = None
    #: rules whose alerts maintenance itself causes (locks, long transactions ...)
    maintenance_rules: Collection[str] = ()

    def reason(self, alert: Alert, now: datetime) -> str | None:
        for silence in self.silences:
            if silence.active(now) and silence.matches(alert):
                return f"silence {silence.id or ''}: {silence.comment}".strip()
        if (
            self.window is not None
            and alert.rule in self.maintenance_rules
            and self.window.contains(now)
        ):
            return "maintenance window"
        return None
