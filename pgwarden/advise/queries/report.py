"""The monthly optimisation report: index advice and query advice, ranked by time.

``run_scheduled(settings, target_dsn, repository_dsn)`` advises on the target's
workload, stores the report in ``pgwarden.report`` (kind ``optimization``), writes
it as files under ``advisor.report_dir`` when set, and returns a one-line summary;
the worker calls ``run_if_due``, which does that every
``reports.optimisation_schedule``. Every item carries ``saved_ms``, the time it can save
over the period of history read, and the report lists them from the largest.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pgwarden import pg
from pgwarden.advise.indexes import Advice
from pgwarden.advise.queries.findings import QueryAdvice
from pgwarden.config import Settings
from pgwarden.reports import store as stored

KIND = "optimization"


def build(
    queries: QueryAdvice, advice: Advice, now: datetime | None = None
) -> dict[str, Any]:
    """The report as plain data (what is stored and rendered)."""
    now = now or datetime.now(UTC)
    findings = [f.as_dict() for f in queries.findings]
    saved = sum(f["saved_ms"] for f in findings)
    by_kind: dict[str, int] = {}
    for f in findings:
        by_kind[f["kind"]] = by_kind.get(f["kind"], 0) + 1
    index = advice.as_dict()
    line = (
        f"{len(findings)} findings, ~{saved / 1000:.1f} s to save; "
        f"{len(index['recommendations'])} index recommendations"
    )
    if index["workload_cost_reduction_pct"] is not None:
        line += f" (-{index['workload_cost_reduction_pct']} % workload cost)"
    elif not index["verified"]:
        line += " (unverified)"
    data = {
        "kind": KIND, "target": queries.target, "generated_at": now.isoformat(),
        "summary": {"line": line, "findings": len(findings), "saved_ms": round(saved),
                    "by_kind": by_kind},
        "findings": findings, "indexes": index, "notes": list(queries.notes),
        "ddl": [r["ddl"] for r in index["recommendations"]],
    }  # fmt: skip
    result: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return result


def render(report: dict[str, Any], fmt: str) -> str:
    """The report as ``md``, ``html`` or ``json`` text."""
    return stored.render_with(stored.templates(), "optimization", report, fmt)


def generate(
    settings: Settings, target_dsn: str, repository_dsn: str | None, *, save: bool
) -> tuple[dict[str, Any], int | None]:
    """Advise and build the report; store it when ``save``."""
    from pgwarden.advise.queries.run import run

    queries, advice = run(settings, target_dsn, repository_dsn)
    report = build(queries, advice)
    if not save or repository_dsn is None:
        return report, None
    with pg.connect(repository_dsn) as repo:
        return stored.save(repo, target_dsn, KIND, lambda _: report)


SCHEDULED = stored.Scheduled(
    "optimisation", KIND,
    schedule=lambda s: s.reports.optimisation_schedule,
    directory=lambda s: s.advisor.report_dir,
    generate=generate, render=render,
)  # fmt: skip
run_scheduled = SCHEDULED.run
run_if_due = SCHEDULED.run_if_due
