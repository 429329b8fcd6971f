"""What partitioning advice is computed from, and what it decides (plain rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Strategy = Literal["RANGE", "HASH", "LIST"]


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    not_null: bool = False
    is_time: bool = False
    correlation: float | None = None
    n_distinct: float | None = None
    most_common_vals: tuple[str, ...] = ()
    most_common_freqs: tuple[float, ...] = ()
    first_value: datetime | None = None
    last_value: datetime | None = None
    identity: bool = False


@dataclass(frozen=True)
class Constraint:
    name: str
    type: str  # p, u, f
    schema: str
    table: str
    columns: tuple[str, ...]
    ref_columns: tuple[str, ...] = ()
    own: bool = True
    definition: str = ""
    #: every column of the constraint's table
    table_columns: tuple[str, ...] = ()
    #: a foreign key that references the advised table (maybe from itself)
    refers_here: bool = False


@dataclass(frozen=True)
class Index:
    name: str
    unique: bool
    definition: str
    qualified: str


@dataclass(frozen=True)
class TableFacts:
    schema: str
    name: str
    rows: int
    heap_bytes: int
    index_bytes: int
    total_bytes: int
    inserts: int
    updates: int
    deletes: int
    partitioned: bool = False
    columns: tuple[Column, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    indexes: tuple[Index, ...] = ()
    #: the table's oid: what it is known by (two schemas may hold the same name)
    oid: int = 0

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def primary_key(self) -> Constraint | None:
        return next((c for c in self.constraints if c.type == "p" and c.own), None)

    @property
    def referencing(self) -> tuple[Constraint, ...]:
        """Foreign keys of other tables (or itself) that point at this table."""
        return tuple(c for c in self.constraints if c.refers_here)


@dataclass(frozen=True)
class Key:
    """The partition key chosen and the partitions it gives."""

    strategy: Strategy
    column: str
    reason: str
    count: int
    partition_rows: int
    partition_bytes: int
    interval: str | None = None
    interval_days: float | None = None
    first: datetime | None = None
    last: datetime | None = None
    values: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
