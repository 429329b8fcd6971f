"""The alert rules' inputs as Prometheus families, for ``/metrics``.

Each value comes from the :mod:`~pgwarden.alerts.measures` function (or the
:class:`~pgwarden.alerts.facts.Facts` field) the rule itself judges, gathered by the
same :func:`~pgwarden.alerts.gather.gather`; the expressions of
:mod:`~pgwarden.alerts.prometheus_rules` compare them with the same thresholds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import psycopg

from pgwarden.alerts import facts as src
from pgwarden.alerts import measures
from pgwarden.alerts.facts import Facts
from pgwarden.alerts.gather import gather
from pgwarden.collect import history
from pgwarden.config import AlertSettings
from pgwarden.observe.prometheus import Family, error_families, render

Samples = tuple[tuple[Mapping[str, str], float], ...]

#: every family this module exports (the rule expressions may use only these)
NAMES = (
    "pgwarden_longest_transaction_seconds",
    "pgwarden_idle_in_transaction_seconds",
    "pgwarden_blocked_sessions",
    "pgwarden_replication_lag_seconds",
    "pgwarden_replication_lag_bytes",
    "pgwarden_xid_age_ratio",
    "pgwarden_statement_evictions_last_hour",
    "pgwarden_index_bloat_ratio",
    "pgwarden_app_pool_utilisation_ratio",
    "pgwarden_errors",
    "pgwarden_error_rate_per_minute",
    "pgwarden_error_share_ratio",
)


def _one(value: float | None) -> Samples:
    return () if value is None else (({}, float(value)),)


def families(f: Facts, s: AlertSettings) -> list[Family]:
    """Every rule input known in ``f``; an unknown one is left out."""
    blocked = len(measures.blocked(f, s.blocked_session_seconds))
    found = [
        Family("pgwarden_longest_transaction_seconds",
               "Age of the oldest open transaction.",
               samples=_one(measures.longest_transaction_s(f))),
        Family("pgwarden_idle_in_transaction_seconds",
               "Longest time a session has been idle in transaction.",
               samples=_one(measures.longest_idle_in_transaction_s(f))),
        Family("pgwarden_blocked_sessions",
               f"Sessions waiting for a lock for at least {s.blocked_session_seconds:g}"
               " s (alerts.blocked_session_seconds).",
               samples=_one(blocked if _has(f, src.SESSIONS) else None)),
        *_replicas(f),
        Family("pgwarden_xid_age_ratio",
               "Age of the oldest datfrozenxid / 2^31 (wraparound at 1).",
               samples=() if f.xid_age is None else (
                   ({"database": f.xid_database or ""},
                    float(measures.xid_age_ratio(f) or 0)),)),
        Family("pgwarden_statement_evictions_last_hour",
               "pg_stat_statements deallocations in the last hour.",
               samples=_one(f.evictions_last_hour)),
        _bloat(f, s),
        Family("pgwarden_app_pool_utilisation_ratio",
               "Application pool connections in use / pool size, as reported.",
               samples=tuple(({"pool": p.source}, float(p.utilisation))
                             for p in f.app_pools if p.utilisation is not None)),
        *error_families(f.error_rates),
    ]  # fmt: skip
    return found


def _has(f: Facts, source: str) -> bool:
    return source in f.sources


def _replicas(f: Facts) -> list[Family]:
    if not _has(f, src.REPLICATION):
        return []
    return [
        Family("pgwarden_replication_lag_seconds",
               "Replay lag of each standby (0 when it replayed all it was sent).",
               samples=tuple(({"replica": r.name}, r.lag_s) for r in f.replicas)),
        Family("pgwarden_replication_lag_bytes",
               "WAL each standby has not replayed yet.",
               samples=tuple(({"replica": r.name}, float(r.lag_bytes))
                             for r in f.replicas if r.lag_bytes is not None)),
    ]  # fmt: skip


def _bloat(f: Facts, s: AlertSettings) -> Family:
    return Family(
        "pgwarden_index_bloat_ratio",
        "Estimated B-tree bloat / index size, for indexes of at least "
        f"{s.index_bloat_min_bytes} bytes (alerts.index_bloat_min_bytes).",
        samples=tuple(
            ({"schema": i.schema_name, "table": i.table_name, "index": i.index_name},
             i.bloat_pct / 100)
            for i in measures.sized_indexes(f, s.index_bloat_min_bytes)
        ),
    )  # fmt: skip


def exposition(
    repo_conn: psycopg.Connection[Any],
    target: str,
    now: datetime,
    settings: AlertSettings,
    target_conn: psycopg.Connection[Any] | None = None,
) -> str:
    """The rule inputs in the text format: collected ones for a known target, live
    ones when ``target_conn`` is given."""
    target_id = history.target_id(repo_conn, target)
    facts = gather(repo_conn, target_id, target, now, settings, target_conn)
    return render(families(facts, settings))
