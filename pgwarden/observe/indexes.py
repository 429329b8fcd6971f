"""Index usage for the dashboard, the CLI and ``/metrics``; unused as index health says.

Scans per index are summed from pgwarden's history over the unused period
(``index_health.unused_days`` before now: the window of ``pgwarden indexes health``).
Whether an index can count as unused at all (not a primary key, unique, exclusion
or foreign-key-referenced index; valid; no recent ``last_idx_scan``) is in the
target's catalog: :func:`pgwarden.advise.health.unused_oids` decides over both, so
every face shows the number the CLI prints.

The catalog is read once per call, or with a cache at most once an hour per target
(and again once the collector has seen an index the cached read had not). Without
the target (no DSN, unreachable, no privilege) ``unused`` is unknown: None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.advise.health import IndexInfo, gather_indexes, unused_oids
from pgwarden.config import Settings
from pgwarden.errors import PgwardenError
from pgwarden.observe import analysis, gather, hours
from pgwarden.observe.model import IndexUsage

#: the target's catalog is reached through an open connection or a DSN
Target = psycopg.Connection[Any] | str | None
CATALOG = "index_catalog"


@dataclass(frozen=True)
class Indexes:
    """Every index of the latest sample, and how many indexes are unused."""

    usage: tuple[IndexUsage, ...]
    unused: int | None
    note: str | None = None


def index_usage(
    conn: psycopg.Connection[Any],
    target_id: int,
    ts: datetime,
    now: datetime,
    settings: Settings,
    target: Target,
    cache: hours.HourCache | None = None,
) -> Indexes:
    """Index usage of the interval ending at ``ts``, over the period before ``now``."""
    days = settings.index_health.unused_days
    totals = gather.index_totals(conn, target_id, now - timedelta(days=days), ts, cache)
    latest = [gather.flat(p) for p in gather.points_at(conn, "index", target_id, ts)]
    names = gather.names(conn, target_id)
    seen = {int(r["relid"]) for r in latest}
    catalog, note = _catalog(target_id, target, seen, ts, now, settings, cache)
    unused = None
    if catalog is not None:
        unused = unused_oids(catalog, scans(totals, names), days, now)
    usage = analysis.index_usage(latest, totals, names, unused)
    return Indexes(usage, None if unused is None else len(unused), note)


def scans(
    totals: Mapping[int, Mapping[str, Any]], names: Mapping[int, Mapping[str, Any]]
) -> dict[int, int]:
    """Scans in the period of every index the repository knows (0 without a row)."""
    return {
        relid: int(totals.get(relid, {}).get("scans") or 0)
        for relid, name in names.items()
        if name["kind"] == "index"
    }


def _catalog(
    target_id: int,
    target: Target,
    seen: set[int],
    ts: datetime,
    now: datetime,
    settings: Settings,
    cache: hours.HourCache | None,
) -> tuple[Sequence[IndexInfo] | None, str | None]:
    """The target's indexes (cached), or None and why not."""
    if target is None:
        return None, "unused indexes unknown: no connection to the target"
    key, hour = (CATALOG, target_id), hours.hour_of(now)
    cached = cache.get(key, hour) if cache is not None else None
    if cached:
        entry = cached[0]
        if seen <= entry["oids"] or entry["read_at"] >= ts:
            return entry["indexes"], None
    try:
        found = _read(target, settings.statement_timeout_ms)
    except PgwardenError as exc:
        return None, f"unused indexes unknown: {exc}"
    if cache is not None:
        oids = frozenset(ix.oid for ix in found)
        cache.put(key, hour, [{"indexes": found, "oids": oids, "read_at": now}])
    return found, None


def _read(
    target: psycopg.Connection[Any] | str, timeout_ms: int
) -> Sequence[IndexInfo]:
    if not isinstance(target, str):
        return gather_indexes(target)
    with pg.connect(target, statement_timeout_ms=timeout_ms) as conn:
        return gather_indexes(conn)
