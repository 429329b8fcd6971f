"""One evaluation: gather facts, run the rules, step the lifecycle, notify.

State changes are committed under a per-target lock before anything is sent, so two
workers evaluating the same target notify once. Channels are called afterwards; a
failing channel is recorded and never stops the evaluation or the other channels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.alerts import maintenance, store
from pgwarden.alerts.channels import Channel, Delivery, Retry, build, deliver, wants
from pgwarden.alerts.gather import gather
from pgwarden.alerts.lifecycle import Escalation, Policy, step
from pgwarden.alerts.message import Message, group
from pgwarden.alerts.model import Alert, Notice
from pgwarden.alerts.mute import MaintenanceWindow, Mutes
from pgwarden.alerts.rules import Rule, active_rules, evaluate_rules, thresholds
from pgwarden.config import Settings
from pgwarden.ops.oncall import Person, Roster, escalation_target, from_settings
from pgwarden.slowlog.store import ensure_target


@dataclass(frozen=True)
class Evaluation:
    now: datetime
    target: str
    evaluated: tuple[str, ...]
    changed: tuple[Alert, ...]
    notices: tuple[Notice, ...]
    deliveries: tuple[Delivery, ...]
    notes: tuple[str, ...]

    def summary(self) -> str:
        firing = sum(a.state == "firing" for a in self.changed)
        failed = sum(not d.ok for d in self.deliveries)
        return (
            f"{len(self.evaluated)} rules, {firing} firing, {len(self.notices)} "
            f"notices, {len(self.deliveries)} deliveries ({failed} failed)"
        )


def policy(settings: Settings, rules: Sequence[Rule], mutes: Mutes) -> Policy:
    roster = from_settings(settings)
    oc = settings.oncall
    escalation = None
    by_severity = oc.ack_timeout_minutes_by_severity
    if roster.configured:
        escalation = Escalation(
            timedelta(minutes=oc.ack_timeout_minutes),
            {k: timedelta(minutes=v) for k, v in by_severity.items()},
            tuple(oc.executive_severities),
        )  # fmt: skip
    return Policy(
        repeat=timedelta(hours=settings.alerts.repeat_interval_hours),
        mutes=mutes, escalation=escalation,
        for_={r.name: r.for_ for r in rules},
    )  # fmt: skip


def mutes(
    settings: Settings, silences: Sequence[Any], caused: Mapping[str, str] | None = None
) -> Mutes:
    window = MaintenanceWindow.from_settings(settings)
    return Mutes(
        tuple(silences), window, tuple(settings.alerts.maintenance_muted_rules),
        dict(caused or {}),
    )  # fmt: skip


def evaluate_once(
    repo_conn: psycopg.Connection[Any],
    target: str,
    settings: Settings,
    now: datetime,
    *,
    target_conn: psycopg.Connection[Any] | None = None,
    channels: Sequence[Channel] | None = None,
    retry: Retry | None = None,
) -> Evaluation:
    """Evaluate every rule once for ``target`` at ``now`` and notify."""
    target_id = ensure_target(repo_conn, target)
    facts = gather(repo_conn, target_id, target, now, settings.alerts, target_conn)
    rules = active_rules(settings.alerts)
    t = thresholds(settings.slow_queries)
    observations, evaluated = evaluate_rules(rules, facts, settings.alerts, t)
    runs = maintenance.running(repo_conn, target)
    caused = maintenance.caused(facts, observations, runs, settings.alerts, t)
    with repo_conn.transaction():
        repo_conn.execute(
            pg.query("alerts_repository", "lock_target"), {"target_id": target_id}
        )
        silenced = store.active_silences(repo_conn, target_id, now)
        found = store.open_alerts(repo_conn, target_id, target)
        changed, notices = step(
            target, found, observations, evaluated, now,
            policy(settings, rules, mutes(settings, silenced, caused)),
        )  # fmt: skip
        saved = store.save(repo_conn, target_id, changed)
        stale = timedelta(minutes=settings.alerts.stale_after_minutes)
        gone = store.resolve_stale(repo_conn, target_id, now - stale, now)
    by_fp = {a.fingerprint: a for a in saved}
    notices = [replace(n, alert=by_fp[n.alert.fingerprint]) for n in notices]
    if channels is None:
        channels = build(settings.alerts)
    if retry is None:
        retry = Retry(settings.alerts.retries, settings.alerts.retry_backoff_seconds)
    deliveries = dispatch(
        repo_conn, notices, channels, from_settings(settings), now, retry
    )
    return Evaluation(
        now, target, tuple(sorted(evaluated)), tuple(saved), tuple(notices),
        tuple(deliveries), (*facts.notes, *_stale_notes(gone, stale)),
    )  # fmt: skip


def _stale_notes(
    gone: Sequence[Mapping[str, Any]], after: timedelta
) -> tuple[str, ...]:
    minutes = after.total_seconds() / 60
    return tuple(
        f"alert {g['id']} ({g['rule']}) of {g['target']} resolved as stale: the target "
        f"was not collected or evaluated for {minutes:g} minutes"
        for g in gone
    )


def dispatch(
    conn: psycopg.Connection[Any],
    notices: Sequence[Notice],
    channels: Sequence[Channel],
    roster: Roster,
    now: datetime,
    retry: Retry,
) -> list[Delivery]:
    """Send each grouped message to every channel that wants it; record each."""
    done: list[Delivery] = []
    for message in group(notices):
        message = replace(message, recipient=_recipient(roster, message, now))
        name = message.recipient.name if message.recipient else None
        for channel in channels:
            if not wants(channel, message):
                continue
            delivery = deliver(channel, message, retry)
            done.append(delivery)
            for alert in message.alerts:
                notice = Notice(message.kind, alert, message.level)
                store.record_delivery(conn, notice, delivery, name, now)
    return done


def _recipient(roster: Roster, message: Message, now: datetime) -> Person | None:
    if not roster.configured:
        return None
    name = escalation_target(roster, message.level, now)
    if name is None:
        return None
    return roster.people.get(name, Person(name))
