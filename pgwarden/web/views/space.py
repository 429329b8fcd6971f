"""``/api/admin/space``: the data of the dashboard's Space page.

Every figure is one a command prints: sizes and growth per day of each table from
``pgwarden capacity baseline`` (:func:`build_baseline`), TOAST, index sizes and the
bloat estimates from ``pgwarden indexes health`` / ``indexes usage``
(:func:`index_health`, estimates only), and measured bloat (pgstattuple) only as
the latest stored index-health report recorded it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException

from pgwarden.advise.health import report as health_report
from pgwarden.web.views import capacity
from pgwarden.web.views.indexes import health_of, latest_report

if TYPE_CHECKING:
    from pgwarden.web.context import Context

#: the baseline (history per day, growth evidence) is read again after this long;
#: until the new one is read, the last one is served
BASELINE_TTL_S = 60.0
Key = tuple[str, str, str | None]


def baseline_of(ctx: Context) -> tuple[dict[str, Any] | None, str | None]:
    """``pgwarden capacity baseline``'s JSON, or None and why (no history yet)."""
    try:
        found: dict[str, Any] = capacity.baseline_of(ctx).as_dict()
    except HTTPException as exc:
        return None, str(exc.detail)
    return found, None


def _key(schema: str, table: str, index: str | None) -> Key:
    return (schema, table, index)


def _measured(row: dict[str, Any] | None) -> dict[Key, dict[str, Any]]:
    """Bloat measured by pgstattuple, per relation, as the stored report has it."""
    if row is None:
        return {}
    found = {}
    for f in row["data"].get("findings", []):
        evidence = f.get("evidence") or {}
        if f.get("kind") == "bloat" and evidence.get("measured_pct") is not None:
            found[_key(f["schema"], f["table"], f.get("index"))] = {
                "measured_pct": evidence["measured_pct"],
                "measured_by": evidence.get("measured_by"),
            }
    return found


def _bloat(estimate: Any, measured: dict[str, Any] | None) -> dict[str, Any]:
    e = estimate.as_dict() if estimate is not None else {}
    return {
        "estimated_pct": e.get("estimated_pct"), "bloat_bytes": e.get("bloat_bytes"),
        "expected_bytes": e.get("expected_bytes"), "note": e.get("note"),
        "measured_pct": (measured or {}).get("measured_pct"),
        "measured_by": (measured or {}).get("measured_by"),
    }  # fmt: skip


def _table_row(
    t: dict[str, Any] | None, e: Any, measured: dict[Key, dict[str, Any]]
) -> dict[str, Any]:
    """One table: the baseline's sizes and growth, TOAST and bloat of the estimate."""
    schema = t["schema"] if t else e.schema
    name = t["table"] if t else e.table
    details = e.as_dict() if e is not None else {}
    return {
        "schema": schema, "table": name,
        "total_bytes": t["total_bytes"] if t else None,
        "heap_bytes": t["heap_bytes"] if t else details.get("size_bytes"),
        "toast_bytes": details.get("toast_bytes"),
        "index_bytes": t["index_bytes"] if t else None,
        "rows": t["rows"] if t else details.get("live_tuples"),
        "size_growth": t["size_growth"] if t else None,
        "bloat": _bloat(e, measured.get(_key(schema, name, None))),
    }  # fmt: skip


def _tables(
    baseline: dict[str, Any] | None, estimates: dict[Key, Any],
    measured: dict[Key, dict[str, Any]],
) -> list[dict[str, Any]]:  # fmt: skip
    if baseline is not None:
        return [
            _table_row(t, estimates.get(_key(t["schema"], t["table"], None)), measured)
            for t in baseline["tables"]
        ]
    tables = [e for k, e in estimates.items() if k[2] is None]
    return [_table_row(None, e, measured) for e in tables]


def _indexes(
    usage: Any, estimates: dict[Key, Any], measured: dict[Key, dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every index: ``indexes usage``'s size, scans and verdict, and its bloat."""
    rows = []
    for u in usage:
        key = _key(u.schema, u.table, u.index)
        rows.append({
            "schema": u.schema, "table": u.table, "index": u.index,
            "size_bytes": u.size_bytes, "scans": u.scans, "unused": u.unused,
            "bloat": _bloat(estimates.get(key), measured.get(key)),
        })  # fmt: skip
    return sorted(rows, key=lambda r: -int(r["size_bytes"] or 0))


def space(ctx: Context) -> dict[str, Any]:
    health = health_of(ctx)
    baseline, why = baseline_of(ctx)
    report = latest_report(ctx, health_report.KIND)
    measured = _measured(report)
    estimates = {_key(e.schema, e.table, e.index): e for e in health.estimates}
    notes = [] if why is None else [f"{why}: sizes without growth"]
    return {
        "target": ctx.target_name,
        "generated_at": health.generated_at.isoformat(),
        "history": baseline["history"] if baseline else None,
        "database": baseline["database"] if baseline else None,
        "storage": baseline["storage"] if baseline else None,
        "tables": _tables(baseline, estimates, measured),
        "indexes": _indexes(health.usage, estimates, measured),
        "measured_at": report["created_at"].isoformat() if report else None,
        "notes": notes + (list(baseline["notes"]) if baseline else []),
    }


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(prefix="/api/admin/space", tags=["space"])

    @routes.get("")
    def tables_and_indexes() -> dict[str, Any]:
        """Tables (heap, TOAST, indexes, total, growth per day) and indexes, with
        bloat estimated and, where the stored report measured it, measured."""
        return space(ctx)

    return routes
