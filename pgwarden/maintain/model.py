"""Rows passed between the maintenance layers: statistics in, plan items out."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

Operation = Literal[
    "analyze", "vacuum", "vacuum_freeze", "vacuum_full", "repack", "reindex"
]
OPERATIONS: tuple[Operation, ...] = (
    "vacuum_freeze", "vacuum_full", "repack", "vacuum", "reindex", "analyze",
)  # fmt: skip
#: operations that rewrite a relation: only inside the maintenance window
HEAVY: frozenset[str] = frozenset({"vacuum_full", "repack", "reindex"})
Status = Literal["running", "ok", "skipped", "timeout", "failed", "cancelled"]
Trigger = Literal["schedule", "manual"]


@dataclass(frozen=True)
class Bloat:
    """Share of a relation that is dead or free space, and how it was measured."""

    pct: float
    method: str

    def describe(self) -> str:
        return f"{self.pct:.0f} % bloat ({self.method})"


@dataclass(frozen=True)
class TableStat:
    oid: int
    schema: str
    name: str
    live_rows: int = 0
    dead_rows: int = 0
    mod_since_analyze: int = 0
    updates: int = 0
    deletes: int = 0
    reltuples: float = -1
    size_bytes: int = 0
    xid_age: int = 0
    last_analyze: datetime | None = None
    last_autoanalyze: datetime | None = None
    last_vacuum: datetime | None = None
    last_autovacuum: datetime | None = None
    #: modifications per hour from pgwarden's collected history (None: unknown)
    mod_rate_per_hour: float | None = None
    bloat: Bloat | None = None
    #: another maintenance run holds the table now
    held: bool = False

    @property
    def rows(self) -> float:
        return max(self.reltuples, float(self.live_rows), 0.0)

    @property
    def last_analyzed(self) -> datetime | None:
        seen = [t for t in (self.last_analyze, self.last_autoanalyze) if t]
        return max(seen) if seen else None


@dataclass(frozen=True)
class IndexStat:
    oid: int
    schema: str
    name: str
    table_oid: int
    table: str
    size_bytes: int = 0
    bloat: Bloat | None = None


@dataclass(frozen=True)
class Facts:
    """Everything the planner reads, gathered at ``now``."""

    now: datetime
    tables: tuple[TableStat, ...]
    indexes: tuple[IndexStat, ...] = ()
    #: (schema, table, index or "", operation) -> finish of the last ok run
    last_ok: dict[tuple[str, str, str, str], datetime] = field(default_factory=dict)
    freeze_max_age: int = 200_000_000
    repack: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Item:
    """One operation on one table (or one of its indexes): due or not, and why."""

    schema: str
    table: str
    table_oid: int
    operation: Operation
    due: bool
    reason: str
    index: str | None = None
    index_oid: int | None = None

    @property
    def heavy(self) -> bool:
        return self.operation in HEAVY

    @property
    def target(self) -> str:
        name = f"{self.schema}.{self.table}"
        return f"{name} index {self.index}" if self.index else name

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
