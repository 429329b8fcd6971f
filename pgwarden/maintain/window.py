"""The maintenance window: a daily span of local time in a time zone.

The window may cross midnight (22:00-03:00). Local wall time decides: on the night
clocks go forward a 02:00-05:00 window lasts two hours, on the night they go back
four. Callers pass the moment to judge, so the clock is theirs to inject.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pgwarden.config import MaintenanceSettings, Settings
from pgwarden.errors import ConfigurationError

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Window:
    start: time
    end: time
    timezone: str = "UTC"

    @classmethod
    def from_settings(cls, settings: Settings) -> Window:
        m: MaintenanceSettings = settings.maintenance
        zone = m.timezone or settings.timezone
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigurationError(
                f"maintenance.timezone: unknown time zone {zone!r}"
            ) from exc
        try:
            return cls(time.fromisoformat(m.window_start),
                       time.fromisoformat(m.window_end), zone)  # fmt: skip
        except ValueError as exc:
            raise ConfigurationError(f"maintenance window: {exc}") from exc

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def contains(self, at: datetime) -> bool:
        local = at.astimezone(self.zone).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_start(self, at: datetime) -> datetime:
        """The next opening strictly after ``at`` (a moment, never a skipped time)."""
        local = at.astimezone(self.zone)
        for days in range(3):
            day = (local + timedelta(days=days)).date()
            opening = datetime.combine(day, self.start, self.zone)
            # a start in the gap of a DST jump resolves to the earlier offset:
            # normalise through UTC so the result is a real instant
            opening = opening.astimezone(UTC).astimezone(self.zone)
            if opening > local:
                return opening
        raise AssertionError("unreachable: a window opens every day")

    def describe(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M} {self.timezone}"
