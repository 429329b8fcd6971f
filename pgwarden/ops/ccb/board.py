"""Change requests, votes, deployments and the decision log in the repository.

Every function that writes takes the decision log's key (``ccb.log_key``); without
one, :func:`append` reads it from the settings (environment, ``./pgwarden.toml``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from pgwarden import pg
from pgwarden.config import load_settings
from pgwarden.errors import ConfigurationError, PgwardenError
from pgwarden.ops.ccb import decisions as decision_log
from pgwarden.ops.ccb import quorum
from pgwarden.ops.ccb import states as ccb
from pgwarden.ops.ccb.risk import Risk

GROUP = "ccb"
FEATURE = "change control (run pgwarden init)"
EDITABLE = (
    "title",
    "description",
    "owner",
    "window_start",
    "window_end",
    "rollback_plan",
    "migration_sql",
)
DEPLOYED_STATE = {"success": "done", "hotfix": "done", "rolled-back": "rolled_back"}


class RequestNotFound(PgwardenError):
    """No such change request."""


@dataclass(frozen=True)
class Request:
    id: int
    title: str
    description: str
    owner: str
    window_start: datetime | None
    window_end: datetime | None
    rollback_plan: str
    migration_sql: str | None
    status: str
    risk_class: str | None
    risk_reasons: list[str]
    risk_tables: dict[str, int | None]
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {f.name: _json(getattr(self, f.name)) for f in fields(self)}


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else value


def rows(
    conn: psycopg.Connection[Any], name: str, params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    return pg.named_rows(conn, GROUP, name, params, FEATURE)


def _request(row: Mapping[str, Any]) -> Request:
    return Request(**{f.name: row[f.name] for f in fields(Request)})


def _risk_params(risk: Risk | None) -> dict[str, Any]:
    if risk is None:
        return {"risk_class": None, "risk_reasons": Jsonb([]), "risk_tables": Jsonb({})}
    data = risk.as_dict()
    return {
        "risk_class": risk.risk_class,
        "risk_reasons": Jsonb(data["reasons"]),
        "risk_tables": Jsonb(data["tables"]),
    }


def create(
    conn: psycopg.Connection[Any],
    values: Mapping[str, Any],
    risk: Risk | None,
    by: str,
    *,
    key: str | None = None,
) -> Request:
    params = {k: values.get(k) for k in EDITABLE} | _risk_params(risk)
    params["description"] = params["description"] or ""
    params["rollback_plan"] = params["rollback_plan"] or ""
    with conn.transaction():
        req = _request(rows(conn, "insert_request", params)[0])
        append(
            conn,
            req.id,
            "created",
            by,
            {"title": req.title, "risk_class": req.risk_class},
            key=key,
        )
    return req


def get(conn: psycopg.Connection[Any], request_id: int) -> Request:
    found = rows(conn, "get_request", {"id": request_id})
    if not found:
        raise RequestNotFound(f"no change request {request_id}")
    return _request(found[0])


def _locked(conn: psycopg.Connection[Any], request_id: int) -> Request:
    found = rows(conn, "lock_request", {"id": request_id})
    if not found:
        raise RequestNotFound(f"no change request {request_id}")
    return _request(found[0])


def list_requests(
    conn: psycopg.Connection[Any], status: str | None, limit: int = 200
) -> list[Request]:
    params = {"status": status, "pending": list(ccb.PENDING), "limit": limit}
    return [_request(r) for r in rows(conn, "list_requests", params)]


def update(
    conn: psycopg.Connection[Any],
    request_id: int,
    changes: Mapping[str, Any],
    risk: Risk | None,
    by: str,
    *,
    key: str | None = None,
) -> Request:
    """Change the fields of a request that is not decided yet."""
    with conn.transaction():
        req = _locked(conn, request_id)
        if req.status not in ("draft", "submitted", "deferred"):
            raise ccb.TransitionError(
                f"request {request_id} is {req.status}: only draft, submitted or "
                "deferred requests can be edited"
            )
        params = {k: getattr(req, k) for k in EDITABLE} | dict(changes)
        params |= (
            _risk_params(risk)
            if "migration_sql" in changes
            else {
                "risk_class": req.risk_class,
                "risk_reasons": Jsonb(req.risk_reasons),
                "risk_tables": Jsonb(req.risk_tables),
            }
        )
        new = _request(rows(conn, "update_request", {**params, "id": request_id})[0])
        append(conn, request_id, "updated", by, {"fields": sorted(changes)}, key=key)
    return new


def transition(
    conn: psycopg.Connection[Any],
    request_id: int,
    wanted: str,
    by: str,
    reason: str = "",
    *,
    key: str | None = None,
) -> Request:
    """Move a request to ``wanted``; approval and rejection come from votes."""
    if wanted in ccb.DECIDED:
        raise ccb.TransitionError(
            f"{wanted} is decided by the board's votes: pgwarden ccb vote {request_id}"
        )
    with conn.transaction():
        return _move(conn, _locked(conn, request_id), wanted, by, reason, key)


def _move(
    conn: psycopg.Connection[Any],
    req: Request,
    wanted: str,
    by: str,
    reason: str,
    key: str | None,
) -> Request:
    ccb.check(req.id, req.status, wanted)
    new = _request(rows(conn, "set_status", {"id": req.id, "status": wanted})[0])
    detail = {"from": req.status, "to": wanted, "reason": reason}
    append(conn, req.id, "status", by, detail, key=key)
    return new


def vote(
    conn: psycopg.Connection[Any],
    request_id: int,
    cast: quorum.Vote,
    rules: quorum.Rules,
    on_call: str | None,
    *,
    key: str | None = None,
) -> quorum.Outcome:
    """Record a vote on a submitted request and apply the board's decision."""
    if cast.vote not in quorum.VOTES:
        raise ConfigurationError(f"vote: one of {', '.join(quorum.VOTES)}")
    with conn.transaction():
        req = _locked(conn, request_id)
        if req.status != "submitted":
            raise ccb.TransitionError(
                f"request {request_id} is {req.status}: votes are taken on "
                "submitted requests"
            )
        rows(
            conn,
            "insert_vote",
            {
                "request_id": request_id,
                "voter": cast.voter,
                "vote": cast.vote,
                "comment": cast.comment,
            },
        )
        append(
            conn,
            request_id,
            "vote",
            cast.voter,
            {"vote": cast.vote, "comment": cast.comment},
            key=key,
        )
        outcome = quorum.decide(votes(conn, request_id), rules, on_call)
        if outcome.decision != "pending":
            _move(conn, req, outcome.decision, "board", outcome.reason, key)
    return outcome


def votes(conn: psycopg.Connection[Any], request_id: int) -> list[quorum.Vote]:
    found = rows(conn, "votes", {"request_id": request_id})
    return [quorum.Vote(r["voter"], r["vote"], r["comment"]) for r in found]


def deployed(
    conn: psycopg.Connection[Any],
    request_id: int,
    outcome: str,
    by: str,
    at: datetime,
    restored_at: datetime | None = None,
    note: str = "",
    *,
    key: str | None = None,
) -> Request:
    """Record a deployment of a scheduled request; it becomes done or rolled back."""
    if outcome not in DEPLOYED_STATE:
        raise ConfigurationError(f"--outcome: one of {', '.join(DEPLOYED_STATE)}")
    with conn.transaction():
        req = _locked(conn, request_id)
        ccb.check(request_id, req.status, DEPLOYED_STATE[outcome])
        rows(
            conn,
            "insert_deployment",
            {
                "request_id": request_id,
                "deployed_at": at,
                "outcome": outcome,
                "restored_at": restored_at,
                "note": note,
                "recorded_by": by,
            },
        )
        detail = {"outcome": outcome, "note": note}
        append(conn, request_id, "deployed", by, detail, key=key)
        reason = f"deployed: {outcome}"
        return _move(conn, req, DEPLOYED_STATE[outcome], by, reason, key)


def deployments(conn: psycopg.Connection[Any], since: datetime) -> list[dict[str, Any]]:
    return rows(conn, "deployments", {"since": since})


def add_action(
    conn: psycopg.Connection[Any],
    title: str,
    owner: str,
    due: date,
    request_id: int | None,
    by: str,
    *,
    key: str | None = None,
    measure: str | None = None,
) -> dict[str, Any]:
    """An action item; ``measure``: the business measure it should move (the
    reviews show its figure next to the item)."""
    params = {"request_id": request_id, "title": title, "owner": owner, "due": due}
    payload = {"title": title, "owner": owner, "due": due.isoformat()}
    if measure is not None:
        payload["measure"] = measure
    with conn.transaction():
        row = rows(conn, "insert_action", params | {"measure": measure})[0]
        append(conn, request_id, "action", by, {"id": row["id"], **payload}, key=key)
    return row


def finish_action(
    conn: psycopg.Connection[Any], action_id: int, by: str, *, key: str | None = None
) -> bool:
    with conn.transaction():
        found = rows(conn, "finish_action", {"id": action_id})
        if found:
            request_id = found[0]["request_id"]
            append(conn, request_id, "action_done", by, {"id": action_id}, key=key)
    return bool(found)


def open_actions(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    return rows(conn, "open_actions", {})


def append(
    conn: psycopg.Connection[Any],
    request_id: int | None,
    kind: str,
    actor: str,
    detail: Mapping[str, Any],
    *,
    key: str | None = None,
) -> dict[str, Any]:
    """Add an entry to the decision log, chained to the previous one and signed
    with ``key`` (default: ``ccb.log_key`` from the settings).

    A signed log is extended only by a writer holding its key
    (:class:`~pgwarden.ops.ccb.decisions.LogKeyMissing` otherwise).
    """
    key = key or configured_key()
    with conn.transaction():
        rows(conn, "lock_log", {})
        last = rows(conn, "last_entry", {})
        decision_log.check_head(last[0]["hash"] if last else None, key)
        prev = last[0]["hash"] if last else decision_log.GENESIS
        seq = int(last[0]["seq"]) + 1 if last else 1
        entry = {
            "seq": seq,
            "ts": datetime.now(UTC),
            "request_id": request_id,
            "kind": kind,
            "actor": actor,
            "detail": dict(detail),
        }
        entry |= {"prev_hash": prev, "hash": decision_log.stored_hash(prev, entry, key)}
        rows(conn, "append_entry", {**entry, "detail": Jsonb(entry["detail"])})
    return entry


def configured_key() -> str | None:
    """``ccb.log_key`` from the environment or ``./pgwarden.toml``, if set."""
    secret = load_settings().ccb.log_key
    return secret.get_secret_value() if secret is not None else None


def log_head(conn: psycopg.Connection[Any]) -> dict[str, Any] | None:
    """The last entry's ``seq`` and stored ``hash``, or None for an empty log."""
    found = rows(conn, "last_entry", {})
    return found[0] if found else None


def stored_hash_at(conn: psycopg.Connection[Any], seq: int) -> str | None:
    found = rows(conn, "chain_entry", {"seq": seq})
    return str(found[0]["hash"]) if found else None


def log_identity(conn: psycopg.Connection[Any]) -> str:
    """Which log this is, for its witness: ``system identifier/database`` (the
    server's address instead when this role may not read the identifier)."""
    row = rows(conn, "log_identity", {})[0]
    server = row["system_identifier"]
    if server is None:
        server = f"{conn.info.host}:{conn.info.port}"
    return f"{server}/{row['database']}"


def log_entries(
    conn: psycopg.Connection[Any], request_id: int | None = None
) -> list[dict[str, Any]]:
    return rows(conn, "log_entries", {"request_id": request_id})


def alerts_since(
    conn: psycopg.Connection[Any], since: datetime
) -> list[dict[str, Any]]:
    with pg.guarded("alerts (run pgwarden init)"):
        return rows(conn, "alerts_since", {"since": since})


def table_sizes(conn: psycopg.Connection[Any], tables: Sequence[str]) -> dict[str, int]:
    """Total size of each named table that exists in the target."""
    sizes = {}
    for name in tables:
        quoted = sql.Identifier(*name.split(".", 1)).as_string(conn)
        row = rows(conn, "table_size", {"name": quoted})[0]
        if row["bytes"] is not None:
            sizes[name] = int(row["bytes"])
    return sizes
