"""Sequence evidence of N+1 loops: what one backend or one caller ran, in order.

The slow query log keeps every execution it saw (server log, activity samples,
application reports) with when it ended, the backend that ran it (``pid``; reports
carry none) and its caller. In one backend, or one caller's stream of reports, a
loop shows as a parent statement followed by the same child statement again and
again, with nothing of another caller in between (a pooled connection that moved
on to another request ends the run).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

#: a child starting later than this after the run's last execution is not in the loop
GAP = timedelta(seconds=2)
#: executions of the child needed before their timing can clear a pair
MIN_OBSERVED = 5
#: share of the executions the log must hold before their timing can clear a pair
MIN_COVERAGE = 0.5


@dataclass(frozen=True)
class Execution:
    """One execution kept by the slow query log."""

    ended_at: datetime
    started_at: datetime
    source: str
    caller: str | None  # from a comment or the application's report, not its name
    stream: Hashable  # ("backend", pid) or ("application", name, caller)
    statement: int | None = None  # the queryid of the workload statement it ran
    order: int = 0  # the log's own order, for executions ended in the same instant


def execution(row: Mapping[str, Any], statement: int | None) -> Execution:
    """An :class:`Execution` from a ``slow_query_log`` row."""
    caller = row["caller"]
    if caller and caller == row.get("application_name"):
        caller = None  # a bare application_name says nothing about the request
    stream: Hashable = (
        ("backend", row["pid"])
        if row["pid"] is not None
        else ("application", row.get("application_name"), caller)
    )
    return Execution(row["ts"], row["started_at"], row["source"], caller or None,
                     stream, statement, int(row.get("id") or 0))  # fmt: skip


def streams(executions: Iterable[Execution]) -> dict[Hashable, list[Execution]]:
    """The executions per backend (or per reporting caller), in the order run."""
    out: dict[Hashable, list[Execution]] = {}
    for e in executions:
        out.setdefault(e.stream, []).append(e)
    for items in out.values():
        items.sort(key=lambda e: (e.ended_at, e.order))
    return out


@dataclass(frozen=True)
class Runs:
    """How a caller's child executions sit relative to its parent executions."""

    parent_runs: int = 0
    linked: int = 0  # child executions in a run right after a parent
    unlinked: int = 0  # child executions with no parent of the caller before them
    longest_run: int = 0
    sources: Mapping[str, int] = field(default_factory=dict)

    @property
    def observed(self) -> int:
        return self.linked + self.unlinked

    @property
    def supports(self) -> bool:
        """Children repeated right after the parent, more often than not."""
        return self.longest_run >= 2 and self.linked >= self.unlinked

    def contradicts(self, coverage: float) -> bool:
        """The log holds most executions, and the children do not follow the parent."""
        return (
            coverage >= MIN_COVERAGE
            and self.observed >= MIN_OBSERVED
            and self.linked * 5 < self.observed
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "parent_runs": self.parent_runs, "children_after_parent": self.linked,
            "children_elsewhere": self.unlinked, "longest_run": self.longest_run,
            "sources": dict(sorted(self.sources.items())),
        }  # fmt: skip


def sequence(
    by_stream: Mapping[Hashable, Sequence[Execution]],
    caller: str,
    parent: int,
    child: int,
    gap: timedelta = GAP,
) -> Runs:
    """The runs of ``child`` after ``parent`` in the caller's executions."""
    runs = linked = unlinked = longest = 0
    sources: Counter[str] = Counter()
    for items in by_stream.values():
        count: int | None = None  # children in the open run (None: no run open)
        last = datetime.min
        for e in items:
            if e.caller is None:
                continue  # BEGIN, COMMIT, untagged: neither breaks nor joins a run
            if e.caller != caller:
                count = None  # the backend went on to another caller's request
            elif e.statement == parent:
                runs, count, last = runs + 1, 0, e.ended_at
            elif e.statement == child:
                if count is None or e.started_at - last > gap:
                    unlinked, count = unlinked + 1, None
                    continue
                count, last, linked = count + 1, e.ended_at, linked + 1
                longest = max(longest, count)
                sources[e.source] += 1
            elif count is not None:
                last = e.ended_at  # another statement of the same request
    return Runs(runs, linked, unlinked, longest, dict(sources))


def executions_by_caller(executions: Iterable[Execution]) -> dict[int, Counter[str]]:
    """Per workload statement, how many executions each caller has in the log."""
    out: dict[int, Counter[str]] = {}
    for e in executions:
        if e.statement is not None and e.caller is not None:
            out.setdefault(e.statement, Counter())[e.caller] += 1
    return out
