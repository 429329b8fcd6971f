"""What is due, per table and index, and why (pure: statistics in, items out).

- ANALYZE on the ``analyze_schedule`` (daily) for hot tables — the configured ones
  and those whose collected modification rate passes ``hot_modifications_per_hour``
  — unless autoanalyze already covered them; any other table only when its
  statistics are stale (more than ``analyze_stale_pct`` of its rows modified).
- VACUUM on the ``vacuum_schedule`` (weekly) unless there is nothing to reclaim;
  VACUUM (FREEZE) first for tables past ``freeze_age_pct`` of freeze_max_age.
- VACUUM FULL on the ``vacuum_full_schedule`` (monthly), in the window, for heavily
  updated tables above ``vacuum_full_min_bytes`` whose measured bloat passes
  ``vacuum_full_bloat_pct``; pg_repack instead when the extension is installed.
- REINDEX INDEX CONCURRENTLY, in the window, for indexes above ``reindex_min_bytes``
  whose bloat passes ``reindex_bloat_pct``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from pgwarden.config import MaintenanceSettings, period
from pgwarden.maintain.model import Facts, IndexStat, Item, Operation, TableStat
from pgwarden.maintain.window import Window


def _ago(now: datetime, then: datetime) -> str:
    hours = (now - then).total_seconds() / 3600
    return f"{hours:.0f} h ago" if hours < 48 else f"{hours / 24:.0f} days ago"


class Planner:
    def __init__(
        self, facts: Facts, settings: MaintenanceSettings, window: Window,
        force_window: bool = False,
    ) -> None:  # fmt: skip
        self.facts, self.s, self.window = facts, settings, window
        self.heavy_allowed = force_window or window.contains(facts.now)

    def items(self) -> list[Item]:
        found: list[Item] = []
        for table in sorted(self.facts.tables, key=lambda t: (t.schema, t.name)):
            found.extend(self.table_items(table))
            for index in sorted(self.facts.indexes, key=lambda i: i.name):
                if index.table_oid == table.oid and not table.held:
                    found.append(self.reindex(table, index))
        return found

    def table_items(self, t: TableStat) -> Iterator[Item]:
        if t.held:
            rebuild: Operation = "repack" if self.facts.repack else "vacuum_full"
            ops: tuple[Operation, ...] = ("vacuum_freeze", rebuild, "vacuum", "analyze")
            for op in ops:
                yield self._item(t, op, False, "another run holds the table now")
            return
        freeze = self.freeze(t)
        full = self.vacuum_full(t)
        yield freeze
        yield full
        if freeze.due or full.due:
            covered = "VACUUM (FREEZE)" if freeze.due else _heavy_name(full)
            yield self._item(t, "vacuum", False, f"covered by {covered} in this cycle")
        else:
            yield self.vacuum(t)
        yield self.analyze(t)

    def _item(
        self, t: TableStat, op: Operation, due: bool, reason: str,
        index: IndexStat | None = None,
    ) -> Item:  # fmt: skip
        name, oid = (index.name, index.oid) if index else (None, None)
        return Item(t.schema, t.name, t.oid, op, due, reason, name, oid)

    def _last(self, t: TableStat, op: str, index: str = "") -> datetime | None:
        return self.facts.last_ok.get((t.schema, t.name, index, op))

    def _recent(self, t: TableStat, op: str, every: timedelta | None,
                index: str = "") -> str | None:  # fmt: skip
        """Why ``op`` is not due by its schedule, or None when it is."""
        if every is None:
            return "schedule is never"
        last = self._last(t, op, index)
        if last is not None and self.facts.now - last < every:
            return f"done by pgwarden {_ago(self.facts.now, last)}"
        return None

    def hot(self, t: TableStat) -> str | None:
        if t.name in self.s.hot_tables:
            return "hot table (configured)"
        rate = t.mod_rate_per_hour
        if rate is not None and rate >= self.s.hot_modifications_per_hour > 0:
            return f"hot table (detected: {rate:,.0f} modifications/hour)"
        return None

    def stale(self, t: TableStat) -> bool:
        return stale(t, self.s.analyze_stale_pct)

    def analyze(self, t: TableStat) -> Item:
        hot = self.hot(t)
        changed = f"{t.mod_since_analyze:,} rows modified since the last analyze"
        if hot is None:
            if self.stale(t):
                return self._item(t, "analyze", True, f"statistics stale: {changed}")
            return self._item(t, "analyze", False, "not hot; statistics fresh")
        recent = self._recent(t, "analyze", period(self.s.analyze_schedule))
        if recent is not None:
            return self._item(t, "analyze", False, f"{hot}; {recent}")
        last = t.last_analyzed
        if last is not None and not self.stale(t):
            who = "autoanalyze" if last == t.last_autoanalyze else "ANALYZE"
            return self._item(t, "analyze", False, f"{hot}; covered by {who} "
                              f"{_ago(self.facts.now, last)} ({changed})")  # fmt: skip
        why = "never analyzed" if last is None else changed
        return self._item(t, "analyze", True,
                          f"{hot}; {self.s.analyze_schedule}: {why}")  # fmt: skip

    def vacuum(self, t: TableStat) -> Item:
        recent = self._recent(t, "vacuum", period(self.s.vacuum_schedule))
        if recent is not None:
            return self._item(t, "vacuum", False, recent)
        if t.dead_rows < self.s.vacuum_min_dead_rows:
            why = f"nothing to reclaim ({t.dead_rows:,} dead rows)"
            return self._item(t, "vacuum", False, why)
        why = f"{self.s.vacuum_schedule}: {t.dead_rows:,} dead rows"
        return self._item(t, "vacuum", True, why)

    def freeze(self, t: TableStat) -> Item:
        limit = self.facts.freeze_max_age * self.s.freeze_age_pct / 100
        share = 100 * t.xid_age / max(self.facts.freeze_max_age, 1)
        text = f"age(relfrozenxid) {t.xid_age:,} = {share:.0f} % of freeze_max_age"
        text += f" (threshold {self.s.freeze_age_pct:.0f} %)"
        return self._item(t, "vacuum_freeze", t.xid_age >= limit, text)

    def vacuum_full(self, t: TableStat) -> Item:
        op: Operation = "repack" if self.facts.repack else "vacuum_full"
        how = "pg_repack (installed, preferred: no long exclusive lock)" if (
            self.facts.repack) else "VACUUM FULL"  # fmt: skip
        why_not = self._full_blocker(t)
        if why_not is not None:
            return self._item(t, op, False, why_not)
        assert t.bloat is not None
        reason = f"{how}: {t.bloat.describe()}, heavily updated"
        if not self.heavy_allowed:
            opening = self.window.next_start(self.facts.now)
            wait = f"waits for the window {self.window.describe()}"
            reason += f"; {wait} (next {opening:%Y-%m-%d %H:%M})"
            return self._item(t, op, False, reason)
        return self._item(t, op, True, reason)

    def _full_blocker(self, t: TableStat) -> str | None:
        every = period(self.s.vacuum_full_schedule)
        recent = self._recent(t, "vacuum_full", every) or self._recent(
            t, "repack", every)  # fmt: skip
        if recent is not None:
            return recent
        if t.size_bytes < self.s.vacuum_full_min_bytes:
            return f"table smaller than {self.s.vacuum_full_min_bytes:,} bytes"
        changed = t.updates + t.deletes
        if 100 * changed < self.s.heavy_update_pct * max(t.rows, 1):
            return f"not heavily updated ({changed:,} updates+deletes)"
        if t.bloat is None:
            return "bloat not measured"
        if t.bloat.pct <= self.s.vacuum_full_bloat_pct:
            return (f"{t.bloat.describe()} not above "
                    f"{self.s.vacuum_full_bloat_pct:.0f} %")  # fmt: skip
        return None

    def reindex(self, t: TableStat, index: IndexStat) -> Item:
        def item(due: bool, reason: str) -> Item:
            return self._item(t, "reindex", due, reason, index)

        if index.size_bytes < self.s.reindex_min_bytes:
            return item(False, f"index smaller than {self.s.reindex_min_bytes:,} bytes")
        if index.bloat is None:
            return item(False, "bloat not measured")
        if index.bloat.pct <= self.s.reindex_bloat_pct:
            return item(False, f"{index.bloat.describe()} not above "
                        f"{self.s.reindex_bloat_pct:.0f} %")  # fmt: skip
        reason = f"REINDEX INDEX CONCURRENTLY: {index.bloat.describe()}"
        if not self.heavy_allowed:
            return item(
                False, f"{reason}; waits for the window {self.window.describe()}"
            )
        return item(True, reason)


def _heavy_name(item: Item) -> str:
    return "pg_repack" if item.operation == "repack" else "VACUUM FULL"


def stale(t: TableStat, stale_pct: float) -> bool:
    """Statistics no longer describe the table (autoanalyze's rule: 50 + share)."""
    if t.last_analyzed is None:
        return t.live_rows > 0 or t.mod_since_analyze > 0
    return t.mod_since_analyze > 50 + stale_pct / 100 * t.rows


def plan(
    facts: Facts,
    settings: MaintenanceSettings,
    window: Window,
    force_window: bool = False,
) -> list[Item]:
    """Every table's and index's items, due or not, each with its reason."""
    return Planner(facts, settings, window, force_window).items()


def due(items: list[Item]) -> list[Item]:
    return [item for item in items if item.due]
