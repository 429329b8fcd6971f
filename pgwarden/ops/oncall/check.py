"""Schedule check: gaps, 24/7 coverage, fairness and unknown people."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from pgwarden.ops.oncall.roster import Roster
from pgwarden.ops.oncall.schedule import Shift, shifts


@dataclass(frozen=True)
class Finding:
    severity: str  # "error" or "warning"
    what: str


@dataclass(frozen=True)
class Share:
    layer: str
    person: str
    hours: float
    pct: float


def shares(found: list[Shift]) -> list[Share]:
    """Hours on call per person per layer, and the share of the layer's time."""
    hours: dict[tuple[str, str], float] = defaultdict(float)
    total: dict[str, float] = defaultdict(float)
    for s in found:
        total[s.layer] += s.hours
        if s.person is not None:
            hours[(s.layer, s.person)] += s.hours
    return [
        Share(layer, person, h, 100 * h / total[layer] if total[layer] else 0.0)
        for (layer, person), h in sorted(hours.items())
    ]


def check(
    roster: Roster, start: datetime, weeks: int, max_share_pct: float
) -> list[Finding]:
    """Everything wrong with the schedule over ``weeks`` from ``start``."""
    if not roster.layers:
        return [Finding("error", "no on-call layers: nobody is on call (24/7 gap)")]
    end = start + timedelta(weeks=weeks)
    found = shifts(roster, start, end)
    findings = _unknown(roster) + _gaps(found) + _doubled(found)
    for share in shares(found):
        if share.pct > max_share_pct + 1e-9:
            findings.append(Finding("error", (
                f"{share.person} is on call {share.pct:.0f} % of the {share.layer} "
                f"time over {weeks} weeks, above {max_share_pct:g} %"
            )))  # fmt: skip
    return findings


def _unknown(roster: Roster) -> list[Finding]:
    named = [p for layer in roster.layers for p in layer.people]
    named += [o.person for o in roster.overrides]
    named += [p for p in (roster.lead, roster.executive) if p]
    missing = sorted({p for p in named if p not in roster.people})
    return [Finding("error", f"{p} is on the schedule but not in oncall.people")
            for p in missing]  # fmt: skip


def _gaps(found: list[Shift]) -> list[Finding]:
    return [
        Finding("error", f"gap in {s.layer}: nobody from {s.start:%Y-%m-%d %H:%M} "
                f"to {s.end:%Y-%m-%d %H:%M} UTC")
        for s in found if s.person is None
    ]  # fmt: skip


def _doubled(found: list[Shift]) -> list[Finding]:
    """The same person on two layers at once leaves no one to escalate to."""
    findings: list[Finding] = []
    for a in found:
        for b in found:
            if a.layer < b.layer and a.person and a.person == b.person:
                if a.start < b.end and b.start < a.end:
                    findings.append(Finding("warning", (
                        f"{a.person} is on {a.layer} and {b.layer} at once from "
                        f"{max(a.start, b.start):%Y-%m-%d %H:%M} UTC"
                    )))  # fmt: skip
    return findings
