"""Gather and run the query advice (``pgwarden queries advise``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.advise.indexes import (
    Advice,
    Context,
    advise_context,
    explain,
    gather,
    options,
)
from pgwarden.advise.queries import findings as q
from pgwarden.advise.queries.executions import for_target
from pgwarden.advise.queries.n_plus_one import n_plus_one
from pgwarden.advise.queries.sequence import Execution
from pgwarden.advise.workload import parse
from pgwarden.config import AdvisorSettings, Settings
from pgwarden.repository import targets

#: the heaviest statements explained (generic plans)
MAX_EXPLAINED = 50


def query_advice(
    target: psycopg.Connection[Any], ctx: Context, settings: AdvisorSettings,
    advice: Advice | None, executions: Sequence[Execution] = (),
) -> q.QueryAdvice:  # fmt: skip
    columns = {n: t.columns for n, t in ctx.tables.items()}
    statements = ctx.workload.statements[: settings.max_statements]
    parsed = [parse(s.text, columns) for s in statements]
    found = n_plus_one(statements, parsed, settings, executions)
    pairs = list(zip(statements, parsed, strict=True))
    explained = 0
    for s, p in pairs:
        found += q.statement_findings(s, p, settings)
        if explained < MAX_EXPLAINED and p.parsed and p.command != "other":
            plan = explain(target, s.text)
            explained += 1
            if plan is not None:
                found += q.plan_findings(s, p, plan, settings)
    found += q.stale_stats(pairs, ctx.tables, settings)
    notes: list[str] = list(ctx.notes)
    if advice is not None:
        found += q.missing_indexes([r.as_dict() for r in advice.recommendations])
        if advice.mode != "hypopg":
            notes.append("missing indexes are unverified (no hypopg)")
    if not any(s.caller for s in statements) and not any(e.caller for e in executions):
        notes.append(
            "no statement carries a caller tag (sqlcommenter/marginalia) and the slow "
            "query log names no caller: N+1 findings rest on call ratios alone"
        )
    return q.QueryAdvice(
        ctx.target, tuple(q.ranked(found)), len(statements), explained, tuple(notes)
    )


def run(
    settings: Settings, target_dsn: str, repository_dsn: str | None
) -> tuple[q.QueryAdvice, Advice]:
    """Query advice and the index advice it includes."""
    timeout = settings.statement_timeout_ms
    with pg.connect(target_dsn, statement_timeout_ms=timeout) as target:
        name = targets.name_of(target_dsn, repository_dsn, target)
        ctx = gather(target, repository_dsn, name, settings.advisor)
        advice = advise_context(target, ctx, options(settings.advisor))
        statements = ctx.workload.statements[: settings.advisor.max_statements]
        logged = for_target(target, repository_dsn, name, statements,
                            settings.advisor.history_days)  # fmt: skip
        found = query_advice(target, ctx, settings.advisor, advice, logged)
        return found, advice


def markdown(data: dict[str, Any], kinds: Sequence[str] | None = None) -> str:
    lines = [f"# Query advice for {data['target']}", ""]
    found = [f for f in data["findings"] if kinds is None or f["kind"] in kinds]
    if not found:
        lines.append("Nothing to report.")
    for n, f in enumerate(found, start=1):
        query = (
            [f"- query `{f['queryid']}`: {f['query'][:200]}"]
            if f["queryid"] is not None
            else []
        )
        lines += [
            f"## {n}. {f['kind']} ({f['severity']}), ~{f['saved_ms']:.0f} ms to save",
            "", *query, f"- caller: {f['caller'] or 'unknown'}",
            "- evidence: " + ", ".join(
                f"{k}={_shown(v)}" for k, v in f["evidence"].items() if _known(v)),
            f"- fix: {f['fix']}", "",
        ]  # fmt: skip
    lines += [f"- note: {n}" for n in data["notes"]]
    return "\n".join(lines) + "\n"


def _known(value: Any) -> bool:
    """Evidence worth a word: not missing, not an empty list or mapping."""
    return value is not None and value != {} and value != []


def _shown(value: Any) -> str:
    """Nested evidence (callers, sources) for people: ``name (key value, …)``,
    lists comma-separated, missing and empty parts left out."""
    if isinstance(value, dict):
        parts = [f"{k} {_shown(v)}" for k, v in value.items() if _known(v)]
        return "(" + ", ".join(parts) + ")"
    if isinstance(value, list | tuple):
        return "; ".join(_shown(v) for v in value if _known(v))
    return str(value)
