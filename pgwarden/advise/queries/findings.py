"""Query advice: N+1 patterns, plan problems, OFFSET pagination, planning time.

Each :class:`QueryFinding` carries its evidence, a concrete fix and an estimate of
the time it can save over the period (``saved_ms``, used for ranking):

- ``n_plus_one``: a cheap single-row statement run ``n_plus_one_ratio`` times or
  more per run of a parent statement of the same caller, with the batched rewrite
  (``= ANY($n)``), see :mod:`pgwarden.advise.queries.n_plus_one`;
- ``missing_index``: a recommendation of the index advisor;
- ``nested_loop``: a nested loop over an outer of ``nested_loop_rows`` or more
  rows with a sequential scan inside (generic plan);
- ``temp_spill``: sorts or hashes writing temp blocks (pg_stat_statements);
- ``estimate_off``: the plan's row estimate off by ``estimate_factor`` or more
  from the rows returned per call;
- ``stale_stats``: a table read with ``stale_stats_pct`` % of it modified since
  its last ANALYZE (or never analysed);
- ``large_offset``: OFFSET pagination (a constant of ``large_offset`` or more,
  or a parameter);
- ``planning_time``: mean planning time of ``planning_ms`` or more.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pgwarden.advise.indexes import nodes
from pgwarden.advise.stats import TableStats
from pgwarden.advise.workload import Parsed, Statement
from pgwarden.config import AdvisorSettings
from pgwarden.sqltext import normalise

#: tables smaller than this are left out of stale statistics findings
MIN_STALE_ROWS = 1000

SEVERITY_BY_KIND = {
    "n_plus_one": "warning", "missing_index": "warning", "nested_loop": "warning",
    "temp_spill": "warning", "estimate_off": "info", "stale_stats": "info",
    "large_offset": "info", "planning_time": "info",
}  # fmt: skip


@dataclass(frozen=True)
class QueryFinding:
    kind: str
    queryid: int | None
    query: str
    evidence: Mapping[str, Any]
    fix: str
    saved_ms: float = 0.0
    caller: str | None = None
    severity: str = "info"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "severity": self.severity,
            "queryid": None if self.queryid is None else str(self.queryid),
            "query": self.query, "caller": self.caller,
            "evidence": dict(self.evidence), "fix": self.fix,
            "saved_ms": round(self.saved_ms, 1),
        }  # fmt: skip


def finding(kind: str, s: Statement | None, evidence: Mapping[str, Any], fix: str,
            saved_ms: float, query: str | None = None) -> QueryFinding:  # fmt: skip
    text = query if query is not None else (short(s.text) if s else "")
    return QueryFinding(
        kind, s.queryid if s else None, text, evidence, fix, saved_ms,
        s.caller if s else None, SEVERITY_BY_KIND.get(kind, "info"),
    )  # fmt: skip


def short(text: str, limit: int = 300) -> str:
    return " ".join(normalise(text).text.split())[:limit]


def ranked(findings: Iterable[QueryFinding]) -> list[QueryFinding]:
    return sorted(findings, key=lambda f: (-f.saved_ms, f.kind, f.queryid or 0))


# --- per statement ---------------------------------------------------------------


def statement_findings(
    s: Statement, p: Parsed, settings: AdvisorSettings
) -> list[QueryFinding]:
    """Temp spills, OFFSET pagination and planning time of one statement."""
    out = []
    if s.temp_blks_written > 0:
        per_call_kb = s.temp_blks_written * 8 / max(s.calls, 1)
        out.append(finding("temp_spill", s, {
            "temp_blks_written": s.temp_blks_written, "temp_kb_per_call": round(
                per_call_kb, 1)},
            "a sort or hash spills to disk: give it more memory for this statement "
            f"(SET LOCAL work_mem = '{_work_mem(per_call_kb)}') or an index that "
            "returns the rows already ordered", s.total_ms * 0.3))  # fmt: skip
    if p.offset is not None and (p.offset == -1 or p.offset >= settings.large_offset):
        shown = "a parameter" if p.offset == -1 else str(p.offset)
        out.append(finding("large_offset", s, {"offset": shown},
            "OFFSET reads and throws away every row before the page: paginate by "
            "keyset (WHERE (sort key, id) < ($last_key, $last_id) ORDER BY sort key "
            "DESC, id DESC LIMIT n) or a cursor", s.total_ms * 0.5))  # fmt: skip
    if s.plans and s.total_plan_ms / s.plans >= settings.planning_ms:
        mean_plan = s.total_plan_ms / s.plans
        out.append(finding("planning_time", s, {
            "mean_plan_ms": round(mean_plan, 2), "mean_exec_ms": round(s.mean_ms, 2)},
            "planning dominates: use a prepared statement (server-side, or the "
            "driver's prepare threshold), fewer partitions pruned at plan time, or "
            "fewer joins/IN-list items", s.total_plan_ms * 0.8))  # fmt: skip
    return out


def _work_mem(kb: float) -> str:
    """Twice the spill, rounded up to a power of two MB (at least 4 MB)."""
    mb = max(4, 2 ** math.ceil(math.log2(max(kb * 2 / 1024, 1))))
    return f"{mb}MB"


def plan_findings(
    s: Statement,
    p: Parsed,
    plan: Mapping[str, Any],
    settings: AdvisorSettings,
) -> list[QueryFinding]:
    """Nested loops over a large outer with a sequential inner; estimates off."""
    out = []
    for node in nodes(plan):
        if node.get("Node Type") != "Nested Loop" or len(node.get("Plans", ())) < 2:
            continue
        outer, inner = node["Plans"][0], node["Plans"][1]
        seq = [n for n in nodes(inner) if n.get("Node Type") == "Seq Scan"]
        if seq and float(outer.get("Plan Rows", 0)) >= settings.nested_loop_rows:
            rel = seq[0].get("Relation Name")
            out.append(finding("nested_loop", s, {
                "outer_rows": outer.get("Plan Rows"), "inner_seq_scan": rel},
                f'a nested loop scans "{rel}" sequentially for each of '
                f"{outer.get('Plan Rows')} outer rows: index its join column, or "
                "let it hash join (fresh statistics, work_mem)",
                s.total_ms * 0.5))  # fmt: skip
            break
    if p.command == "select" and not p.limit and s.calls:
        estimated = float(plan.get("Plan Rows", 0))
        actual = s.rows / s.calls
        high, low = max(estimated, actual, 1.0), max(min(estimated, actual), 1.0)
        if high / low >= settings.estimate_factor and high >= 10:
            out.append(finding("estimate_off", s, {
                "estimated_rows": estimated, "rows_per_call": round(actual, 1),
                "factor": round(high / low, 1)},
                "the planner's row estimate is far off: ANALYZE the tables, raise "
                "the statistics target of the filtered columns, or create extended "
                "statistics (CREATE STATISTICS) on correlated columns",
                s.total_ms * 0.2))  # fmt: skip
    return out


def stale_stats(
    parsed: Sequence[tuple[Statement, Parsed]],
    tables: Mapping[str, TableStats],
    settings: AdvisorSettings,
) -> list[QueryFinding]:
    """Tables the workload reads whose statistics are stale, once per table."""
    time_by_table: dict[str, float] = {}
    for s, p in parsed:
        for name in p.tables:
            time_by_table[name] = time_by_table.get(name, 0.0) + s.total_ms
    out = []
    for name, ms in sorted(time_by_table.items(), key=lambda kv: -kv[1]):
        t = tables.get(name)
        if t is None or t.rows < MIN_STALE_ROWS:
            continue
        share = 100 * t.mod_since_analyze / t.rows
        if t.last_analyzed is None or share >= settings.stale_stats_pct:
            evidence = {"table": name, "modified_since_analyze": t.mod_since_analyze,
                        "modified_pct": round(share, 1),
                        "last_analyzed": str(t.last_analyzed)}  # fmt: skip
            fix = f'ANALYZE "{name}" (and lower its autovacuum_analyze_scale_factor)'
            out.append(finding("stale_stats", None, evidence, fix, ms * 0.05,
                               query=f'table "{name}"'))  # fmt: skip
    return out


def missing_indexes(recommendations: Sequence[Mapping[str, Any]]) -> list[QueryFinding]:
    """The index advisor's recommendations as query findings."""
    out = []
    for r in recommendations:
        qs = r["affected_queries"]
        saved = sum(
            q.get("total_ms", 0.0) * (1 - q["cost_after"] / q["cost_before"])
            for q in qs if q["cost_before"]
        )  # fmt: skip
        evidence = {"table": r["table"], "columns": r["columns"], "where": r["where"],
                    "workload_cost_reduction_pct": r["workload_cost_reduction_pct"],
                    "confidence": r["confidence"], "queries": len(qs)}  # fmt: skip
        out.append(QueryFinding(
            "missing_index", int(qs[0]["queryid"]) if qs else None,
            qs[0]["text"][:300] if qs else "", evidence, r["ddl"], saved, None,
            "warning"))  # fmt: skip
    return out


@dataclass(frozen=True)
class QueryAdvice:
    target: str
    findings: tuple[QueryFinding, ...]
    statements: int
    explained: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target, "statements": self.statements,
            "explained": self.explained,
            "findings": [f.as_dict() for f in self.findings],
            "notes": list(self.notes),
        }  # fmt: skip
