"""How special candidates join the advice: verified ones in the selection, the rest
listed apart.

hypopg simulates B-tree (expression ones included) and BRIN indexes, so those
candidates enter the greedy selection like any other and are verified by the
planner. It cannot simulate GIN or GiST: those are listed after the verified
recommendations, outside the byte budget, with ``confidence: unverified``, no
cost figures, and a heuristic benefit (the share of the workload's time taken by
the statements that use their operators). Without hypopg every special candidate
is listed that way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from pgwarden.advise.indexes.candidates import Candidate
from pgwarden.advise.indexes.select import Budget, Item
from pgwarden.advise.indexes.special import candidates as cs
from pgwarden.advise.indexes.special.facts import Facts
from pgwarden.advise.model import IndexInfo
from pgwarden.advise.stats import TableStats
from pgwarden.advise.workload import Parsed

GIN_GIST = "hypopg cannot simulate GIN/GiST"
NO_HYPOPG = "hypopg is not available"


def candidates(
    parsed: Sequence[Parsed],
    tables: Mapping[str, TableStats],
    existing: Sequence[IndexInfo],
    facts: Facts | None,
    conn: psycopg.Connection[Any] | None,
) -> tuple[list[Candidate], list[Candidate], list[str]]:
    """(to verify with the others, to list unverified, notes).

    With hypopg (``conn``), each verifiable candidate is created hypothetically
    once first: one hypopg refuses (a type the expression does not accept) is
    left out with a note instead of failing the whole costing.
    """
    if facts is None:
        return [], [], []
    special = cs.generate(parsed, tables, existing, facts)
    notes = list(special.notes)
    verify: list[Candidate] = []
    loose: list[Candidate] = []
    for c in special.candidates:
        if conn is None or not c.verifiable:
            loose.append(c)
            continue
        refused = _refused(conn, c)
        if refused is None:
            verify.append(c)
        else:
            notes.append(f"{c.name} left out: hypopg cannot create it ({refused})")
    return verify, loose, notes


def _refused(conn: psycopg.Connection[Any], c: cs.SpecialCandidate) -> str | None:
    """Why hypopg cannot create ``c``, or None (its trial index is dropped)."""
    try:
        with conn.transaction():
            text = c.statement().as_string(conn)
            row = conn.execute(
                "SELECT indexrelid FROM hypopg_create_index(%s)", [text]
            ).fetchone()
            if row is not None:
                conn.execute("SELECT hypopg_drop_index(%s)", [row[0]])
    except psycopg.Error as exc:
        return str(exc).splitlines()[0]
    return None


def unverified(
    loose: Sequence[Candidate],
    items: Sequence[Item],
    tables: Mapping[str, TableStats],
    budget: Budget,
) -> list[tuple[cs.SpecialCandidate, int, tuple[dict[str, Any], ...], str]]:
    """(candidate, size, statements, reasoning) by the time share they may serve."""
    ranked = []
    for c in loose:
        if not isinstance(c, cs.SpecialCandidate):
            continue
        seen: dict[int, Item] = {}
        for item in items:
            if cs.serves(c, item.parsed.tables.get(c.table)):
                seen.setdefault(item.statement.queryid, item)
        share = sum(i.statement.weight for i in seen.values())
        if seen and share >= budget.min_gain_pct / 100:
            ranked.append((share, c, list(seen.values())))
    ranked.sort(key=lambda r: (-r[0], r[1].name))
    out = []
    for share, c, served in ranked[: budget.max_indexes]:
        reason = GIN_GIST if not c.verifiable else NO_HYPOPG
        why = (
            f"unverified: {reason}, so the planner was not asked; "
            f"{len(served)} statement(s) using it take {100 * share:.1f} % of the "
            f"workload's time; {c.note}; after creating it, check with "
            f"`pgwarden indexes verify {c.name}`"
        )
        affected = tuple(
            {
                "queryid": str(i.statement.queryid),
                "text": " ".join(i.statement.text.split())[:500],
                "calls": i.statement.calls,
                "total_ms": round(i.statement.total_ms, 1),
                "cost_before": None,
                "cost_after": None,
            }
            for i in served
        )
        out.append((c, c.size(tables[c.table]), affected, why))
    return out


def note(c: Candidate) -> str:
    """What a verified special candidate is, for its reasoning."""
    return f"; {c.note}" if isinstance(c, cs.SpecialCandidate) else ""


def described(c: Candidate) -> dict[str, Any]:
    """The recommendation's method, expression and operator class (JSON)."""
    expression = c.expression if isinstance(c, cs.SpecialCandidate) else None
    return {"method": c.method, "expression": expression, "opclass": c.opclass}
