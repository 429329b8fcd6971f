"""Load runs and elasticity results kept in the repository (``pgwarden.report``).

``pgwarden load run`` and ``load elasticity`` store the report they print (kinds
``load`` and ``elasticity``), and the admin may store a report file from the
dashboard; the Load page lists them with the figures read from the document as it
is, never recomputed (:func:`figures`), and renders one as the HTML page
``--format html`` writes (:func:`render`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from pgwarden import pg
from pgwarden.load.html import render_elasticity_html, render_html
from pgwarden.load.report import SCHEMA

GROUP = "load_repository"
KINDS = ("load", "elasticity")
#: what a load run document must hold to be listed and rendered
LOAD_KEYS = ("scenario", "model", "started_at", "settings", "overall",
             "throughput_per_s", "errors", "pool", "bottleneck",
             "timeline")  # fmt: skip
#: the sections of an elasticity result, one at least
ELASTICITY_KEYS = ("pool", "cache", "shared_buffers", "replica")
#: characters of the summary line kept
SUMMARY_CHARS = 500


class NotAReport(ValueError):
    """A document that is not a load or elasticity report pgwarden can keep."""


def kind_of(document: dict[str, Any]) -> str:
    """``load`` or ``elasticity``; :class:`NotAReport` for any other document, or
    one the repository cannot keep or the report page cannot render."""
    kind = _kind(document)
    try:
        text = json.dumps(document, allow_nan=False)
    except ValueError as exc:
        raise NotAReport("the report holds a number that is not finite") from exc
    if "\\u0000" in text:
        raise NotAReport("the report holds a NUL character")
    try:
        render(kind, document)
    except Exception as exc:  # whatever a malformed document makes rendering raise
        raise NotAReport(f"the {kind} report is incomplete: {exc!r}"[:200]) from exc
    return kind


def _kind(document: dict[str, Any]) -> str:
    if document.get("schema") == SCHEMA:
        missing = [k for k in LOAD_KEYS if not isinstance(document.get(k), _typed(k))]
        if missing:
            raise NotAReport(f"not a load report: no {', '.join(missing)}")
        return "load"
    if "playbook" in document and any(k in document for k in ELASTICITY_KEYS):
        return "elasticity"
    raise NotAReport(f"not a report of pgwarden load run ({SCHEMA}) or load elasticity")


def _typed(key: str) -> type | tuple[type, ...]:
    if key in ("scenario", "model", "started_at"):
        return str
    if key == "throughput_per_s":
        return (int, float)
    return list if key == "timeline" else dict


def render(kind: str, data: dict[str, Any]) -> str:
    """The self-contained HTML page of a stored report."""
    if kind == "elasticity":
        return render_elasticity_html(data)
    return render_html(data)


def summary_line(kind: str, data: dict[str, Any]) -> str:
    """The one line ``pgwarden report list`` shows for a stored load report."""
    if kind == "elasticity":
        pool = (data.get("pool") or {}).get("recommended_pool_size")
        cache = (data.get("cache") or {}).get("recommended_cache_size")
        return (
            f"elasticity, {data.get('users')} users: pool {pool or '-'}, "
            f"cache {cache or '-'}"
        )
    users = data["settings"].get("users")
    rate = data["settings"].get("rate_per_s")
    load = f"{rate}/s arrivals" if rate else f"{users} users"
    return (
        f"{data['scenario']} ({data['model']}), {load}: "
        f"{data['throughput_per_s']}/s, p95 {data['overall'].get('p95_ms')} ms, "
        f"{data['errors'].get('total')} errors; bottleneck "
        f"{data['bottleneck'].get('resource')}{_shards(data.get('distributed'))}"
    )


def _shards(distributed: object) -> str:
    """``; 3 of 4 shards merged (1 lost)`` for a distributed run."""
    if not isinstance(distributed, dict):
        return ""
    merged, shards = distributed.get("merged"), distributed.get("shards")
    lost = distributed.get("lost")
    return f"; {merged} of {shards} shards merged" + (f" ({lost} lost)" if lost else "")


def figures(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The list's figures, as the report holds them (None where it has none)."""
    found: dict[str, Any] = dict.fromkeys(
        ("scenario", "model", "users", "rate_per_s", "duration_s", "throughput_per_s",
         "p50_ms", "p95_ms", "p99_ms", "errors", "error_rate", "bottleneck",
         "recommended_pool_size", "recommended_cache_size")
    )  # fmt: skip
    if kind == "elasticity":
        pool, cache = data.get("pool") or {}, data.get("cache") or {}
        found["users"] = data.get("users")
        found["recommended_pool_size"] = pool.get("recommended_pool_size")
        found["recommended_cache_size"] = cache.get("recommended_cache_size")
        return found
    settings, overall, errors = data["settings"], data["overall"], data["errors"]
    found.update(
        scenario=data["scenario"], model=data["model"], users=settings.get("users"),
        rate_per_s=settings.get("rate_per_s"), duration_s=settings.get("duration_s"),
        throughput_per_s=data["throughput_per_s"], p50_ms=overall.get("p50_ms"),
        p95_ms=overall.get("p95_ms"), p99_ms=overall.get("p99_ms"),
        errors=errors.get("total"), error_rate=errors.get("rate"),
        bottleneck=data["bottleneck"].get("resource"),
    )  # fmt: skip
    return found


def store(
    conn: psycopg.Connection[Any], target_id: int, kind: str, data: dict[str, Any]
) -> int:
    """Keep ``data`` as it is (checked by :func:`kind_of` first); a load run is
    dated by its start."""
    created = datetime.now(UTC)
    if kind == "load":
        try:
            created = datetime.fromisoformat(data["started_at"])
        except ValueError as exc:
            raise NotAReport("started_at: not an ISO date-time") from exc
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
    row = pg.named_rows(
        conn, GROUP, "insert",
        {"target_id": target_id, "kind": kind, "created_at": created,
         "summary": summary_line(kind, data)[:SUMMARY_CHARS],
         "data": Jsonb(json.loads(json.dumps(data, default=str)))},
    )[0]  # fmt: skip
    return int(row["id"])


def listed(
    conn: psycopg.Connection[Any], target_id: int, limit: int
) -> list[dict[str, Any]]:
    """Stored reports of the target, newest first, each with :func:`figures`."""
    rows = pg.named_rows(
        conn, GROUP, "list",
        {"target_id": target_id, "kinds": list(KINDS), "limit": limit},
    )  # fmt: skip
    return [{**row, **figures(row["kind"], row["data"])} for row in rows]


def one(
    conn: psycopg.Connection[Any], target_id: int, report_id: int
) -> dict[str, Any] | None:
    """One stored report of the target (with its whole document), if it exists."""
    rows = pg.named_rows(
        conn, GROUP, "one",
        {"id": report_id, "target_id": target_id, "kinds": list(KINDS)},
    )  # fmt: skip
    return rows[0] if rows else None
