"""Index advice as table rows and Markdown (the JSON is :meth:`Advice.as_dict`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pgwarden.reports import human_bytes


def rows(recs: Sequence[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            r["table"], r["ddl"], human_bytes(r["estimated_size_bytes"]),
            human_bytes(r["size_savings_bytes"]) if r["size_savings_bytes"] else "",
            r["workload_cost_reduction_pct"], len(r["affected_queries"]),
            r["confidence"],
        ]
        for r in recs
    ]  # fmt: skip


def markdown(data: dict[str, Any], key: str = "recommendations") -> str:
    title = (
        "Index advice" if key == "recommendations" else "Partial-index opportunities"
    )
    lines = [f"# {title} for {data['target']}", ""]
    if not data["verified"]:
        lines += ["**Unverified**: hypopg is not available; heuristic ranking.", ""]
    if data.get("workload_cost_reduction_pct") is not None and key == "recommendations":
        lines += [
            f"Workload cost {data['workload_cost_before']} → "
            f"{data['workload_cost_after']} "
            f"(-{data['workload_cost_reduction_pct']} %), "
            f"{data['statements']} statements.",
            "",
        ]
    if not data[key]:
        lines.append("Nothing to recommend.")
    for n, r in enumerate(data[key], start=1):
        lines += _one(n, r)
    for note in data["notes"]:
        lines.append(f"- note: {note}")
    return "\n".join(lines) + "\n"


def _one(n: int, r: dict[str, Any]) -> list[str]:
    size = human_bytes(r["estimated_size_bytes"])
    keys = r.get("expression") or ", ".join(r["columns"])
    method = r.get("method", "btree") + (f" ({r['opclass']})" if r.get("opclass")
                                         else "")  # fmt: skip
    lines = [f"## {n}. {r['table']} ({keys})", "",
             "```sql", r["ddl"], "```", "",
             f"- method: {method}", f"- estimated size: {size}"]  # fmt: skip
    if r.get("expression"):
        lines.append(f"- expression: `{r['expression']}`")
    if r["size_savings_bytes"]:
        lines.append(
            f"- full index: {human_bytes(r['full_index_size_bytes'])}, saves "
            f"{human_bytes(r['size_savings_bytes'])}"
        )
    pct = r["workload_cost_reduction_pct"]
    lines += [
        f"- workload cost reduction: {'not costed' if pct is None else f'{pct} %'}",
        f"- confidence: {r['confidence']}",
        f"- why: {r['reasoning']}",
    ]
    for q in r["affected_queries"][:5]:
        cost = (
            "not costed"
            if q["cost_before"] is None
            else f"cost {q['cost_before']} → {q['cost_after']}"
        )
        lines.append(
            f"  - `{q['queryid']}` {cost} ({q['calls']} calls): {q['text'][:120]}"
        )
    return [*lines, ""]
