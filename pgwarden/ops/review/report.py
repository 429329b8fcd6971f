"""A post-launch review as data, and rendered (md with "How it was measured", html,
json) through the shared report templates."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pgwarden.config import Settings
from pgwarden.ops.ccb import agenda, dora
from pgwarden.ops.review import business as review_business
from pgwarden.ops.review import latency as review_latency
from pgwarden.ops.review import metrics as review_metrics
from pgwarden.ops.review import outcomes as review_outcomes
from pgwarden.ops.review import uptime as review_uptime
from pgwarden.ops.review.gather import Facts
from pgwarden.ops.review.schedule import ReviewPeriod
from pgwarden.ops.review.store import Launch
from pgwarden.reports import store as stored

TEMPLATE = "review"


def slo_ms(settings: Settings) -> float:
    return settings.reviews.slo_ms or settings.slo.query_latency_ms


def build(
    target: str,
    launch: Launch | None,
    period: ReviewPeriod,
    facts: Facts,
    settings: Settings,
    generated_at: datetime,
    previous: Mapping[str, Any] | None,
    first_generated: datetime | None = None,
) -> dict[str, Any]:
    """Every figure of the review, each with its method, and the objectives.

    ``first_generated``: when this period's review was first generated (it is
    regenerated now); that time decides whether it was on time.
    """
    first = first_generated or generated_at
    slo = settings.slo
    interval = timedelta(seconds=settings.collect.interval_seconds)
    db = review_metrics.database(facts.database, slo.cache_hit_pct)
    changes = dora.figures(
        facts.deployments, period.start, period.end, slo.change_success_pct
    )
    report: dict[str, Any] = {
        "target": target,
        "launch": None if launch is None else launch.as_dict(),
        "period": period.as_dict(),
        "generated_at": generated_at.isoformat(),
        "first_generated_at": first.isoformat(),
        "on_time": None if period.due_at is None else first <= period.due_at,
        "availability": review_uptime.availability(
            facts.cycles,
            facts.restarts,
            period.start,
            period.end,
            interval,
            monitored_from=facts.first_cycle or period.end,
        ),
        "latency": review_latency.latency(
            facts.bins,
            facts.spread,
            settings.reviews.latency_cv,
            slo_ms(settings),
            settings.slow_queries.warning_ms,
            facts.slow.get("over_slo", 0),
            facts.slow.get("over_log", 0),
            slo.query_latency_share_pct,
        ),
        "cache": db["cache"],
        "indexes": facts.indexes,
        "maintenance": review_metrics.maintenance(facts.runs),
        "incidents": review_metrics.incidents(
            facts.alerts, timedelta(minutes=slo.time_to_ack_minutes)
        ),
        "changes": review_metrics.changes(changes.as_dict()),
        "errors": db["errors"],
        "actions": review_metrics.actions(facts.actions, period.end),
        "measures": outcomes(facts, period),
        "notes": list(facts.notes),
    }
    review_business.link_actions(report["actions"], report["measures"])
    report["notes"] += [
        f"{f['label']}: {f['note']}"
        for f in review_business.figures_by_name(report["measures"]).values()
        if f["note"]
    ]
    report["objectives"] = objectives(report, settings)
    report["trend"] = review_metrics.trend(report, previous)
    report["summary"] = {"line": summary_line(report)}
    return report


def outcomes(facts: Facts, period: ReviewPeriod) -> dict[str, Any]:
    """Error rates, adoption, satisfaction and support against the period before."""
    before, _ = review_business.previous_span(period.start, period.end)
    errors = review_business.error_figure(
        facts.error_rates, facts.previous_error_rates, facts.error_rates_reason
    )
    span = {"start": before.isoformat(), "end": period.start.isoformat()}
    return review_business.section(
        facts.measures, facts.previous_measures, facts.computed, errors, span
    )


def objectives(report: Mapping[str, Any], settings: Settings) -> list[dict[str, Any]]:
    """The plan's objectives, met or not (None: no data)."""
    slo = settings.slo
    lat, cache, idx = report["latency"], report["cache"], report["indexes"] or {}
    inc, chg = report["incidents"], report["changes"]
    mtta = inc["mtta_min"]
    found = [
        _objective(
            f"{slo.query_latency_share_pct:g} % of queries < {lat['slo_ms']:g} ms",
            lat["share_under_pct"],
            lat["met"],
            "%",
        ),
        _objective(
            f"cache hit ratio > {slo.cache_hit_pct:g} %",
            cache["hit_ratio_pct"],
            cache["met"],
            "%",
        ),
        _objective(
            f"< {slo.unused_index_pct:g} % unused indexes after "
            f"{slo.unused_index_after_days} days",
            idx.get("unused_pct"),
            idx.get("meets_target"),
            "%",
        ),
        *agenda.slo_status(
            None if mtta is None else mtta * 60,
            slo.time_to_ack_minutes,
            chg["success_pct"],
            chg["target_success_pct"],
        ),
        _objective(
            f"alerts acknowledged within {slo.time_to_ack_minutes:g} min",
            inc["acked_within_target_pct"],
            inc["met"],
            "%",
        ),
    ]
    if report["on_time"] is not None:
        found.append(
            _objective(
                "review generated by its due time (100 % target)",
                "yes" if report["on_time"] else "late",
                report["on_time"],
                "",
            )
        )
    return found


def _objective(name: str, value: Any, met: bool | None, unit: str) -> dict[str, Any]:
    shown = "no data" if value is None else f"{value}{' ' + unit if unit else ''}"
    return {"objective": name, "value": shown, "met": met}


def summary_line(report: Mapping[str, Any]) -> str:
    period = report["period"]
    head = review_metrics.headline(report)
    met = [o["met"] for o in report["objectives"] if o["met"] is not None]
    parts = [
        f"{period['label']} ({period['start'][:10]} to {period['end'][:10]})",
        f"availability {_pct(head['availability_pct'])}",
        f"{_pct(head['slo_share_pct'])} < {report['latency']['slo_ms']:g} ms",
        f"cache hit {_pct(head['cache_hit_pct'])}",
        f"{head['alerts']} alerts",
        f"{sum(met)}/{len(met)} objectives met",
    ]
    return ", ".join(parts)


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{value:g} %"


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:g}"


def render(report: dict[str, Any], fmt: str) -> str:
    """The review as ``md``, ``html`` or ``json`` text."""
    env = stored.templates(num=_fmt, pct=_pct, yesno=_yesno)
    text = stored.render_with(env, TEMPLATE, report, fmt)
    if fmt == "html":
        env = stored.templates()
        env.autoescape = True  # the section is rendered from a string
    return review_outcomes.place(text, report, fmt, env)


def _yesno(value: Any) -> str:
    return {True: "met", False: "NOT met", None: "no data"}[value]


def write(report: dict[str, Any], directory: Path) -> list[Path]:
    """``review-<kind>-<start>-<target>-<time>.{md,html,json}`` under ``directory``."""
    period = report["period"]
    kind = f"review-{period['kind']}-{period['start'][:10]}"
    return stored.write_files(report, directory, kind, render)
