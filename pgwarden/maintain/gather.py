"""Reading what the planner needs: the target's statistics and pgwarden's history."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import errors as pgerrors

from pgwarden import pg
from pgwarden.config import MaintenanceSettings
from pgwarden.errors import MissingCapability, TargetError
from pgwarden.maintain import bloat, store
from pgwarden.maintain.model import Facts, IndexStat, TableStat

logger = logging.getLogger(__name__)
Conn = psycopg.Connection[Any]
HOT_WINDOW = timedelta(hours=24)


class TargetLocked(TargetError):
    """A lock on the target kept maintenance from reading its statistics."""


def _rows(target: Conn, name: str) -> list[dict[str, Any]]:
    from pgwarden.maintain.locks import NAMESPACE

    try:
        with pg.guarded(f"maintenance: {name} statistics"):
            return pg.fetch_all(target, pg.query("maintain", name), [NAMESPACE])
    except pgerrors.LockNotAvailable as exc:
        raise TargetLocked(
            f"maintenance: reading {name} statistics waited on a "
            f"lock ({exc.diag.message_primary}); try again"
        ) from exc


def tables(target: Conn) -> list[TableStat]:
    return [TableStat(**row) for row in _rows(target, "tables")]


def indexes(target: Conn) -> list[tuple[IndexStat, str]]:
    rows = _rows(target, "indexes")
    return [(IndexStat(**{k: v for k, v in r.items() if k != "method"}), r["method"])
            for r in rows]  # fmt: skip


def server(target: Conn) -> dict[str, Any]:
    row = pg.fetch_one(target, pg.query("maintain", "settings"))
    assert row is not None
    return row


def modification_rates(
    repo: Conn, target_id: int, now: datetime
) -> tuple[dict[int, float], str | None]:
    """Modifications per hour of each table over the last day of collected history."""
    from pgwarden.collect.history import table_series

    try:
        with pg.guarded("collected table history"):
            points = table_series(repo, target_id, now - HOT_WINDOW, now)
    except MissingCapability as exc:
        return {}, f"hot tables not detected: {exc}"
    changed: dict[int, float] = defaultdict(float)
    seconds: dict[int, float] = defaultdict(float)
    for p in points:
        relid = int(p.key["relid"])
        for name in ("n_tup_ins", "n_tup_upd", "n_tup_del"):
            changed[relid] += float(p.values.get(name) or 0)
        seconds[relid] += p.interval_s
    return {r: changed[r] * 3600 / seconds[r] for r in changed if seconds[r]}, None


def _candidates(
    found: list[TableStat], idx: list[tuple[IndexStat, str]], s: MaintenanceSettings
) -> tuple[list[TableStat], list[IndexStat]]:
    """Only relations big and busy enough for a rebuild are measured."""
    busy = [
        t for t in found
        if not t.held and t.size_bytes >= s.vacuum_full_min_bytes
        and 100 * (t.updates + t.deletes) >= s.heavy_update_pct * max(t.rows, 1)
    ]  # fmt: skip
    held = {t.oid for t in found if t.held}
    big = [i for i, method in idx if method == "btree" and i.table_oid not in held
           and i.size_bytes >= s.reindex_min_bytes]  # fmt: skip
    return busy, big


def facts(
    target: Conn,
    repo: Conn,
    target_id: int,
    s: MaintenanceSettings,
    now: datetime,
    measure: bool = True,
) -> Facts:
    """Statistics, bloat of the rebuild candidates, rates and the last ok runs.

    ``measure=False`` leaves bloat unmeasured (rebuilds wait for the window anyway).
    """
    info = server(target)
    found = tables(target)
    idx = indexes(target)
    rates, note = modification_rates(repo, target_id, now)
    found = [replace(t, mod_rate_per_hour=rates.get(t.oid)) for t in found]
    busy, big = _candidates(found, idx, s) if measure else ([], [])
    has_pgstattuple = info["pgstattuple"] is not None
    measured_t, measured_i, notes = bloat.measure(target, busy, big, has_pgstattuple)
    if measure and not has_pgstattuple:
        notes.append("pgstattuple is not installed: bloat is estimated, not measured "
                     "(CREATE EXTENSION pgstattuple to measure it)")  # fmt: skip
    by_oid = {t.oid: t for t in measured_t}
    by_idx = {i.oid: i for i in measured_i}
    return Facts(
        now=now,
        tables=tuple(by_oid.get(t.oid, t) for t in found),
        indexes=tuple(by_idx.get(i.oid, i) for i, _ in idx),
        last_ok=store.last_ok(repo, target_id),
        freeze_max_age=int(info["freeze_max_age"]),
        repack="pg_repack" in (info["extensions"] or []),
        notes=tuple(n for n in (note, *notes) if n),
    )
