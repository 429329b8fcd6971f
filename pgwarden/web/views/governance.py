"""``/api/admin/governance``: the data of the dashboard's Governance page.

Read only: votes, approvals and every other write stay in the CLI, where the
voter's identity and the decision log's key are handled. Each answer comes from
the function the matching command prints with ``--format json``:
``ccb request list`` and ``request show`` (requests, votes), ``ccb log --verify``
(the decision log and its check), ``oncall now`` and ``oncall schedule``
(``oncall export-ical`` for the calendar), ``review schedule`` and
``rehearse list``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from pgwarden.errors import ConfigurationError
from pgwarden.ops.ccb import board, quorum, witness
from pgwarden.ops.oncall import (
    Roster,
    Shift,
    calendar,
    escalation_target,
    from_settings,
    now_on_call,
    on_call,
    shifts,
)
from pgwarden.ops.rehearse import store as rehearse_store
from pgwarden.ops.review import NoLaunchDate
from pgwarden.ops.review import run as review_run

if TYPE_CHECKING:
    from pgwarden.config import Settings
    from pgwarden.web.context import Context

NO_ROSTER = "No on-call roster configured: add [oncall] people and layers to the \
settings (see docs/ONCALL.md)."
NO_TARGET_DSN = "the dashboard was started without the target's address: \
reviews are scheduled by the target's identity"


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(prefix="/api/admin/governance", tags=["governance"])

    @routes.get("/ccb")
    def ccb(limit: int = Query(50, ge=1, le=200)) -> dict[str, Any]:
        """Change requests, newest first, with their votes and the quorum tally."""
        rules = _rules(ctx.settings)
        veto = _oncall_voter(ctx.settings)
        with ctx.repository() as conn:
            found = board.list_requests(conn, None, limit)
            requests = [_request(conn, r, rules, veto) for r in found]
        return {"rules": _rules_dict(rules), "on_call": veto, "requests": requests}

    @routes.get("/log")
    def log(limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
        """The decision log's newest entries and the check of the whole log."""
        with ctx.repository() as conn:
            entries = board.log_entries(conn)
            name = board.log_identity(conn)
        return {
            "total": len(entries),
            "entries": [_entry(e) for e in reversed(entries[-limit:])],
            "verify": verify(ctx.settings, entries, name),
        }

    @routes.get("/oncall")
    def oncall(weeks: int = Query(4, ge=1, le=104)) -> dict[str, Any]:
        """Who is on call now on every layer, the escalation chain, and the shifts
        of the next ``weeks`` weeks."""
        roster = from_settings(ctx.settings)
        if not roster.configured:
            return {
                "configured": False,
                "note": NO_ROSTER,
                "now": [],
                "escalation": [],
                "schedule": [],
            }
        at = datetime.now(UTC)
        ahead = _ahead(roster, at, weeks)
        return {
            "configured": True,
            "timezone": roster.timezone,
            "now": [_current(s, ahead) for s in now_on_call(roster, at)],
            "escalation": [
                {"layer": f"L{n}", "person": escalation_target(roster, n, at)}
                for n in (3, 4)
            ],
            "weeks": weeks,
            "schedule": [_shift(s) for s in ahead],
        }

    @routes.get("/oncall.ics")
    def oncall_ics(weeks: int = Query(8, ge=1, le=104)) -> Response:
        """The schedule as an RFC 5545 calendar (``oncall export-ical``)."""
        roster = from_settings(ctx.settings)
        if not roster.configured:
            raise HTTPException(404, NO_ROSTER)
        at = datetime.now(UTC)
        text = calendar(_ahead(roster, at, weeks), "pgwarden on-call", at)
        return Response(
            text,
            media_type="text/calendar",
            headers={
                "Content-Disposition": 'attachment; filename="oncall.ics"',
                "Cache-Control": "no-store",
            },
        )

    @routes.get("/reviews")
    def reviews() -> dict[str, Any]:
        """The post-launch reviews: due, overdue, done on time or late."""
        if ctx.target_dsn is None:
            return {"launch": None, "reviews": [], "note": NO_TARGET_DSN}
        try:
            found = review_run.status(
                ctx.settings, ctx.target_dsn, ctx.repo_dsn, datetime.now(UTC)
            )
        except NoLaunchDate as exc:
            return {"launch": None, "reviews": [], "note": str(exc)}
        return found.as_dict()

    @routes.get("/rehearsals")
    def rehearsals(limit: int = Query(20, ge=1, le=200)) -> dict[str, Any]:
        """Stored release rehearsals, newest first: go or no-go, when, which plan."""
        with ctx.repository() as conn:
            found = rehearse_store.list_rehearsals(conn, limit)
        return {"rehearsals": [_plain(r) for r in found]}

    return routes


def _rules(settings: Settings) -> quorum.Rules:
    cfg = settings.ccb
    return quorum.Rules(
        tuple(cfg.binding_voters),
        cfg.min_approvals,
        cfg.oncall_veto,
        cfg.max_rejections,
    )


def _rules_dict(rules: quorum.Rules) -> dict[str, Any]:
    return {
        "binding_voters": list(rules.binding_voters),
        "min_approvals": rules.min_approvals,
        "oncall_veto": rules.oncall_veto,
        "max_rejections": rules.max_rejections,
    }


def _oncall_voter(settings: Settings) -> str | None:
    """Who holds the veto now, as ``ccb vote`` finds them."""
    roster = from_settings(settings)
    if not roster.configured:
        return None
    layer = settings.ccb.oncall_layer or roster.layers[0].name
    return on_call(roster, layer, datetime.now(UTC))


def _request(
    conn: psycopg.Connection[Any],
    req: board.Request,
    rules: quorum.Rules,
    veto: str | None,
) -> dict[str, Any]:
    """A request as ``ccb request show --format json`` gives it, without its SQL,
    with the votes counted (each voter's last) and the quorum's decision so far."""
    data = req.as_dict()
    data["has_migration"] = bool(data.pop("migration_sql"))
    cast = board.votes(conn, req.id)
    data["votes"] = [v.__dict__ for v in cast]
    counted = quorum.latest(cast)
    data["tally"] = {
        kind: sum(v.vote == kind for v in counted) for kind in quorum.VOTES
    }
    outcome = quorum.decide(cast, rules, veto)
    data["quorum"] = {
        "decision": outcome.decision,
        "approvals": outcome.approvals,
        "rejections": outcome.rejections,
        "reason": outcome.reason,
    }
    return data


def _entry(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": entry["seq"],
        "ts": entry["ts"].isoformat(),
        "request_id": entry["request_id"],
        "kind": entry["kind"],
        "actor": entry["actor"],
        "detail": entry["detail"],
    }


def verify(
    settings: Settings, entries: list[dict[str, Any]], name: str
) -> dict[str, Any]:
    """``ccb log --verify`` without moving the witness: intact, broken at the first
    entry that does not hold, or not verified (and why)."""
    key = settings.ccb.log_key
    secret = None if key is None else key.get_secret_value()
    path = witness.path_for(witness.directory(settings.ccb.witness_dir), name)
    try:
        found = witness.check(entries, name, secret, path)
    except ConfigurationError as exc:
        return {
            "status": "not verified",
            "reason": str(exc),
            "entries": len(entries),
            "signed": False,
            "broken_seq": None,
            "head": None,
            "witness": None,
        }
    seen = found.witness
    answer = {
        "entries": found.entries,
        "signed": found.signed,
        "head": None if found.head is None else f"{found.head.seq}:{found.head.hash}",
        "witness": None if seen is None else {"seq": seen.seq, "seen_at": seen.seen_at},
        "broken_seq": None,
        "reason": None,
    }
    if found.broken is not None:
        return answer | {
            "status": "broken",
            "broken_seq": found.broken.seq,
            "reason": found.broken.reason,
        }
    if found.missing_key is not None:
        return answer | {"status": "not verified", "reason": str(found.missing_key)}
    return answer | {"status": "intact"}


def _ahead(roster: Roster, at: datetime, weeks: int) -> list[Shift]:
    return shifts(roster, at, at + timedelta(weeks=weeks))


def _current(now: Shift, ahead: list[Shift]) -> dict[str, Any]:
    """A shift on call now, ending at its handoff (``now_on_call`` sees one second
    of it; the schedule sees it whole)."""
    whole = next(
        (
            s
            for s in ahead
            if s.layer == now.layer and s.start <= now.start and s.person == now.person
        ),
        now,
    )
    return _shift(now) | {"end": whole.end.isoformat()}


def _shift(s: Shift) -> dict[str, Any]:
    return {
        "layer": s.layer,
        "person": s.person,
        "start": s.start.isoformat(),
        "end": s.end.isoformat(),
        "override": s.override,
    }


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
