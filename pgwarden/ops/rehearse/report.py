"""The rehearsal report: timeline, durations against the window, pre-flight checks,
problems, lessons learned and the go/no-go verdict (pure).

No-go when a pre-flight check fails, a release or rollback step fails, or the
release takes longer than the window. Warnings and notes do not block.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pgwarden.ops.rehearse.checks import Check
from pgwarden.ops.rehearse.measure import ACCESS_EXCLUSIVE
from pgwarden.ops.rehearse.steps import Rehearsal, StepResult
from pgwarden.reports import human_bytes, templates

TEMPLATE = "rehearsal"
MAX_SHAPE_LINES = 6


def needed_bytes(rehearsal: Rehearsal | None) -> int | None:
    """Space the release needs: rewritten relations coexist with their copy until
    commit, and the WAL it writes stays until archived and replayed."""
    if rehearsal is None or not rehearsal.steps:
        return None
    total = 0
    for step in rehearsal.steps:
        total += sum(r.bytes_after for r in step.rewrites) + (step.wal_bytes or 0)
    return total


def _minutes(seconds: float) -> float:
    return round(seconds / 60, 2)


def durations(rehearsal: Rehearsal | None, window_minutes: float) -> dict[str, Any]:
    release = sum(s.duration_s for s in rehearsal.steps) if rehearsal else 0.0
    rollback = sum(s.duration_s for s in rehearsal.rollback) if rehearsal else 0.0
    return {
        "window_minutes": window_minutes,
        "release_s": round(release, 3),
        "rollback_s": round(rollback, 3),
        "worst_case_s": round(release + rollback, 3),
        "release_pct_of_window": round(100 * release / (window_minutes * 60), 1),
        "worst_case_pct_of_window": round(
            100 * (release + rollback) / (window_minutes * 60), 1
        ),
    }


def _problem(severity: str, text: str) -> dict[str, str]:
    return {"severity": severity, "text": text}


def _check_problems(checks: Sequence[Check]) -> list[dict[str, str]]:
    found = []
    for c in checks:
        if c.status == "fail":
            found.append(_problem("blocking", f"pre-flight {c.name}: {c.observed}"))
        elif c.status == "warn":
            found.append(_problem("warning", f"pre-flight {c.name}: {c.observed}"))
        elif c.status == "skip":
            found.append(_problem("note", f"not checked: {c.name}: {c.observed}"))
    return found


def _label(step: StepResult) -> str:
    return f"{step.phase} step {step.number} ({step.name})"


def _step_problems(step: StepResult) -> list[dict[str, str]]:
    found = []
    if step.status == "failed":
        found.append(_problem("blocking", f"{_label(step)} failed: {step.error}"))
    for lock in step.locks:
        if lock.waited:
            found.append(
                _problem("warning", f"{_label(step)} waited for {lock.mode} on "
                         f"{lock.relation}")
            )  # fmt: skip
        if lock.mode == ACCESS_EXCLUSIVE and lock.big and lock.granted:
            found.append(
                _problem("warning", f"{_label(step)} takes ACCESS EXCLUSIVE on big "
                         f"table {lock.relation} ({human_bytes(lock.table_bytes)})")
            )  # fmt: skip
    for rewrite in step.rewrites:
        if rewrite.big:
            found.append(
                _problem("warning", f"{_label(step)} rewrites big {rewrite.kind} "
                         f"{rewrite.relation} ({human_bytes(rewrite.bytes_before)})")
            )  # fmt: skip
    return found


def problems(
    checks: Sequence[Check],
    rehearsal: Rehearsal | None,
    times: dict[str, Any],
    has_rollback: bool,
) -> list[dict[str, str]]:
    found = _check_problems(checks)
    if rehearsal is None:
        found.append(_problem("note", "steps not rehearsed (--checks-only)"))
        return found
    for step in [*rehearsal.steps, *rehearsal.rollback]:
        found += _step_problems(step)
    window_s = times["window_minutes"] * 60
    if times["release_s"] > window_s:
        found.append(_problem("blocking", (
            f"the release took {_minutes(times['release_s'])} min, longer than the "
            f"{times['window_minutes']:g} min window")))  # fmt: skip
    elif times["worst_case_s"] > window_s:
        found.append(_problem("warning", (
            f"release plus rollback take {_minutes(times['worst_case_s'])} min: a "
            f"failure at the last step would end after the "
            f"{times['window_minutes']:g} min window")))  # fmt: skip
    if not has_rollback:
        found.append(_problem("warning", "the plan has no rollback steps"))
    found += _shape_problems(rehearsal)
    return found


def _shape_problems(rehearsal: Rehearsal) -> list[dict[str, str]]:
    if rehearsal.shape_after is None or rehearsal.shape_after == rehearsal.shape_before:
        return []
    diff = [
        line
        for line in difflib.unified_diff(
            rehearsal.shape_before, rehearsal.shape_after, lineterm="", n=0
        )
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    shown = "; ".join(diff[:MAX_SHAPE_LINES])
    more = (
        f" (+{len(diff) - MAX_SHAPE_LINES} more)" if len(diff) > MAX_SHAPE_LINES else ""
    )
    return [
        _problem("warning", f"the rollback does not restore the schema: {shown}{more}")
    ]


def lessons(rehearsal: Rehearsal | None) -> list[str]:
    """What the rehearsal teaches about running the release for real."""
    if rehearsal is None:
        return []
    found = []
    for step in rehearsal.steps:
        found += _step_lessons(step)
    wal = sum(s.wal_bytes or 0 for s in rehearsal.steps)
    if rehearsal.steps:
        found.append(
            f"the release wrote {human_bytes(wal)} of WAL (server-wide during the "
            "rehearsal): standbys, archiving and backups must absorb it"
        )
    return found


def _step_lessons(step: StepResult) -> list[str]:
    found = []
    exclusive = [
        lk.relation
        for lk in step.locks
        if lk.mode == ACCESS_EXCLUSIVE and "index" not in lk.kind
    ]
    if exclusive and step.mode == "transaction":
        found.append(
            f"{_label(step)} holds ACCESS EXCLUSIVE on {', '.join(exclusive)} for its "
            f"whole transaction ({step.duration_s:.2f} s here): every read and write "
            "of those tables waits that long"
        )
    for rewrite in step.rewrites:
        if rewrite.kind == "table":
            found.append(
                f"{_label(step)} rewrites {rewrite.relation} "
                f"({human_bytes(rewrite.bytes_before)}): its time grows with the "
                "table; prefer a change that does not rewrite (nullable column, "
                "backfill in batches, NOT VALID then VALIDATE)"
            )
    if step.error and step.error.startswith("lock_timeout"):
        found.append(
            f"{_label(step)} could not get its lock in time: on the day, retry with "
            "backoff, or end the blocking session first"
        )
    if step.mode == "autocommit" and step.status != "not run":
        found.append(
            f"{_label(step)} runs outside a transaction: a failure leaves partial "
            "state (such as an INVALID index) that the rollback must handle"
        )
    return found


def verdict(found: Sequence[dict[str, str]]) -> str:
    return "no-go" if any(p["severity"] == "blocking" for p in found) else "go"


def build(
    plan_summary: dict[str, Any],
    target: str,
    checks: Sequence[Check],
    rehearsal: Rehearsal | None,
    clone: dict[str, Any],
    started_at: datetime,
    finished_at: datetime,
    has_rollback: bool,
) -> dict[str, Any]:
    """The report as JSON-ready data."""
    times = durations(rehearsal, float(plan_summary["window_minutes"]))
    found = problems(checks, rehearsal, times, has_rollback)
    steps = [] if rehearsal is None else [*rehearsal.steps, *rehearsal.rollback]
    decision = verdict(found)
    blocking = [p["text"] for p in found if p["severity"] == "blocking"]
    return {
        "title": plan_summary["title"],
        "target": target,
        "plan": plan_summary,
        "generated_at": finished_at.isoformat(),
        "started_at": started_at.isoformat(),
        "finished_at": finished_at.isoformat(),
        "clone": clone,
        "verdict": decision,
        "reason": blocking[0] if blocking else "no blocking problem",
        "durations": times,
        "checks": [c.as_dict() for c in checks],
        "timeline": [s.as_dict() for s in steps],
        "problems": found,
        "lessons": lessons(rehearsal),
        "summary": {"line": f"{decision}: {len(blocking)} blocking problem(s)"},
    }


def lock_mode(mode: str) -> str:
    """``AccessExclusiveLock`` as ``ACCESS EXCLUSIVE``."""
    words = re.findall(r"[A-Z][a-z]*", mode.removesuffix("Lock"))
    return " ".join(words).upper() or mode


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _locks(items: Sequence[dict[str, Any]]) -> str:
    """Locks on tables in full; locks on indexes counted."""
    shown = [lk for lk in items if "index" not in lk.get("kind", "table")]
    text = "; ".join(
        f"{lock_mode(lk['mode'])} {lk['relation']}"
        + (" (big)" if lk["big"] else "")
        + (" (waited)" if lk["waited"] else "")
        for lk in shown
    )
    if len(items) > len(shown):
        text += f" (+{len(items) - len(shown)} on indexes)"
    return text.replace("|", "\\|")


def duration(seconds: float) -> str:
    """``0.42 s``, ``12.5 s``, ``3.2 min``, ``1.5 h``."""
    if seconds < 60:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _rewrites(items: Sequence[dict[str, Any]]) -> str:
    """Rewritten tables in full; rebuilt indexes counted."""
    shown = [rw for rw in items if "index" not in rw["kind"]]
    text = "; ".join(
        f"{rw['relation']} ({human_bytes(rw['bytes_before'])})" for rw in shown
    )
    if len(items) > len(shown):
        text += f" (+{len(items) - len(shown)} indexes)"
    return text.replace("|", "\\|")


def render(report: dict[str, Any], fmt: str) -> str:
    """``json`` or ``md``."""
    if fmt == "json":
        return json.dumps(report, indent=2, default=str) + "\n"
    env = templates(cell=_cell, locks=_locks, rewrites=_rewrites, duration=duration)
    return env.get_template(f"{TEMPLATE}.md.j2").render(r=report)
