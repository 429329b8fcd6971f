"""``/api/admin/overview``: the Overview page's health summary, one block per track.

Each item is a figure of the function the matching CLI command prints with
``--format json`` (``docs/dashboard/overview.md`` names them), read from history,
the target's statistics views or a stored report, so the whole answer takes tens
of milliseconds. An item that cannot be known (no history yet, no connection to
the target, nothing set up) has the value null and says why in its text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import psycopg
from fastapi import APIRouter, HTTPException, Response

from pgwarden import pg
from pgwarden.advise.health import report as health_report
from pgwarden.alerts import rules as alert_rules
from pgwarden.alerts import store as alert_store
from pgwarden.alerts.facts import ERRORS, Facts
from pgwarden.errors import PgwardenError
from pgwarden.maintain import Window
from pgwarden.observe import PerformanceMetrics, performance_metrics
from pgwarden.observe.errors import error_rates
from pgwarden.ops.ccb import board
from pgwarden.ops.oncall import from_settings, now_on_call
from pgwarden.ops.review import NoLaunchDate
from pgwarden.ops.review import gather as review_gather
from pgwarden.ops.review import latency as review_latency
from pgwarden.ops.review import report as review_report
from pgwarden.ops.review import run as review_run
from pgwarden.ops.review import store as review_store
from pgwarden.plan import (
    Assumptions,
    Baseline,
    NoGrowthEvidence,
    project_capacity,
)
from pgwarden.reports import human_bytes
from pgwarden.slowlog.severity import Thresholds
from pgwarden.web.views import capacity, maintenance

if TYPE_CHECKING:
    from pgwarden.config import Settings
    from pgwarden.web.context import Context

logger = logging.getLogger(__name__)

Status = Literal["ok", "warning", "critical"]
RANK: dict[str, int] = {"ok": 0, "warning": 1, "critical": 2}
#: alerts seen within this are listed, as ``pgwarden alerts list`` does by default
ALERT_WINDOW = timedelta(days=7)
ALERT_LIMIT = 1000
#: the latency objective is measured over this much history
LATENCY_WINDOW = timedelta(hours=1)
#: the latency figure is read again after this long (served meanwhile)
LATENCY_TTL_S = 60.0
#: a capacity threshold this close is a warning
SOON_DAYS = 30
NO_LAUNCH = "not set up: no launch date"
STORE_HEALTH = "pgwarden report index-health stores one; the worker does, weekly"
#: characters of a reason shown in an item's text
REASON_CHARS = 140


class NotKnown(PgwardenError):
    """Not known yet."""


@dataclass(frozen=True)
class Figure:
    """What an item shows: the value (null: not known), as shown, its status.

    Not under the key ``text``: that one is hidden from the viewer with
    ``dashboard.hide_query_text`` (statement text).
    """

    value: Any
    display: str
    status: Status = "ok"
    note: str | None = None
    as_of: str | None = None


def unknown(text: str, note: str | None = None) -> Figure:
    return Figure(None, _short(text), "ok", None if note is None else _short(note))


@dataclass
class Reading:
    """What one answer reads from: the repository, the target when it answers."""

    ctx: Context
    repo: psycopg.Connection[Any]
    target: psycopg.Connection[Any] | None
    target_note: str | None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @cached_property
    def target_id(self) -> int | None:
        return self.ctx.target_id(self.repo)

    def known_id(self) -> int:
        if self.target_id is None:
            raise NotKnown("no history yet: run pgwarden collect")
        return self.target_id

    def live(self) -> psycopg.Connection[Any]:
        if self.target is None:
            raise NotKnown(self.target_note or "no connection to the target")
        return self.target

    @cached_property
    def performance(self) -> PerformanceMetrics:
        """``performance_metrics`` of the target, read once per answer."""
        return performance_metrics(
            self.repo, self.target_id, self.now, self.settings,
            target_name=self.ctx.target_name, target_conn=self.target,
            app_cache_ratio=self.ctx.app_cache_ratio, cache=self.ctx.hours,
        )  # fmt: skip

    @cached_property
    def metrics(self) -> dict[str, Any]:
        """As ``/api/admin/performance-metrics`` and ``pgwarden metrics`` print them."""
        return self.performance.as_dict()

    @cached_property
    def baseline(self) -> Baseline:
        """As ``pgwarden capacity baseline`` (the Capacity page's, reused)."""
        try:
            return capacity.baseline_of(self.ctx)
        except HTTPException as exc:
            raise NotKnown(str(exc.detail)) from exc


# Track 1: observability


def firing_alerts(r: Reading) -> Figure:
    """``pgwarden alerts list --state firing``: how many, how many critical."""
    found = alert_store.list_alerts(r.repo, "firing", r.now - ALERT_WINDOW, ALERT_LIMIT)
    severe = sum(a.severity in ("critical", "emergency") for a in found)
    text = f"{len(found)}" + (f" ({severe} critical)" if severe else "")
    return Figure(len(found), text, "critical" if severe else _warn(bool(found)))


def latency_objective(r: Reading) -> Figure:
    """The post-launch review's latency estimate (``pgwarden review``), last hour;
    read at most every ``LATENCY_TTL_S`` seconds (it weighs every statement)."""
    figure: Figure = r.ctx.reused(
        "overview.latency", lambda: _latency(r.ctx), LATENCY_TTL_S
    )
    return figure


def _latency(ctx: Context) -> Figure:
    s, now = ctx.settings, datetime.now(UTC)
    slo_ms, log_ms = review_report.slo_ms(s), s.slow_queries.warning_ms
    with ctx.repository() as repo, target_connection(ctx) as target:
        target_id = ctx.target_id(repo)
        if target_id is None:
            return unknown("no history yet: run pgwarden collect")
        facts = review_gather.repository(
            repo, target_id, now - LATENCY_WINDOW, now, slo_ms, log_ms
        )
        spread = {} if isinstance(target, str) else _spread(target)
    found = review_latency.latency(
        facts.bins, spread, s.reviews.latency_cv, slo_ms, log_ms,
        facts.slow.get("over_slo", 0), facts.slow.get("over_log", 0),
        s.slo.query_latency_share_pct,
    )  # fmt: skip
    share = found["share_under_pct"]
    if share is None:
        return unknown("no statements in the last hour")
    note = f"objective: {s.slo.query_latency_share_pct:g} % under {slo_ms:g} ms"
    return Figure(share, f"{share:g} % under {slo_ms:g} ms", _warn(not found["met"]),
                  note, now.isoformat())  # fmt: skip


def _spread(target: psycopg.Connection[Any]) -> dict[int, float]:
    """Each statement's stddev/mean from the target; assumed when unavailable."""
    try:
        return review_gather.spread(target)
    except PgwardenError:
        return {}


def cache_hit(r: Reading) -> Figure:
    """``pgwarden metrics``: the database cache hit ratio of the last interval."""
    ratio = r.metrics["cache_hit_ratio"]["database"]
    if ratio is None:
        return unknown(_first_note(r.metrics, "no interval collected yet"))
    objective = r.settings.slo.cache_hit_pct
    return Figure(ratio, f"{ratio * 100:.1f} %", _warn(ratio * 100 < objective),
                  f"objective: above {objective:g} %")  # fmt: skip


def error_rate(r: Reading) -> Figure:
    """``pgwarden metrics``: errors per minute over the alert window and their share
    of calls; its status is the ``error_rate`` rule's verdict on them."""
    window = r.settings.alerts.error_rate_window_minutes
    target_id = r.known_id()
    rates = r.performance.error_rates  # None only when the repository cannot say
    if rates is None:
        since = r.now - timedelta(minutes=window)
        rates = error_rates(r.repo, target_id, since, r.now)  # raises why
    if not rates.recorded or rates.per_minute is None:
        return unknown(
            "not recorded: no server log read, no application reports",
            "docs/runbooks/error_rate.md says how to record them",
        )
    facts = Facts(now=r.now, target=r.ctx.target_name,
                  sources=frozenset({ERRORS}), error_rates=rates)  # fmt: skip
    found = alert_rules.error_rate(facts, r.settings.alerts, Thresholds())
    status: Status = "ok"
    if found:
        status = "critical" if found[0].severity != "warning" else "warning"
    share = (
        "calls not recorded"
        if rates.share is None
        else f"{100 * rates.share:.2f} % of {rates.calls} calls"
    )
    classes = ", ".join(f"{k} {n}" for k, n in rates.by_class.items()) or "no errors"
    return Figure(rates.per_minute, f"{rates.per_minute:.2f} / min", status,
                  f"{share}; last {window:g} min: {classes}")  # fmt: skip


def _first_note(m: dict[str, Any], otherwise: str) -> str:
    return str(m["notes"][0]) if m["notes"] else otherwise


# Track 2: index and query lifecycle


def maintenance_due(r: Reading) -> Figure:
    """``pgwarden maintain plan``: operations due now.

    Bloat is not measured here (pgstattuple can take seconds): rebuilds, which
    need it, are only due inside the window, so outside it the count is the CLI's.
    """
    try:
        due = maintenance.planned(r.ctx).due
    except HTTPException as exc:
        raise NotKnown(str(exc.detail)) from exc
    window = Window.from_settings(r.settings)
    note = f"window {window.describe()}"
    if window.contains(r.now):
        note += " (open: rebuilds are on the Maintenance page)"
    return Figure(due, str(due), _warn(due > 0), note)


def index_findings(r: Reading) -> Figure:
    """The latest stored index health report (``pgwarden report index-health``)."""
    wanted = {"target_id": r.known_id(), "kind": health_report.KIND}
    found = pg.named_rows(r.repo, "web_overview", "latest_report", wanted)
    if not found:
        return unknown("no stored report yet", STORE_HEALTH)
    summary, at = found[0]["summary"], found[0]["created_at"]
    by = summary.get("by_severity", {})
    shown = [f"{by[s]} {s}" for s in ("critical", "warning", "info") if by.get(s)]
    status: Status = "critical" if by.get("critical") else _warn(by.get("warning"))
    return Figure(summary.get("total"), ", ".join(shown) or "none", status,
                  "from the stored report", at.isoformat())  # fmt: skip


def unused_indexes(r: Reading) -> Figure:
    """``pgwarden metrics``: indexes unused by index health's definition, of all."""
    m = r.metrics
    total, unused = len(m["index_usage"]), m["unused_indexes"]
    if unused is None or not total:
        return unknown(_first_note(m, "no index sample collected yet"))
    pct = round(100 * unused / total, 1)
    objective = r.settings.slo.unused_index_pct
    days = m["index_window_days"]
    note = f"no scan in {days} days; objective: below {objective:g} %"
    return Figure(pct, f"{unused} of {total} ({pct:g} %)", _warn(pct >= objective),
                  note)  # fmt: skip


# Track 3: scalability planning


def first_threshold(r: Reading) -> Figure:
    """``pgwarden capacity project``: the threshold crossed, or crossed soonest."""
    try:
        projection = project_capacity(r.baseline, Assumptions.of(r.settings))
    except NoGrowthEvidence:
        return unknown("not enough history yet", r.baseline.database.note)
    limits = [t for t in projection.thresholds if t["in_days"] is not None]
    if not limits:
        months = max(projection.assumptions.months, default=0)
        return Figure(None, f"none within {months} months")
    first = min(limits, key=lambda t: float(t["in_days"]))
    days = float(first["in_days"])
    text = "crossed" if first["crossed"] else f"{days:g} days"
    return Figure(days, text, _warn(days < SOON_DAYS), first["threshold"])


def growth(r: Reading) -> Figure:
    """``pgwarden capacity baseline``: database growth per day, and its evidence."""
    trend = r.baseline.database
    if trend.per_day is None:
        return unknown("not enough history yet", trend.note)
    return Figure(trend.per_day, human_bytes(trend.per_day), "ok",
                  "from " + trend.method.replace("-", " "))  # fmt: skip


# Track 4: operational governance


def reviews(r: Reading) -> Figure:
    """``pgwarden review schedule``: post-launch reviews due and overdue.

    Without a launch date there is no schedule: that is read first, from the
    repository alone (the schedule resolves the target by its identity).
    """
    s = r.settings
    dsn = r.ctx.target_dsn
    launch = review_store.resolve(
        r.repo, r.known_id(), s.reviews.launch_date, s.timezone
    )
    if launch is None:
        return unknown(NO_LAUNCH, "pgwarden review launch --date YYYY-MM-DD")
    if not dsn:
        raise NotKnown("no connection to the target configured")
    try:
        found = review_run.status(s, dsn, r.ctx.repo_dsn, r.now).on_time
    except NoLaunchDate:
        return unknown(NO_LAUNCH, "pgwarden review launch --date YYYY-MM-DD")
    return Figure(found.due + found.overdue,
                  f"{found.overdue} overdue, {found.due} due",
                  _warn(found.overdue > 0))  # fmt: skip


def change_requests(r: Reading) -> Figure:
    """``pgwarden ccb request list --status submitted``: awaiting the board."""
    found = board.list_requests(r.repo, "submitted")
    return Figure(len(found), str(len(found)), _warn(bool(found)))


def on_call(r: Reading) -> Figure:
    """``pgwarden oncall now``: the first layer's person now."""
    roster = from_settings(r.settings)
    if not roster.configured:
        return unknown("not set up: no roster",
                       "[oncall] people and layers in the settings")  # fmt: skip
    shifts = now_on_call(roster, r.now)
    first = shifts[0] if shifts else None
    if first is None or first.person is None:
        layer = first.layer if first else "first layer"
        return Figure(None, f"nobody ({layer}: a gap)", "warning")
    return Figure(first.person, f"{first.person} ({first.layer})")


def _warn(condition: object) -> Status:
    return "warning" if condition else "ok"


def _short(text: str) -> str:
    lines = text.strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= REASON_CHARS else line[: REASON_CHARS - 1] + "…"


@dataclass(frozen=True)
class Item:
    """One line of a track: what it is, where it is shown in full, how it reads."""

    label: str
    page: str
    read: Callable[[Reading], Figure]

    def as_dict(self, r: Reading) -> dict[str, Any]:
        return {"label": self.label, "page": self.page, **self.figure(r).__dict__}

    def figure(self, r: Reading) -> Figure:
        """The figure, or why it is unknown: a failure costs this item only."""
        try:
            return self.read(r)
        except NotKnown as exc:
            return unknown(str(exc))
        except (PgwardenError, psycopg.Error) as exc:
            logger.warning("overview item %r failed: %s", self.label, exc)
            return Figure(None, "unavailable: " + _short(str(exc)), "warning")


@dataclass(frozen=True)
class Track:
    track: int
    title: str
    page: str
    items: tuple[Item, ...]

    def as_dict(self, r: Reading) -> dict[str, Any]:
        """The items; the track's status is its worst, its page that item's."""
        items = [i.as_dict(r) for i in self.items]
        worst = max(items, key=lambda i: RANK[i["status"]], default=None)
        status = "ok" if worst is None else worst["status"]
        page = self.page if status == "ok" or worst is None else worst["page"]
        return {"track": self.track, "title": self.title, "page": page,
                "status": status, "items": items}  # fmt: skip


TRACKS = (
    Track(1, "Observability", "/alerts", (
        Item("firing alerts", "/alerts", firing_alerts),
        Item("query latency (last hour)", "/queries", latency_objective),
        Item("cache hit ratio", "/", cache_hit),
        Item("errors per minute", "/", error_rate),
    )),
    Track(2, "Index and query lifecycle", "/maintenance", (
        Item("maintenance operations due", "/maintenance", maintenance_due),
        Item("index health findings", "/indexes", index_findings),
        Item("unused indexes", "/indexes", unused_indexes),
    )),
    Track(3, "Scalability planning", "/capacity", (
        Item("days to the first capacity threshold", "/capacity", first_threshold),
        Item("database growth per day", "/capacity", growth),
    )),
    Track(4, "Operational governance", "/governance", (
        Item("post-launch reviews due or overdue", "/governance", reviews),
        Item("change requests awaiting a decision", "/governance", change_requests),
        Item("on call now", "/governance", on_call),
    )),
)  # fmt: skip


@contextmanager
def target_connection(ctx: Context) -> Iterator[psycopg.Connection[Any] | str]:
    """A connection to the target, or why there is none."""
    if not ctx.target_dsn:
        yield "no connection to the target configured"
        return
    try:
        conn = pg.connect(
            ctx.target_dsn, statement_timeout_ms=ctx.settings.statement_timeout_ms
        )
    except PgwardenError as exc:
        yield f"target unreachable: {exc}"
        return
    with conn:
        yield conn


def summary(ctx: Context) -> dict[str, Any]:
    """Every track, read over one repository and one target connection."""
    with ctx.repository() as repo, target_connection(ctx) as target:
        if isinstance(target, str):
            r = Reading(ctx, repo, None, target)
        else:
            r = Reading(ctx, repo, target, None)
        return {
            "generated_at": r.now.isoformat(),
            "tracks": [t.as_dict(r) for t in TRACKS],
        }


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(prefix="/api/admin/overview", tags=["overview"])

    @routes.get("")
    def overview(response: Response) -> dict[str, Any]:
        """The health summary: per track, its items and the worst status."""
        response.headers["Cache-Control"] = "no-store"
        return summary(ctx)

    return routes
