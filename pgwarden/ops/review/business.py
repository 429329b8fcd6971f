"""The review's outcome figures (no I/O): error rates, adoption, satisfaction and
support tickets for the period and the one before it, each with its trend; a
figure nobody recorded is "not recorded" with the command that records it, never 0.

Adoption may come from a query of the application's own tables
(``reviews.active_users_query``, ``reviews.active_tenants_query``): checked here
(:func:`check_query`), run read-only on the target by
:mod:`pgwarden.ops.review.gather`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pglast import ast, parse_sql
from pglast.parser import ParseError

from pgwarden.ops.review.measures import GROUPS, VOCABULARY, Measure, MeasureError

#: a change within this share of the previous figure is flat
FLAT = 0.01
#: the measures an adoption query may compute, and their settings
QUERIES = {
    "active_users": "reviews.active_users_query",
    "active_tenants": "reviews.active_tenants_query",
}
ERRORS_HOW = (
    "read the server log (log_destination csvlog or jsonlog, pgwarden worker) or "
    "send calls and errors to POST /api/ingest/app-metrics"
)
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True)
class Computed:
    """An adoption query's figures for the period and the one before, or why not."""

    now: float | None = None
    previous: float | None = None
    error: str | None = None


def previous_span(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The period of the same length just before ``[start, end)``."""
    return start - (end - start), start


def check_query(setting: str, text: str) -> str:
    """One SELECT with at most the ``%(start)s`` and ``%(end)s`` parameters."""
    names = set(_PLACEHOLDER.findall(text))
    if names - {"start", "end"}:
        raise MeasureError(
            f"{setting}: only %(start)s and %(end)s may be used, "
            f"not %({sorted(names - {'start', 'end'})[0]})s"
        )
    plain = _PLACEHOLDER.sub(lambda m: "$1" if m[1] == "start" else "$2", text)
    try:
        statements = parse_sql(plain.replace("%%", "%"))
    except ParseError as exc:
        reason = str(exc).rsplit(", at index", 1)[0]
        raise MeasureError(f"{setting}: SQL syntax error: {reason}") from None
    if len(statements) != 1 or not isinstance(statements[0].stmt, ast.SelectStmt):
        raise MeasureError(f"{setting}: must be exactly one SELECT statement")
    return text


def one_number(found: Sequence[Sequence[Any]]) -> float:
    """The single value of a query's single row, a number of at least 0."""
    if len(found) != 1 or len(found[0]) != 1:
        raise MeasureError("must return one row of one column")
    value = found[0][0]
    if value is None:
        return 0.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise MeasureError(f"returned {type(value).__name__}, not a number") from None
    if not 0 <= number < 1e15:
        raise MeasureError(f"returned {number:g}, not a count")
    return number


# -- figures -----------------------------------------------------------------------


def aggregate(m: Measure, found: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The period's figure of one measure from its readings (oldest first)."""
    mine = [r for r in found if r["name"] == m.name]
    if not mine:
        return {"value": None, "responses": None, "readings": 0, "sources": []}
    values = [float(r["value"]) for r in mine]
    weights = [r["responses"] for r in mine]
    if m.per_period == "last":
        value = values[-1]
    elif m.per_period == "sum":
        value = sum(values)
    elif all(weights):
        value = sum(v * w for v, w in zip(values, weights, strict=True)) / sum(weights)
    else:
        value = sum(values) / len(values)
    responses = [w for w in weights if w]
    return {
        "value": round(value, 2),
        "responses": sum(responses) if responses else None,
        "readings": len(mine),
        "sources": sorted({r["source"] for r in mine}),
    }


def trend(
    now: float | None, previous: float | None, up_is_good: bool
) -> dict[str, Any]:
    """up, down or flat (within :data:`FLAT` of the previous figure), and whether
    that is better or worse; None when either figure is missing."""
    if now is None or previous is None:
        return {"change": None, "trend": None, "verdict": None}
    change = round(now - previous, 3)
    if abs(change) <= FLAT * abs(previous) or change == 0:
        return {"change": change, "trend": "flat", "verdict": "same"}
    up = change > 0
    better = up == up_is_good
    return {
        "change": change,
        "trend": "up" if up else "down",
        "verdict": "better" if better else "worse",
    }


def figure(
    m: Measure,
    now: Sequence[Mapping[str, Any]],
    previous: Sequence[Mapping[str, Any]],
    computed: Computed | None = None,
) -> dict[str, Any]:
    """One measure this period and the previous one; recorded readings, or the
    adoption query when one is configured and answered."""
    a, b = aggregate(m, now), aggregate(m, previous)
    note = None
    if computed is not None and computed.error is None:
        a = {**a, "value": computed.now, "sources": ["query"]}
        b = {**b, "value": computed.previous}
    elif computed is not None:
        note = f"adoption query failed: {computed.error}"
    recorded = a["value"] is not None
    return {
        **m.as_dict(),
        "now": a["value"],
        "previous": b["value"],
        "responses": a["responses"],
        "previous_responses": b["responses"],
        "readings": a["readings"],
        "sources": a["sources"],
        **trend(a["value"], b["value"], m.up_is_good),
        "recorded": recorded,
        "how_to_record": None if recorded else _how(m),
        "note": note,
    }


def _how(m: Measure) -> str:
    how = m.how_to_record()
    if m.name in QUERIES:
        how += f" (or set {QUERIES[m.name]})"
    return how


def error_figure(
    now: Mapping[str, Any] | None,
    previous: Mapping[str, Any] | None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Errors per minute this period and the previous one (the error rates' read);
    None (not recorded) when no source was read in the period."""
    a = _rate(now)
    b = _rate(previous)
    recorded = a is not None
    return {
        "name": "error_rate",
        "group": "errors",
        "label": "errors per minute",
        "unit": "errors/min",
        "up_is_good": False,
        "now": a,
        "previous": b,
        "errors": None if now is None or not recorded else now.get("errors"),
        "share_pct": _share(now) if recorded else None,
        "previous_share_pct": _share(previous),
        "by_class": dict((now or {}).get("by_class") or {}) if recorded else {},
        "calls": (now or {}).get("calls") if recorded else None,
        **trend(a, b, False),
        "recorded": recorded,
        "how_to_record": None if recorded else ERRORS_HOW,
        "note": reason,
    }


def _rate(rates: Mapping[str, Any] | None) -> float | None:
    if not rates or not rates.get("recorded") or rates.get("per_minute") is None:
        return None
    return round(float(rates["per_minute"]), 4)


def _share(rates: Mapping[str, Any] | None) -> float | None:
    if not rates or not rates.get("recorded") or rates.get("share") is None:
        return None
    return round(100 * float(rates["share"]), 4)


def section(
    now: Sequence[Mapping[str, Any]],
    previous: Sequence[Mapping[str, Any]],
    computed: Mapping[str, Computed],
    errors: dict[str, Any],
    previous_span: Mapping[str, str],
) -> dict[str, Any]:
    """The review's outcome section: error rates, then each group's measures."""
    figures = [
        figure(m, now, previous, computed.get(m.name)) for m in VOCABULARY.values()
    ]
    return {
        "previous_period": dict(previous_span),
        "error_rate": errors,
        "groups": [
            {"group": g, "figures": [f for f in figures if f["group"] == g]}
            for g in GROUPS
        ],
        "not_recorded": [f["name"] for f in [errors, *figures] if not f["recorded"]],
        "method": (
            "Error rates: errors per minute of the period from the server log and "
            "the applications' reports (pgwarden metrics, the same read), share of "
            "calls where calls are known. Business measures: readings recorded "
            "with pgwarden review measure add/import or POST /api/ingest/measures "
            "with recorded_at in the period; per period, active users/tenants and "
            "the open backlog are the last reading, tickets opened and closed the "
            "sum, CSAT and NPS the mean weighted by responses. Active users or "
            "tenants come from the configured query of the application's tables "
            "when one is set. The previous period is the same length just "
            f"before; a change within {FLAT:.0%} of it is flat."
        ),
    }


def figures_by_name(measures: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f["name"]: f for g in measures.get("groups", []) for f in g.get("figures", [])
    }


def link_actions(actions: dict[str, Any], measures: Mapping[str, Any]) -> None:
    """Put the linked measure's figure next to each action item that follows one."""
    found = figures_by_name(measures)
    for item in actions.get("open_items", []):
        f = found.get(item.get("measure") or "")
        if f is not None:
            item["figure"] = {k: f[k] for k in ("now", "previous", "trend",
                                                 "verdict", "unit")}  # fmt: skip
