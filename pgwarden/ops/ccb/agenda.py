"""The bi-weekly board meeting: its dates, the agenda and the pre-filled minutes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).resolve().parents[2] / "reports"


@dataclass(frozen=True)
class Meetings:
    last: date | None
    next: date


def meetings(first: date, interval_days: int, today: date) -> Meetings:
    """The last meeting before ``today`` and the next one on or after it."""
    if today <= first:
        return Meetings(None, first)
    passed = (today - first).days // interval_days
    last = first + timedelta(days=passed * interval_days)
    if last == today:
        return Meetings(last - timedelta(days=interval_days), today)
    return Meetings(last, last + timedelta(days=interval_days))


def overdue(actions: Sequence[Mapping[str, Any]], today: date) -> list[Any]:
    return [a for a in actions if a["due"] < today and a.get("done_at") is None]


def slo_status(
    mtta_s: float | None,
    ack_target_min: float,
    success_pct: float | None,
    success_target_pct: float,
) -> list[dict[str, Any]]:
    """The governance objectives the board watches, met or not (None: no data)."""
    mtta = None if mtta_s is None else round(mtta_s / 60, 1)
    return [
        {
            "objective": f"mean time to acknowledge < {ack_target_min:g} min",
            "value": "no alerts" if mtta is None else f"{mtta} min",
            "met": None if mtta is None else mtta < ack_target_min,
        },
        {
            "objective": f"change success > {success_target_pct:g} %",
            "value": "no deployments"
            if success_pct is None
            else f"{success_pct:.1f} %",
            "met": None if success_pct is None else success_pct > success_target_pct,
        },
    ]


def render(kind: str, context: Mapping[str, Any]) -> str:
    """``agenda`` or ``minutes`` as Markdown."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["cell"] = _cell
    return env.get_template(f"ccb_{kind}.md.j2").render(**context)


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return "" if value is None else str(value)


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")
