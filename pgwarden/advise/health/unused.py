"""Unused indexes from pgwarden's own history (no I/O): the one definition.

An index is unused when the per-interval ``idx_scan`` deltas pgwarden collected over
the period (``index_health.unused_days``) add up to zero (and, on PostgreSQL 16+,
``last_idx_scan`` is older than the period). :func:`is_unused` decides it for one
index; the CLI, the reports, the dashboard, the API and ``/metrics`` all count
through it. Deltas are recorded per interval and a statistics reset or a restart
only leaves a gap, so the sum is not fooled by counters that went back to zero.
The finding is *provisional* (severity info) while the history does not cover the
period, or the index is younger than it; without any history the live counter is
used, provisionally, since the last statistics reset.

Primary keys, unique indexes and indexes that back a constraint or a foreign key
are never reported. Scans on replicas are not in the primary's statistics.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from pgwarden.advise.findings import Finding, drop_ddl
from pgwarden.advise.model import History, IndexInfo

REPLICA_CAVEAT = (
    "Scans on read replicas are not counted on the primary: check "
    "pg_stat_user_indexes on every replica before dropping."
)
#: history covering at least this share of the period counts as complete
COVERED = 0.95


def _used_recently(ix: IndexInfo, since: datetime) -> bool:
    return ix.last_idx_scan is not None and ix.last_idx_scan >= since


def is_unused(ix: IndexInfo, scans_in_period: int | None, since: datetime) -> bool:
    """Whether ``ix`` counts as unused over the period starting at ``since``.

    Never a primary key, unique, exclusion or foreign-key-referenced index, nor an
    invalid one (that is its own finding); otherwise no scan in the period:
    ``scans_in_period`` from pgwarden's history, or the live counter without it.
    """
    if ix.protected or not ix.is_valid or _used_recently(ix, since):
        return False
    scans = ix.idx_scan if scans_in_period is None else scans_in_period
    return scans == 0


def unused_oids(
    indexes: Iterable[IndexInfo],
    scans: Mapping[int, int],
    period_days: int,
    now: datetime,
) -> frozenset[int]:
    """The oids of the unused indexes, ``scans`` the scans per index oid in the
    period from pgwarden's history (an index missing from it: its live counter)."""
    since = now - timedelta(days=period_days)
    return frozenset(
        ix.oid for ix in indexes if is_unused(ix, scans.get(ix.oid), since)
    )


def unused(
    indexes: Iterable[IndexInfo],
    history: History | None,
    period_days: int,
    now: datetime,
    stats_reset: datetime | None = None,
) -> list[Finding]:
    """Droppable indexes with no scan in the period."""
    since = now - timedelta(days=period_days)
    found = []
    for ix in indexes:
        usage = history.indexes.get(ix.oid) if history is not None else None
        scans = usage.values["scans"] if usage is not None else None
        if not is_unused(ix, scans, since):
            continue
        if history is not None and usage is not None:
            found.append(_from_history(ix, history, usage.first_seen, period_days))
        else:
            found.append(_from_counter(ix, stats_reset, now))
    return found


def _from_history(
    ix: IndexInfo, history: History, first_seen: datetime, period_days: int
) -> Finding:
    covered = history.covered_days
    known_days = (history.until - max(first_seen, history.since)).days
    short = covered < period_days * COVERED
    young = first_seen > history.since + timedelta(hours=1)
    notes = []
    if short:
        notes.append(f"history covers only {covered:.1f} days of {period_days}")
    if young:
        notes.append(f"index known for only {known_days} days")
    evidence = {
        "scans_in_period": 0, "period_days": period_days,
        "history_days": round(covered, 2), "gaps": history.gaps,
        "gap_hours": round(history.gap_seconds / 3600, 2),
        "scans_since_reset": ix.idx_scan, "last_idx_scan": ix.last_idx_scan,
        "definition": ix.definition,
    }  # fmt: skip
    return _finding(ix, evidence, short or young, "; ".join(notes), period_days)


def _from_counter(ix: IndexInfo, reset: datetime | None, now: datetime) -> Finding:
    days = (now - reset).days if reset is not None else None
    note = "no pgwarden history yet: live counter since the last statistics reset"
    if days is not None:
        note += f" ({days} days ago)"
    evidence = {
        "scans_since_reset": 0, "stats_reset": reset, "last_idx_scan": None,
        "definition": ix.definition,
    }  # fmt: skip
    return _finding(ix, evidence, True, note, None)


def _finding(
    ix: IndexInfo, evidence: Mapping[str, object], provisional: bool, note: str,
    period_days: int | None,
) -> Finding:  # fmt: skip
    period = f"in {period_days} days" if period_days else "since the last reset"
    text = f"No scan {period}"
    text += f" ({note}, provisional)" if provisional else ""
    text += ": drop it to save space and write work. " + REPLICA_CAVEAT
    return Finding(
        kind="unused", schema=ix.schema, table=ix.table, index=ix.name,
        size_bytes=ix.size_bytes, severity="info" if provisional else "warning",
        evidence=evidence, recommendation=text, ddl=drop_ddl(ix.schema, ix.name),
        provisional=provisional,
    )  # fmt: skip
