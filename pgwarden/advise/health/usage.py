"""Usage statistics of every index and the plan's index-efficiency metric."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pgwarden.advise.findings import Finding
from pgwarden.advise.model import History, IndexInfo


@dataclass(frozen=True)
class IndexUsage:
    schema: str
    table: str
    index: str
    size_bytes: int
    scans: int
    tup_read: int
    tup_fetch: int
    last_scan: datetime | None
    scans_in_period: int | None
    unused: bool

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def usage_rows(
    indexes: Iterable[IndexInfo], history: History | None, unused: Sequence[Finding]
) -> list[IndexUsage]:
    """One row per index: live counters, size, last scan (16+), scans in period."""
    flagged = {(f.schema, f.index) for f in unused if f.kind == "unused"}
    rows = []
    for ix in indexes:
        usage = history.indexes.get(ix.oid) if history is not None else None
        rows.append(
            IndexUsage(
                ix.schema, ix.table, ix.name, ix.size_bytes, ix.idx_scan,
                ix.idx_tup_read, ix.idx_tup_fetch, ix.last_idx_scan,
                usage.values["scans"] if usage is not None else None,
                (ix.schema, ix.name) in flagged,
            )
        )  # fmt: skip
    return sorted(rows, key=lambda r: (r.schema, r.table, r.index))


@dataclass(frozen=True)
class Efficiency:
    """Share of indexes unused; the objective is met below ``target_pct`` once the
    history covers ``after_days``."""

    indexes: int
    unused: int
    unused_pct: float
    target_pct: float
    after_days: int
    history_days: float

    @property
    def meets_target(self) -> bool | None:
        if self.history_days < self.after_days:
            return None
        return self.unused_pct < self.target_pct

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "meets_target": self.meets_target}


def efficiency(
    rows: Sequence[IndexUsage], target_pct: float, after_days: int, history_days: float
) -> Efficiency:
    unused = sum(1 for r in rows if r.unused)
    pct = 100.0 * unused / len(rows) if rows else 0.0
    return Efficiency(len(rows), unused, round(pct, 1), target_pct, after_days,
                      round(history_days, 1))  # fmt: skip
