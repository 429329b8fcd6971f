"""``/api/admin/maintenance``: the data of the dashboard's Maintenance page.

The plan is :func:`pgwarden.maintain.cycle.plan_now` (``pgwarden maintain plan``),
the runs :mod:`pgwarden.maintain.store` (``maintain history`` and ``maintain
status``), the stale tables :func:`pgwarden.maintain.stale_tables`. Progress and
freeze ages are read from the target's statistics views. The admin may run what
is due now: :func:`pgwarden.maintain.run_cycle`, exactly as ``pgwarden maintain run``
(the window's rules included), one cycle at a time per app, audited.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg
from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from pgwarden import pg
from pgwarden.maintain import Cycle, Window, run_cycle, stale_tables, store
from pgwarden.maintain.cycle import guard, plan_now
from pgwarden.slowlog.report import parse_since
from pgwarden.web import audit
from pgwarden.web.auth import role_of
from pgwarden.web.limits import Name

if TYPE_CHECKING:
    from pgwarden.web.context import Context

GROUP = "web_maintenance"
NO_TARGET = "no history for this target yet: run pgwarden collect"
NO_DSN = "maintenance reads the target"
#: the page does not measure bloat: pgstattuple reads of large tables take seconds
NOT_MEASURED = (
    "bloat is not measured on this page (pgstattuple reads can take seconds): "
    "VACUUM FULL and REINDEX show 'bloat not measured'; pgwarden maintain plan "
    "measures it"
)
BUSY = "a maintenance cycle started from the dashboard is running: try again later"
#: statuses that make ``maintain run`` exit 1
FAILED = frozenset({"timeout", "failed", "cancelled"})
STALE = ("table", "modified_since_analyze", "last_analyzed")
All = Query(False, description="Also list what is not due, and why.")
Since = Query("7d", max_length=20, description="Runs started within: 1d, 7d, 30d.")
Limit = Query(200, ge=1, le=10_000, description="At most this many tables.")


#: the plan is read again after this long, and served meanwhile (it reads every
#: table's statistics: half a second with pgwarden's own history in the database)
PLAN_TTL_S = 60.0


class Actor(BaseModel):
    by: Name = Field(description="Who runs it (recorded in the audit log).")


@dataclass(frozen=True)
class Planned:
    """``maintain plan`` of the target, and when it was read."""

    items: list[Any]
    notes: list[str]
    at: datetime

    @property
    def due(self) -> int:
        return sum(i.due for i in self.items)


def planned(ctx: Context) -> Planned:
    """:func:`plan_now` without measuring bloat, read at most every ``PLAN_TTL_S``
    seconds; 503 without the target's DSN, 404 without history."""
    found: Planned = ctx.reused("maintenance.plan", lambda: _plan(ctx), PLAN_TTL_S)
    return found


def _plan(ctx: Context) -> Planned:
    now, settings = datetime.now(UTC), ctx.settings
    with ctx.target(NO_DSN) as target, ctx.repository() as repo:
        target_id = _known(ctx.target_id(repo))
        guard(target, settings)
        items, facts = plan_now(settings, target, repo, target_id, now, measure=False)
    return Planned(items, list(facts.notes), now)


def run_answer(cycle: Cycle) -> dict[str, Any]:
    """What ``maintain run --format json`` prints."""
    return {
        "summary": cycle.summary(),
        "runs": [o.as_dict() for o in cycle.outcomes],
        "stale_tables": [f"{t.schema}.{t.name}" for t in cycle.stale],
        "notes": cycle.notes,
    }


def run_outcome(cycle: Cycle) -> tuple[str, dict[str, Any]]:
    """``failed`` when ``maintain run`` would exit non-zero; the statuses counted."""
    failed = any(o.denied or o.status in FAILED for o in cycle.outcomes)
    counts = dict(Counter(str(o.status) for o in cycle.outcomes))
    return ("failed" if failed else "done"), {"summary": cycle.summary(),
                                              "statuses": counts}  # fmt: skip


def record(
    ctx: Context, request: Request, actor: Actor, outcome: str, detail: dict[str, Any]
) -> None:
    with ctx.repository() as repo:
        audit.record(
            repo, ctx.target_id(repo), role=role_of(request),
            action="maintenance.run", outcome=outcome, actor=actor.by,
            subject=ctx.target_name, detail=detail,
        )  # fmt: skip


def window_times(window: Window, now: datetime) -> dict[str, Any]:
    """Whether the window is open at ``now``, and when it next opens and closes.

    The window closes when its complement (``end`` to ``start``) opens.
    """
    closing = Window(window.end, window.start, window.timezone)
    is_open = window.contains(now)
    opens = window.next_start(now)
    closes = closing.next_start(now if is_open else opens)
    return {
        "span": window.describe(),
        "timezone": window.timezone,
        "open": is_open,
        "now": now.astimezone(window.zone).isoformat(),
        "opens_at": opens.isoformat(),
        "closes_at": closes.isoformat(),
    }


def _since(text: str) -> datetime:
    try:
        return datetime.now(UTC) - parse_since(text)
    except ValueError as exc:
        raise HTTPException(422, f"since: {exc}") from exc


def _known(target_id: int | None) -> int:
    if target_id is None:
        raise HTTPException(404, NO_TARGET)
    return target_id


def _progress(target: psycopg.Connection[Any], running: list[store.Run]) -> list[Any]:
    """Operations running in the database; pgwarden's carry their run's id."""
    runs = {r.backend_pid: r.id for r in running if r.backend_pid is not None}
    rows = pg.fetch_all(target, pg.query(GROUP, "progress"))
    return [r | {"run_id": runs.get(r["pid"])} for r in rows]


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(prefix="/api/admin/maintenance", tags=["maintenance"])
    settings = ctx.settings
    running = threading.Lock()

    @routes.get("/plan")
    def plan(all: bool = All) -> dict[str, Any]:
        """What is due per table and index, and why (``maintain plan``), as read at
        ``at`` (at most a minute ago)."""
        found = planned(ctx)
        window = Window.from_settings(settings)
        shown = found.items if all else [
            i for i in found.items if i.due or "waits" in i.reason
        ]  # fmt: skip
        return {
            "target": ctx.target_name,
            "at": found.at.isoformat(),
            "window": {"span": window.describe(), "open": window.contains(found.at)},
            "items": [i.as_dict() for i in shown],
            "notes": [*found.notes, NOT_MEASURED],
            "due": found.due,
            "planned": len(found.items),
        }

    @routes.get("/window")
    def window() -> dict[str, Any]:
        """The maintenance window: open now, next opening and closing (its zone)."""
        return window_times(Window.from_settings(settings), datetime.now(UTC))

    @routes.get("/status")
    def status() -> dict[str, Any]:
        """Runs recorded as running, their progress, stale tables (``status``)."""
        with ctx.repository() as repo:
            target_id = ctx.target_id(repo)
            running = [] if target_id is None else store.running(repo, target_id)
        with ctx.target(NO_DSN) as tgt:
            stale = stale_tables(tgt, settings)
            progress = _progress(tgt, running)
        rows = [(f"{t.schema}.{t.name}", t.mod_since_analyze, t.last_analyzed)
                for t in stale]  # fmt: skip
        return {
            "target": ctx.target_name,
            "running": [r.as_dict() for r in running],
            "stale_tables": [dict(zip(STALE, r, strict=True)) for r in rows],
            "progress": progress,
        }

    @routes.get("/history")
    def history(since: str = Since) -> list[dict[str, Any]]:
        """Maintenance runs started within ``since``, oldest first (``history``)."""
        start = _since(since)
        with ctx.repository() as repo:
            target_id = ctx.target_id(repo)
            runs = [] if target_id is None else store.history(repo, target_id, start)
        return [r.as_dict() for r in runs]

    @routes.get("/wraparound")
    def wraparound(limit: int = Limit) -> dict[str, Any]:
        """Transaction ID and multixact freeze ages per table, oldest first."""
        with ctx.target(NO_DSN) as tgt:
            database = pg.fetch_one(tgt, pg.query(GROUP, "database_age"))
            tables = pg.fetch_all(tgt, pg.query(GROUP, "wraparound"), [limit])
        return {
            "database": database,
            "tables": tables,
            "count": tables[0]["tables"] if tables else 0,
            "freeze_age_pct": settings.maintenance.freeze_age_pct,
        }

    @routes.post("/run")
    def run(request: Request, actor: Actor) -> dict[str, Any]:
        """Run what is due now, as ``pgwarden maintain run`` (admin only)."""
        dsn = ctx.live_dsn(NO_DSN)
        if not running.acquire(blocking=False):
            record(ctx, request, actor, "refused", {"reason": BUSY})
            raise HTTPException(409, BUSY)
        started = time.monotonic()
        outcome, detail = "failed", dict[str, Any]()
        try:
            cycle = run_cycle(settings, dsn, ctx.repo_dsn, trigger="manual")
            outcome, detail = run_outcome(cycle)
            return run_answer(cycle)
        except Exception as exc:
            detail = {"error": str(exc).splitlines()[0] if str(exc) else repr(exc)}
            raise
        finally:
            running.release()
            ctx.forget("maintenance.plan")  # what ran is no longer due
            seconds = round(time.monotonic() - started, 3)
            record(ctx, request, actor, outcome, detail | {"seconds": seconds})

    return routes
