"""Index health: every finding of one target, from its catalog and pgwarden's history.

``assess`` is pure (catalog rows, bloat estimates, history in; findings out);
``index_health`` reads the target and the repository, confirms bloat candidates
with pgstattuple within the time budget, and calls it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import psycopg

from pgwarden.advise.findings import (
    Finding,
    drop_partitioned_ddl,
    ordered,
    qualified,
    reindex_ddl,
)
from pgwarden.advise.gather import gather_catalog, gather_history, target_id
from pgwarden.advise.health import bloat, duplicates, structure, unused
from pgwarden.advise.health.bloat import BloatEstimate
from pgwarden.advise.health.seqscan import SeqScanRule, seq_scan_heavy
from pgwarden.advise.health.usage import Efficiency, IndexUsage, efficiency, usage_rows
from pgwarden.advise.model import Catalog, History
from pgwarden.advise.relations import Relations, gather_or_note
from pgwarden.config import Settings
from pgwarden.errors import MissingCapability

logger = logging.getLogger(__name__)
GB = 1024**3


@dataclass(frozen=True)
class HealthResult:
    target: str
    generated_at: datetime
    server_version_num: int
    findings: tuple[Finding, ...]
    usage: tuple[IndexUsage, ...]
    efficiency: Efficiency
    estimates: tuple[BloatEstimate, ...]
    notes: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target, "generated_at": self.generated_at,
            "server_version_num": self.server_version_num,
            "findings": [f.as_dict() for f in self.findings],
            "efficiency": self.efficiency.as_dict(),
            "usage": [u.as_dict() for u in self.usage],
            "notes": list(self.notes),
        }  # fmt: skip


def candidates(
    estimates: Sequence[BloatEstimate], pct: float, min_bytes: int
) -> list[BloatEstimate]:
    """Estimates worth confirming: above the threshold and the minimum size."""
    found = [
        e for e in estimates
        if e.bloat_pct is not None and e.bloat_pct > pct and e.size_bytes >= min_bytes
    ]  # fmt: skip
    return sorted(found, key=lambda e: -(e.bloat_pct or 0) * e.size_bytes)


def bloat_findings(
    estimates: Sequence[BloatEstimate], pct: float, min_bytes: int
) -> list[Finding]:
    """A finding per relation whose best bloat figure exceeds the threshold."""
    found = []
    for e in candidates(estimates, pct, min_bytes):
        if e.pct is None or e.pct <= pct:
            continue
        found.append(_bloat_finding(e))
    return found


def _bloat_finding(e: BloatEstimate) -> Finding:
    severe = (e.pct or 0) >= 50 and e.bloat_bytes >= GB
    evidence = {
        "estimated_pct": round(e.bloat_pct or 0, 1),
        "measured_pct": None if e.measured_pct is None else round(e.measured_pct, 1),
        "measured_by": e.measured_by, "bloat_bytes": e.bloat_bytes,
        "expected_bytes": e.expected_bytes, "fillfactor": e.fillfactor,
        "note": e.note,
    }  # fmt: skip
    figures = f"estimated {e.bloat_pct:.0f} %"
    if e.measured_pct is not None:
        figures += f", measured {e.measured_pct:.0f} % by {e.measured_by}"
    if e.kind == "index":
        assert e.index is not None
        text = (
            f"Index bloat {figures}: rebuild it without blocking writes with "
            "REINDEX INDEX CONCURRENTLY (needs free space of about its size)."
        )
        ddl: str | None = reindex_ddl(e.schema, e.index)
    else:
        text = (
            f"Table bloat {figures}: VACUUM FULL (or pg_repack) in the maintenance "
            "window gives the space back; it locks the table, so pgwarden's "
            "maintenance planner schedules it."
        )
        ddl = None
    return Finding(
        kind="bloat", schema=e.schema, table=e.table, index=e.index,
        size_bytes=e.size_bytes, severity="critical" if severe else "warning",
        evidence=evidence, recommendation=text, ddl=ddl,
        provisional=e.measured_pct is None,
    )  # fmt: skip


def assess(
    target: str,
    catalog: Catalog,
    estimates: Sequence[BloatEstimate],
    unused_history: History | None,
    seq_history: History | None,
    settings: Settings,
    now: datetime,
    notes: Sequence[str] = (),
    relations: Relations | None = None,
) -> HealthResult:
    """Every finding, the usage table and the efficiency metric (no I/O).

    With ``relations``, DDL that cannot run on an index attached to a
    partitioned index is replaced (:func:`attached_fix`)."""
    ih = settings.index_health
    idx = catalog.indexes
    unused_found = unused.unused(idx, unused_history, ih.unused_days, now,
                                 catalog.stats_reset)  # fmt: skip
    rule = SeqScanRule(ih.seq_scan_min_scans, ih.seq_scan_min_rows,
                       ih.seq_scan_share_pct)  # fmt: skip
    findings = [
        *bloat_findings(estimates, ih.bloat_pct, ih.bloat_min_bytes),
        *unused_found,
        *duplicates.duplicates(idx),
        *duplicates.redundant(idx),
        *structure.invalid(idx),
        *structure.fk_without_index(catalog.foreign_keys, idx, relations),
        *structure.no_primary_key(catalog.tables),
        *structure.mostly_null(idx, ih.mostly_null_fraction),
        *seq_scan_heavy(catalog.tables, seq_history, rule),
    ]
    rows = usage_rows(idx, unused_history, unused_found)
    days = unused_history.covered_days if unused_history is not None else 0.0
    eff = efficiency(rows, settings.slo.unused_index_pct,
                     settings.slo.unused_index_after_days, days)  # fmt: skip
    if relations is not None:
        findings = [attached_fix(f, catalog, relations) for f in findings]
    more = list(notes)
    if catalog.in_recovery:
        more.append("the target is a replica: its scans are its own, not the primary's")
    return HealthResult(
        target, now, catalog.server_version_num, tuple(ordered(findings)),
        tuple(rows), eff, tuple(estimates), tuple(more),
    )  # fmt: skip


def attached_fix(finding: Finding, catalog: Catalog, relations: Relations) -> Finding:
    """A drop of an index attached to a partitioned index fails: it cannot be
    dropped alone. The finding says so and names the partitioned index, whose
    drop (not concurrent: it locks the table and all its partitions) is left to
    whoever knows that no partition needs it."""
    if finding.ddl is None or "DROP INDEX" not in finding.ddl or finding.index is None:
        return finding
    oids = {(i.schema, i.name): i.oid for i in catalog.indexes}
    parent = relations.attached.get(oids.get((finding.schema, finding.index), -1))
    if parent is None:
        return finding
    text = (
        f"{finding.recommendation} It is attached to the partitioned index "
        f"{qualified(*parent)}, so it cannot be dropped alone: if no partition "
        f"needs it, `{drop_partitioned_ddl(*parent)}` drops it on every partition "
        "(not concurrently: it locks the table and all its partitions)."
    )
    return replace(finding, ddl=None, recommendation=text)


def confirm_candidates(
    conn: psycopg.Connection[Any],
    estimates: Sequence[BloatEstimate],
    settings: Settings,
) -> tuple[list[BloatEstimate], list[str]]:
    """Estimates with the exact figure for the candidates, within the budget."""
    ih = settings.index_health
    todo = candidates(estimates, ih.bloat_pct, ih.bloat_min_bytes)
    if not todo:
        return list(estimates), []
    if not bloat.available(conn):
        note = ("pgstattuple is not installed: bloat is estimated only "
                "(CREATE EXTENSION pgstattuple to confirm it)")  # fmt: skip
        return list(estimates), [note]
    deadline = time.monotonic() + ih.confirm_budget_seconds
    done: dict[int, BloatEstimate] = {}
    for e in todo:
        left = deadline - time.monotonic()
        if left <= 0.05:
            done[e.oid] = replace(e, note="not confirmed: time budget used up")
            continue
        done[e.oid] = bloat.confirm(
            conn, e, left, approx_above_bytes=ih.confirm_approx_above_bytes
        )
    skipped = sum(1 for e in done.values() if e.measured_pct is None)
    notes = [f"{skipped} bloat candidates not confirmed"] if skipped else []
    return [done.get(e.oid, e) for e in estimates], notes


def _history(
    repo: psycopg.Connection[Any] | None, name: str, days: int, now: datetime
) -> tuple[History | None, str | None]:
    if repo is None:
        return None, "no repository: unused indexes judged by live counters only"
    found = target_id(repo, name)
    if found is None:
        return None, (f"no pgwarden history of {name}: run pgwarden collect; unused "
                      "indexes judged by live counters only")  # fmt: skip
    try:
        return gather_history(repo, found, now - timedelta(days=days), now), None
    except MissingCapability as exc:
        return None, str(exc)


def index_health(
    target_conn: psycopg.Connection[Any],
    repo_conn: psycopg.Connection[Any] | None,
    target_name: str,
    settings: Settings,
    now: datetime,
) -> HealthResult:
    """Read the target and the repository, confirm bloat, assess."""
    ih = settings.index_health
    catalog = gather_catalog(target_conn)
    estimates, notes = confirm_candidates(
        target_conn, bloat.gather_bloat(target_conn), settings
    )
    unused_history, note = _history(repo_conn, target_name, ih.unused_days, now)
    seq_history, _ = _history(repo_conn, target_name, ih.seq_scan_days, now)
    if note:
        notes.append(note)
    relations, more = gather_or_note(target_conn)
    notes += more
    return assess(target_name, catalog, estimates, unused_history, seq_history,
                  settings, now, notes, relations)  # fmt: skip
