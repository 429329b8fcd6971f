"""Measured bloat for the VACUUM FULL and REINDEX decisions.

The estimate comes from the catalog (:mod:`pgwarden.advise.health.bloat`, the same
figures as the index health report); when pgstattuple is installed it is confirmed by
``pgstattuple``/``pgstattuple_approx`` (tables) or ``pgstatindex`` (indexes). A
table without catalog statistics falls back to the dead-tuple ratio of
``pg_stat_user_tables``. Every figure says how it was obtained.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import psycopg

from pgwarden.advise.health import bloat as advise
from pgwarden.errors import MissingCapability
from pgwarden.maintain.model import Bloat, IndexStat, TableStat

logger = logging.getLogger(__name__)
#: seconds one pgstattuple read may take before the estimate is used instead
CONFIRM_BUDGET_S = 30.0


def dead_ratio(t: TableStat) -> Bloat:
    total = t.live_rows + t.dead_rows
    pct = 100.0 * t.dead_rows / total if total else 0.0
    return Bloat(pct, "dead-tuple ratio of pg_stat_user_tables")


def _bloat(estimate: advise.BloatEstimate) -> Bloat | None:
    if estimate.measured_pct is not None:
        return Bloat(estimate.measured_pct, str(estimate.measured_by))
    if estimate.bloat_pct is None:
        return None
    return Bloat(estimate.bloat_pct, "catalog estimate")


def measure(
    conn: psycopg.Connection[Any],
    tables: Sequence[TableStat],
    indexes: Sequence[IndexStat],
    confirm: bool,
) -> tuple[list[TableStat], list[IndexStat], list[str]]:
    """``tables`` and ``indexes`` with their bloat; the notes say what fell back."""
    notes: list[str] = []
    estimates: dict[int, advise.BloatEstimate] = {}
    oids = sorted({t.oid for t in tables} | {i.table_oid for i in indexes})
    if oids:
        try:
            found = advise.gather_bloat(conn, tables=oids)
        except MissingCapability as exc:
            notes.append(f"catalog bloat estimate unavailable: {exc}")
            found = []
        estimates = {e.oid: e for e in found}
    wanted = {t.oid for t in tables} | {i.oid for i in indexes}
    if confirm:
        for oid in wanted & estimates.keys():
            estimates[oid] = advise.confirm(conn, estimates[oid], CONFIRM_BUDGET_S)
    out_t = [replace(t, bloat=_table(t, estimates.get(t.oid))) for t in tables]
    out_i = [replace(i, bloat=_index(estimates.get(i.oid))) for i in indexes]
    return out_t, out_i, notes


def _table(t: TableStat, estimate: advise.BloatEstimate | None) -> Bloat:
    found = None if estimate is None else _bloat(estimate)
    return found if found is not None else dead_ratio(t)


def _index(estimate: advise.BloatEstimate | None) -> Bloat | None:
    return None if estimate is None else _bloat(estimate)
