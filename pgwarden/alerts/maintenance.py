"""Alerts a running maintenance operation causes, muted while it runs.

A VACUUM FULL or REINDEX recorded as running in ``pgwarden.maintenance_runs``
(:func:`pgwarden.maintain.active_runs`) holds locks and runs long, whenever it runs:

- ``blocked_sessions`` is muted when every session counted waits for the maintenance
  backend or its statement names the table being maintained;
- ``long_transaction`` when the oldest transactions over the limit are the
  maintenance backend itself or statements naming that table;
- ``index_bloat`` of an index being reindexed (REINDEX INDEX, or REINDEX TABLE of its
  table).

The rule is judged again on the facts without the sessions maintenance accounts for:
when it would still fire, something else is wrong and the alert is not muted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import psycopg

from pgwarden.alerts import rules
from pgwarden.alerts.facts import Facts, Session
from pgwarden.alerts.model import Observation, fingerprint
from pgwarden.config import AlertSettings
from pgwarden.errors import MissingCapability
from pgwarden.slowlog.severity import Thresholds

logger = logging.getLogger(__name__)

#: rules judged again without the sessions a maintenance run accounts for
SESSION_RULES = ("blocked_sessions", "long_transaction")


@dataclass(frozen=True)
class Running:
    """What muting needs of a running maintenance operation."""

    schema_name: str
    table_name: str
    index_name: str | None
    operation: str
    backend_pid: int | None

    def describe(self) -> str:
        what = f"{self.schema_name}.{self.table_name}"
        if self.index_name:
            what += f" index {self.index_name}"
        return f"maintenance: {self.operation} {what}"

    def names_table(self, query: str | None) -> bool:
        pattern = rf"(?<![\w$]){re.escape(self.table_name)}(?![\w$])"
        return (
            query is not None and re.search(pattern, query, re.IGNORECASE) is not None
        )

    def accounts_for(self, session: Session) -> bool:
        pid = self.backend_pid
        if pid is not None and (session.pid == pid or pid in session.blocking_pids):
            return True
        return self.names_table(session.query)


def running(repo_conn: psycopg.Connection[Any], target: str) -> tuple[Running, ...]:
    """Maintenance operations of ``target`` in progress (none when unavailable)."""
    try:
        from pgwarden.maintain import active_runs

        with repo_conn.transaction():  # a failure leaves the caller's work intact
            runs = active_runs(repo_conn, target)
    except (ImportError, MissingCapability, psycopg.errors.UndefinedTable) as exc:
        logger.info("maintenance runs unavailable", extra={"reason": str(exc)})
        return ()
    return tuple(
        Running(r.schema_name, r.table_name, r.index_name, r.operation, r.backend_pid)
        for r in runs
    )


def caused(
    facts: Facts,
    observations: Sequence[Observation],
    runs: Sequence[Running],
    settings: AlertSettings,
    t: Thresholds,
) -> dict[str, str]:
    """Fingerprint -> reason, for the observations maintenance in progress causes."""
    if not runs:
        return {}
    found: dict[str, str] = {}
    for obs in observations:
        reason = _session_cause(obs, facts, runs, settings, t) or _reindex_cause(
            obs, facts, runs
        )
        if reason is not None:
            found[fingerprint(facts.target, obs.rule, obs.labels)] = reason
    return found


def _session_cause(
    obs: Observation,
    facts: Facts,
    runs: Sequence[Running],
    settings: AlertSettings,
    t: Thresholds,
) -> str | None:
    if obs.rule not in SESSION_RULES:
        return None
    involved = [r for r in runs if any(r.accounts_for(s) for s in facts.sessions)]
    if not involved:
        return None
    others = tuple(
        s for s in facts.sessions if not any(r.accounts_for(s) for r in involved)
    )
    if rules.RULES[obs.rule].check(replace(facts, sessions=others), settings, t):
        return None
    return "; ".join(r.describe() for r in involved)


def _reindex_cause(
    obs: Observation, facts: Facts, runs: Sequence[Running]
) -> str | None:
    if obs.rule != "index_bloat":
        return None
    for idx in facts.index_bloat:
        if obs.labels.get("index") != f"{idx.schema_name}.{idx.index_name}":
            continue
        for run in runs:
            same_table = (run.schema_name, run.table_name) == (
                idx.schema_name, idx.table_name,
            )  # fmt: skip
            if (
                run.operation == "reindex"
                and same_table
                and (run.index_name in (None, idx.index_name))
            ):
                return run.describe()
    return None
