"""Markdown of the partitioning advice (JSON is ``Report.as_dict``)."""

from __future__ import annotations

from pgwarden.plan.partitions.advice import Advice, Report


def _advised(a: Advice) -> list[str]:
    key = a.key or {}
    lines = [
        f"## {a.schema}.{a.table}: {key.get('strategy')} on {key.get('column')!r}",
        "",
        f"- {a.reason}",
        f"- rows {a.rows:,}, size {a.total_bytes:,} bytes",
        f"- partitions: {key.get('count')}"
        + (f" of {key['interval']}" if key.get("interval") else "")
        + f", about {key.get('partition_rows', 0):,} rows and "
        f"{key.get('partition_bytes', 0):,} bytes each",
        "- filtered columns (share of statements): "
        + (", ".join(f"{c} {s:.0%}" for c, s in a.predicates.items()) or "none seen"),
        f"- retention: {a.retention}",
        "",
        "### Primary and foreign keys",
        "",
        *(f"- {line}" for line in a.implications),
        "",
        "### DDL",
        "",
        "```sql",
        *a.ddl,
        "```",
    ]
    for name, steps in a.migration.items():
        lines += ["", f"### Migration plan: {name.replace('_', ' ')}", ""]
        for n, step in enumerate(steps, 1):
            lines.append(f"{n}. {step['action']} — lock: {step['lock']}")
            if step["note"]:
                lines.append(f"   ({step['note']})")
            if step["sql"]:
                lines += ["", "   ```sql", *(f"   {s}" for s in step["sql"]), "   ```"]
    if a.pg_partman:
        lines += ["", "### pg_partman", "", "```sql", *a.pg_partman, "```"]
    return lines


def report_md(r: Report) -> str:
    advised = [a for a in r.tables if a.advised]
    lines = [
        f"# Partitioning advice for {r.target}",
        "",
        f"Threshold: {r.min_rows:,} rows or larger than memory ({r.memory_bytes:,} "
        f"bytes). Workload: {r.statements} statements parsed, {r.unparsed} not.",
        *(f"Note: {n}" for n in r.notes),
        "",
    ]
    for a in advised:
        lines += [*_advised(a), ""]
    if not advised:
        lines += ["No table is advised for partitioning.", ""]
    lines += ["## Not advised", "", "| table | rows | reason |", "|---|---|---|"]
    lines += [
        f"| {a.schema}.{a.table} | {a.rows:,} | {a.reason.replace('|', '/')} |"
        for a in r.tables
        if not a.advised
    ]
    return "\n".join(lines) + "\n"
