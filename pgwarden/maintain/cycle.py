"""A maintenance cycle: recover dead runs, plan what is due, run it, check."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import psycopg

from pgwarden import pg
from pgwarden.config import Settings
from pgwarden.maintain import gather, locks, store
from pgwarden.maintain.execute import Executor, Outcome
from pgwarden.maintain.model import Facts, Item, Operation, TableStat, Trigger
from pgwarden.maintain.plan import plan, stale
from pgwarden.maintain.progress import Report
from pgwarden.maintain.window import Clock, Window, utc_now
from pgwarden.repository import targets

Conn = psycopg.Connection[Any]


@dataclass
class Cycle:
    target: str
    items: list[Item]
    outcomes: list[Outcome] = field(default_factory=list)
    recovered: list[locks.Recovered] = field(default_factory=list)
    stale: list[TableStat] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def due(self) -> list[Item]:
        return [i for i in self.items if i.due]

    def summary(self) -> str:
        if self.dry_run:
            return f"maintenance of {self.target}: {len(self.due)} due (dry run)"
        counts = Counter(o.status for o in self.outcomes)
        done = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing due"
        text = f"maintenance of {self.target}: {done}"
        if self.recovered:
            text += f"; {len(self.recovered)} dead run(s) marked failed"
        return text + f"; stale statistics: {len(self.stale)} table(s)"


def _matches(item: Item, tables: Sequence[str]) -> bool:
    return not tables or item.table in tables or f"{item.schema}.{item.table}" in tables


def select(
    items: list[Item], tables: Sequence[str], operations: Sequence[str]
) -> list[Item]:
    """The due items asked for; an explicit table and operation run even if not due."""
    chosen = [i for i in items if _matches(i, tables)
              and (not operations or i.operation in operations)]  # fmt: skip
    due = [i for i in chosen if i.due]
    if due or not (tables and operations):
        return due
    return [replace(i, due=True, reason=f"requested ({i.reason})") for i in chosen]


def guard(target: Conn, settings: Settings) -> None:
    """Reads of the planner give up after ``lock_timeout`` instead of queueing."""
    timeout = str(settings.maintenance.lock_timeout_ms)
    target.execute("SELECT set_config('lock_timeout', %s, false)", [timeout])


def plan_now(
    settings: Settings, target: Conn, repo: Conn, target_id: int, now: datetime,
    force_window: bool = False, measure: bool = True,
) -> tuple[list[Item], Facts]:  # fmt: skip
    facts = gather.facts(target, repo, target_id, settings.maintenance, now, measure)
    window = Window.from_settings(settings)
    return plan(facts, settings.maintenance, window, force_window), facts


def stale_tables(target: Conn, settings: Settings) -> list[TableStat]:
    """Tables whose statistics are stale: each one would need a manual ANALYZE."""
    pct = settings.maintenance.analyze_stale_pct
    return [t for t in gather.tables(target) if stale(t, pct)]


def run_cycle(
    settings: Settings,
    target_dsn: str,
    repository_dsn: str,
    *,
    trigger: Trigger = "manual",
    tables: Sequence[str] = (),
    operations: Sequence[Operation] = (),
    force_window: bool = False,
    dry_run: bool = False,
    report: Report | None = None,
    cancel: threading.Event | None = None,
    clock: Clock = utc_now,
) -> Cycle:
    with pg.connect(repository_dsn) as repo, pg.connect(target_dsn) as target:
        store.require_schema(repo)
        guard(target, settings)
        found = targets.resolve(target, repo, pg.describe(target_dsn))
        assert found is not None
        target_id, name = found.id, found.name
        now = clock()
        stalled = settings.maintenance.stalled_after_seconds
        recovered = (
            [] if dry_run else locks.recover(repo, target, target_id, now, stalled)
        )
        # bloat decides rebuilds only: a cycle outside the window does not read it
        measure = (
            dry_run or force_window or Window.from_settings(settings).contains(now)
        )
        items, facts = plan_now(settings, target, repo, target_id, now, force_window,
                                measure)  # fmt: skip
        cycle = Cycle(name, items, recovered=recovered, notes=list(facts.notes),
                      dry_run=dry_run)  # fmt: skip
        todo = select(items, tables, operations)
        if dry_run:
            cycle.items = todo if (tables or operations) else items
            return cycle
        executor = Executor(settings, target_dsn, repo, target_id, trigger,
                            force_window=force_window, report=report, cancel=cancel,
                            clock=clock)  # fmt: skip
        for item in todo:
            if cancel is not None and cancel.is_set():
                break
            cycle.outcomes.append(executor.run(item))
        cycle.stale = stale_tables(target, settings)
    return cycle


def run_scheduled(settings: Settings, target_dsn: str, repository_dsn: str) -> str:
    """Plan what is due now, run it (trigger ``schedule``); a one-line summary."""
    done = run_cycle(settings, target_dsn, repository_dsn, trigger="schedule")
    return done.summary()
