"""The on-call roster from the settings: people, layers, weekly rotation, overrides."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pgwarden.config import Settings
from pgwarden.errors import ConfigurationError

WEEKDAYS = (
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
)  # fmt: skip
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Person:
    name: str
    email: str | None = None
    slack: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Layer:
    name: str
    people: tuple[str, ...]
    offset: int = 0
    rotation_weeks: int = 1


@dataclass(frozen=True)
class Override:
    layer: str
    person: str
    start: datetime
    end: datetime
    reason: str = ""

    def covers(self, layer: str, at: datetime) -> bool:
        return self.layer == layer and self.start <= at < self.end


@dataclass(frozen=True)
class Roster:
    people: Mapping[str, Person]
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = ()
    timezone: str = "UTC"
    handoff_weekday: int = 0
    handoff_time: time = time(9, 0)
    rotation_start: date = date(2024, 1, 1)
    lead: str | None = None
    executive: str | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def configured(self) -> bool:
        return bool(self.layers)

    def layer(self, name: str) -> Layer | None:
        return next((x for x in self.layers if x.name == name), None)

    def anchor(self) -> date:
        """The local date of the first handoff (on or before ``rotation_start``)."""
        back = (self.rotation_start.weekday() - self.handoff_weekday) % 7
        return self.rotation_start - timedelta(days=back)

    def handoff_at(self, day: date) -> datetime:
        return datetime.combine(day, self.handoff_time, tzinfo=self.tz)


def from_settings(settings: Settings) -> Roster:
    """The roster, or :class:`ConfigurationError` naming the bad entry."""
    oc = settings.oncall
    timezone = oc.timezone or settings.timezone
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(
            f"oncall.timezone: unknown time zone {timezone!r}"
        ) from exc
    people = {p.name: Person(p.name, p.email, p.slack, p.phone) for p in oc.people}
    layers = tuple(
        Layer(x.name, tuple(x.people), x.offset, x.rotation_weeks) for x in oc.layers
    )
    overrides = tuple(
        Override(o.layer, o.person, _when(o.start, timezone, "start"),
                 _when(o.end, timezone, "end"), o.reason)
        for o in oc.overrides
    )  # fmt: skip
    return Roster(
        people=people, layers=layers, overrides=overrides, timezone=timezone,
        handoff_weekday=WEEKDAYS.index(oc.handoff_day),
        handoff_time=time.fromisoformat(oc.handoff_time),
        rotation_start=date.fromisoformat(oc.rotation_start),
        lead=oc.lead, executive=oc.executive,
    )  # fmt: skip


def _when(text: str, timezone: str, what: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigurationError(
            f"oncall.overrides.{what}: {text!r} is not an ISO date-time"
        ) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value
