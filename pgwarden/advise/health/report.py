"""The weekly index health report: build, render (md, html, json), store, schedule.

``run_scheduled(settings, target_dsn, repository_dsn)`` assesses the target,
compares with the previous stored report (trend), stores the report in
``pgwarden.report`` (kind ``index-health``), writes it as files under
``index_health.report_dir`` when set, and returns a one-line summary; the worker
calls ``run_if_due``, which does that every ``index_health.report_schedule``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.advise.findings import SEVERITIES, Finding, summarise
from pgwarden.advise.health.assess import HealthResult, index_health
from pgwarden.config import Settings
from pgwarden.reports import store as stored
from pgwarden.repository import targets

KIND = "index-health"


def _key(f: dict[str, Any]) -> str:
    index = f"/{f['index']}" if f.get("index") else ""
    return f"{f['kind']}: {f['schema']}.{f['table']}{index}"


def trend(current: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """What changed since the previous report: counts, bytes, new and gone."""
    if previous is None:
        return {"previous_at": None}
    now_keys = {_key(f) for f in current["findings"]}
    then_keys = {_key(f) for f in previous.get("findings", [])}
    now_sum, then_sum = current["summary"], previous.get("summary", {})
    return {
        "previous_at": previous.get("generated_at"),
        "total_delta": now_sum["total"] - int(then_sum.get("total", 0)),
        "reclaimable_delta": now_sum["reclaimable_bytes"]
        - int(then_sum.get("reclaimable_bytes", 0)),
        "by_severity_delta": {
            s: now_sum["by_severity"].get(s, 0)
            - int(then_sum.get("by_severity", {}).get(s, 0))
            for s in SEVERITIES
        },
        "new": sorted(now_keys - then_keys),
        "resolved": sorted(then_keys - now_keys),
    }


def build(
    result: HealthResult, previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The report as plain data (what is stored and rendered)."""
    findings: list[Finding] = list(result.findings)
    summary = summarise(findings, result.notes)
    data: dict[str, Any] = json.loads(json.dumps(result.as_dict(), default=str))
    data["summary"] = {
        "total": summary.total, "by_severity": dict(summary.by_severity),
        "by_kind": {k: n for k, n in summary.by_kind.items() if n},
        "reclaimable_bytes": summary.reclaimable_bytes, "line": summary.line(),
    }  # fmt: skip
    data["by_severity"] = {
        s: [f for f in data["findings"] if f["severity"] == s]
        for s in reversed(SEVERITIES)
    }
    data["ddl"] = [f["ddl"] for f in data["findings"] if f["ddl"]]
    data["trend"] = trend(data, previous)
    return data


def render(report: dict[str, Any], fmt: str) -> str:
    """The report as ``md``, ``html`` or ``json`` text."""
    env = stored.templates(evidence=evidence_text)
    return stored.render_with(env, "index_health", report, fmt)


def evidence_text(evidence: dict[str, Any]) -> str:
    """The numbers of a finding on one line (definitions left out)."""
    skip = {"definition", "kept_definition", "covering_definition", "advisor"}
    parts = [
        f"{k}={_plain(v)}"
        for k, v in evidence.items()
        if k not in skip and v is not None
    ]
    return ", ".join(parts)


def _plain(value: Any) -> str:
    """A list as ``a; b``, a mapping as ``k v`` pairs: never a Python repr."""
    if isinstance(value, dict):
        return "(" + ", ".join(f"{k} {_plain(v)}" for k, v in value.items()) + ")"
    if isinstance(value, list | tuple):
        return "; ".join(_plain(v) for v in value)
    return str(value)


def generate(
    settings: Settings,
    target_dsn: str,
    repository_dsn: str | None,
    *,
    save: bool,
    now: datetime | None = None,
) -> tuple[dict[str, Any], int | None]:
    """Assess the target and build the report; store it when ``save``."""
    now = now or datetime.now(UTC)
    timeout = settings.statement_timeout_ms
    with pg.connect(target_dsn, statement_timeout_ms=timeout) as target:
        repo = pg.connect(repository_dsn) if repository_dsn else None
        try:
            name = targets.known_name(target, repo, target_dsn)
            result = index_health(target, repo, name, settings, now)
            if repo is None:
                return build(result), None
            if not save:
                return build(result, _previous_if_any(repo, name, now)), None
            return stored.save(repo, target_dsn, KIND, lambda target_id: build(
                result, stored.previous(repo, target_id, KIND, now)))  # fmt: skip
        finally:
            if repo is not None:
                repo.close()


def _previous_if_any(
    repo: psycopg.Connection[Any], name: str, now: datetime
) -> dict[str, Any] | None:
    try:
        with repo.transaction():
            row = pg.fetch_one(
                repo, pg.query("collect_repository", "target_id"), [name]
            )
            if row is None:
                return None
            return stored.previous(repo, int(row["id"]), KIND, now)
    except psycopg.errors.UndefinedTable:
        return None


SCHEDULED = stored.Scheduled(
    "index health", KIND,
    schedule=lambda s: s.index_health.report_schedule,
    directory=lambda s: s.index_health.report_dir,
    generate=generate, render=render,
)  # fmt: skip
run_scheduled = SCHEDULED.run
run_if_due = SCHEDULED.run_if_due
