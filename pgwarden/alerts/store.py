"""Alert state, silences and deliveries in the repository schema."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from pgwarden import pg
from pgwarden.alerts.channels import Delivery
from pgwarden.alerts.model import Alert, Notice
from pgwarden.alerts.mute import Silence

GROUP = "alerts_repository"
FEATURE = "alert state (run pgwarden init)"
_ALERT_FIELDS = frozenset(Alert.__dataclass_fields__)


def rows(
    conn: psycopg.Connection[Any], name: str, params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    return pg.named_rows(conn, GROUP, name, params, FEATURE)


def to_alert(row: Mapping[str, Any], target: str | None = None) -> Alert:
    values = {k: v for k, v in row.items() if k in _ALERT_FIELDS}
    values["target"] = target if target is not None else row.get("target", "")
    return Alert(**values)


def open_alerts(
    conn: psycopg.Connection[Any], target_id: int, target: str
) -> list[Alert]:
    found = rows(conn, "open_alerts", {"target_id": target_id})
    return [to_alert(r, target) for r in found]


def save(
    conn: psycopg.Connection[Any], target_id: int, alerts: Iterable[Alert]
) -> list[Alert]:
    """Insert new alerts and update the others; the alerts with their ids."""
    saved = []
    for alert in alerts:
        params = {**asdict(alert), "target_id": target_id,
                  "labels": Jsonb(dict(alert.labels))}  # fmt: skip
        if alert.id is None:
            row = rows(conn, "insert_alert", params)[0]
            alert = replace(alert, id=int(row["id"]))
        else:
            rows(conn, "update_alert", params)
        saved.append(alert)
    return saved


def record_delivery(
    conn: psycopg.Connection[Any],
    notice: Notice,
    delivery: Delivery,
    recipient: str | None,
    now: datetime,
) -> None:
    rows(conn, "insert_notification", {
        "alert_id": notice.alert.id, "ts": now, "kind": notice.kind,
        "level": notice.level, "recipient": recipient, "channel": delivery.channel,
        "ok": delivery.ok, "attempts": delivery.attempts, "error": delivery.error,
    })  # fmt: skip


def list_alerts(
    conn: psycopg.Connection[Any],
    state: str | None,
    since: datetime,
    limit: int = 100,
) -> list[Alert]:
    params = {"state": state, "since": since, "limit": limit}
    return [to_alert(r) for r in rows(conn, "list_alerts", params)]


def get(conn: psycopg.Connection[Any], alert_id: int) -> Alert | None:
    found = rows(conn, "get_alert", {"id": alert_id})
    return to_alert(found[0]) if found else None


def notifications(conn: psycopg.Connection[Any], alert_id: int) -> list[dict[str, Any]]:
    return rows(conn, "notifications", {"alert_id": alert_id})


def ack(conn: psycopg.Connection[Any], alert_id: int, by: str, now: datetime) -> bool:
    """Acknowledge a pending or firing alert; False if not open or already acked."""
    return bool(rows(conn, "ack_alert", {"id": alert_id, "by": by, "now": now}))


def resolve(
    conn: psycopg.Connection[Any], alert_id: int, by: str, now: datetime
) -> bool:
    return bool(rows(conn, "resolve_alert", {"id": alert_id, "by": by, "now": now}))


def resolve_stale(
    conn: psycopg.Connection[Any], target_id: int, before: datetime, now: datetime
) -> list[dict[str, Any]]:
    """Resolve, as ``stale``, the open alerts of targets not seen since ``before``.

    A target nobody collects or evaluates any more (a retired server, an address
    that no longer leads anywhere) would otherwise keep its alerts firing forever.
    The target being evaluated (``target_id``) is never stale.
    """
    params = {"target_id": target_id, "before": before, "now": now}
    return rows(conn, "resolve_stale", params)


def add_silence(
    conn: psycopg.Connection[Any], silence: Silence, target_id: int | None = None
) -> Silence:
    row = rows(conn, "insert_silence", {
        "target_id": target_id, "rule": silence.rule,
        "labels": Jsonb(dict(silence.labels)), "starts_at": silence.starts_at,
        "ends_at": silence.ends_at, "comment": silence.comment,
        "created_by": silence.created_by,
    })[0]  # fmt: skip
    return replace(silence, id=int(row["id"]))


def _silence(row: Mapping[str, Any]) -> Silence:
    return Silence(
        starts_at=row["starts_at"], ends_at=row["ends_at"], comment=row["comment"],
        created_by=row["created_by"], rule=row["rule"], labels=row["labels"],
        id=row["id"],
    )  # fmt: skip


def active_silences(
    conn: psycopg.Connection[Any], target_id: int, now: datetime
) -> list[Silence]:
    found = rows(conn, "active_silences", {"target_id": target_id, "now": now})
    return [_silence(r) for r in found]


def silences(conn: psycopg.Connection[Any], now: datetime) -> list[Silence]:
    return [_silence(r) for r in rows(conn, "list_silences", {"now": now})]


def fired_since(
    conn: psycopg.Connection[Any], since: datetime, target_id: int | None = None
) -> list[dict[str, Any]]:
    return rows(conn, "fired_since", {"since": since, "target_id": target_id})
