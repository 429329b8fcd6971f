"""Deltas between two snapshots, and the gaps where no delta can be trusted.

No function here does I/O. A delta is never negative and never counted twice: a
server restart, a moved ``stats_reset`` or a part without a previous snapshot makes
the whole part a gap; an entry whose ``stats_since`` moved or whose counter went down
is left out (and counted in the gap reason). Deltas restart from the next cycle.

Most entries of a large part do not move between two snapshots (idle statements,
untouched tables): they are recognised by one comparison of their counters and, for
kinds that skip idle rows, left out before any arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pgwarden.collect.kinds import KINDS, Kind
from pgwarden.collect.snapshot import Key, Number, Part, Row

Values = dict[str, Number | None]


#: what the next cycle needs of an entry: its counters and ``since`` (gauges unused)
LastRow = Row


@dataclass(frozen=True)
class Previous:
    """The previous snapshot as kept in the repository (and in memory)."""

    ts: datetime
    postmaster_start: datetime
    markers: Mapping[str, str | None]
    rows: Mapping[str, Mapping[Key, LastRow]]


@dataclass(frozen=True)
class Gap:
    part: str
    reason: str


@dataclass(frozen=True)
class PartDelta:
    part: str
    kind: str
    rows: Mapping[Key, Values]
    gap: Gap | None = None


def key_text(key: Key) -> str:
    """A key as kept in ``collect_last.key`` (``"16384,10,42,True"``)."""
    return ",".join(map(str, key))


def parse_key(text: str) -> Key:
    """The key of :func:`key_text` (keys are integers and booleans)."""
    return tuple(_key_field(field) for field in text.split(","))


def _key_field(text: str) -> int | bool:
    if text in ("True", "False"):
        return text == "True"
    return int(text)


def interval_gap(
    previous: Previous, ts: datetime, postmaster_start: datetime
) -> str | None:
    """Why no counter of this interval can be trusted, if so."""
    if postmaster_start != previous.postmaster_start:
        before, after = previous.postmaster_start, postmaster_start
        return (
            "server restarted (pg_postmaster_start_time moved from "
            f"{before.isoformat()} to {after.isoformat()})"
        )
    if ts <= previous.ts:
        return "the server clock went backwards"
    return None


def part_delta(previous: Previous, part: Part) -> PartDelta:
    """Counter deltas (and gauges) of one part since ``previous``."""
    if not part.cumulative:
        gauges = {key: dict(row.gauges) for key, row in part.rows.items()}
        return PartDelta(part.name, part.kind, gauges)
    reason = _part_gap(previous, part)
    if reason is not None:
        return PartDelta(part.name, part.kind, {}, Gap(part.name, reason))
    last = previous.rows.get(part.name, {})
    skip_idle = KINDS[part.kind].skip_idle
    rows: dict[Key, Values] = {}
    reset = 0
    for key, row in part.rows.items():
        before = last.get(key)
        if before is not None and not moved(before, row):
            if not skip_idle:
                rows[key] = {**_zero(row.counters), **row.gauges}
            continue
        values = row_delta(before, row, previous.ts)
        if values is None:
            reset += 1
        else:
            rows[key] = values
    gap = None
    if reset:
        gap = Gap(part.name, f"counters of {reset} entries were reset; skipped once")
    return PartDelta(part.name, part.kind, rows, gap)


def _zero(counters: Mapping[str, Number | None]) -> Values:
    return {name: None if v is None else v - v for name, v in counters.items()}


def _part_gap(previous: Previous, part: Part) -> str | None:
    if part.name not in previous.markers:
        return f"no previous snapshot of {part.name} (it was not read last cycle)"
    before = previous.markers[part.name]
    if before != part.marker:
        return f"{part.name} statistics reset (stats_reset {before} -> {part.marker})"
    return None


def row_delta(last: LastRow | None, row: Row, previous_ts: datetime) -> Values | None:
    """``row - last`` for counters plus the gauges; None when the entry was reset.

    An entry that appeared since the previous snapshot counts from zero, unless its
    ``stats_since`` says it existed before (then it was missed and is skipped once).
    """
    if last is None:
        if row.since is not None and row.since < previous_ts:
            return None
        return {**row.counters, **row.gauges}
    if row.since != last.since:
        return None
    values: Values = {}
    for name, value in row.counters.items():
        before = last.counters.get(name)
        if value is None or before is None:
            values[name] = None
        elif value < before:
            return None
        else:
            values[name] = value - before
    return {**values, **row.gauges}


def merge(kind: Kind, deltas: Iterable[PartDelta]) -> dict[Key, Values]:
    """Rows of one kind, the columns of its parts side by side; idle rows dropped."""
    merged: dict[Key, Values] = {}
    for delta in deltas:
        if delta.kind != kind.name:
            continue
        for key, values in delta.rows.items():
            merged.setdefault(key, {}).update(values)
    if kind.skip_idle:
        merged = {k: v for k, v in merged.items() if any(v.values())}
    return merged


def last_rows(part: Part) -> Mapping[Key, LastRow]:
    """What to keep of a part for the next cycle (its rows, as read)."""
    return part.rows


def moved(last: LastRow | None, row: LastRow) -> bool:
    """The entry differs from what was kept (new, counters moved, or restarted)."""
    return last is None or last.since != row.since or last.counters != row.counters


def as_tuple(kind: Kind, key: Key, values: Mapping[str, Any]) -> tuple[Any, ...]:
    """Key and values in the column order of ``kind``."""
    return (*key, *map(values.get, kind.value_names))
