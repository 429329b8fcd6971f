"""Who is on call when: weekly rotations with handoffs in local time, overrides."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pgwarden.ops.oncall.roster import WEEK, Layer, Roster


@dataclass(frozen=True)
class Shift:
    layer: str
    person: str | None
    start: datetime
    end: datetime
    override: bool = False

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def rotation_shift(
    roster: Roster, layer: Layer, at: datetime
) -> tuple[str | None, datetime, datetime]:
    """The rotation's person at ``at`` and the bounds of that shift."""
    local = at.astimezone(roster.tz)
    day = local.date() - timedelta(days=(local.weekday() - roster.handoff_weekday) % 7)
    if roster.handoff_at(day) > at:
        day -= WEEK
    weeks = (day - roster.anchor()).days // 7
    index, into = divmod(weeks, layer.rotation_weeks)
    first = day - into * WEEK
    start = roster.handoff_at(first)
    end = roster.handoff_at(first + layer.rotation_weeks * WEEK)
    if not layer.people:
        return None, start, end
    person = layer.people[(index + layer.offset) % len(layer.people)]
    return person, start, end


def on_call(roster: Roster, layer_name: str, at: datetime) -> str | None:
    """The person on call for a layer at ``at`` (an override wins)."""
    for override in roster.overrides:
        if override.covers(layer_name, at):
            return override.person
    layer = roster.layer(layer_name)
    if layer is None:
        return None
    return rotation_shift(roster, layer, at)[0]


def now_on_call(roster: Roster, at: datetime) -> list[Shift]:
    """Every layer's current shift, whole: from its start to the next handoff (or
    the start or end of an override)."""
    found: list[Shift] = []
    for layer in roster.layers:
        _, start, end = rotation_shift(roster, layer, at)
        current = [
            s for s in _layer_shifts(roster, layer, start, end) if s.start <= at < s.end
        ]
        found += current
    return found


def shifts(roster: Roster, start: datetime, end: datetime) -> list[Shift]:
    """Every layer's shifts between ``start`` and ``end``, overrides applied."""
    found: list[Shift] = []
    for layer in roster.layers:
        found += _layer_shifts(roster, layer, start, end)
    return found


def _layer_shifts(
    roster: Roster, layer: Layer, start: datetime, end: datetime
) -> list[Shift]:
    cuts = {start, end}
    at = start
    while at < end:
        _, _, shift_end = rotation_shift(roster, layer, at)
        cuts.add(min(shift_end, end))
        at = shift_end
    for o in roster.overrides:
        if o.layer == layer.name:
            cuts |= {c for c in (o.start, o.end) if start < c < end}
    bounds = sorted(c.astimezone(UTC) for c in cuts)
    merged: list[Shift] = []
    for a, b in itertools.pairwise(bounds):
        override = any(o.covers(layer.name, a) for o in roster.overrides)
        piece = Shift(layer.name, on_call(roster, layer.name, a), a, b, override)
        last = merged[-1] if merged else None
        if last and (last.person, last.override) == (piece.person, piece.override):
            merged[-1] = Shift(layer.name, last.person, last.start, b, last.override)
        else:
            merged.append(piece)
    return merged


def escalation_target(roster: Roster, level: int, at: datetime) -> str | None:
    """L1 primary, L2 secondary (first and second layer), L3 lead, L4 executive."""
    if level in (1, 2):
        if len(roster.layers) < level:
            return None
        return on_call(roster, roster.layers[level - 1].name, at)
    if level == 3:
        return roster.lead
    if level == 4:
        return roster.executive
    return None
