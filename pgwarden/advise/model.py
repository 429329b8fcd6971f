"""Rows the index health analysis works on (read by :mod:`pgwarden.advise.gather`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class IndexInfo:
    """One index of the target, from the catalog and its live statistics."""

    oid: int
    schema: str
    table: str
    name: str
    table_oid: int
    method: str
    is_unique: bool
    is_primary: bool
    is_valid: bool
    is_ready: bool
    backs_constraint: bool
    constraint_name: str | None
    referenced_by_fk: bool
    keys: tuple[str, ...]
    include: tuple[str, ...]
    key_attnums: tuple[int, ...]
    opclasses: tuple[int, ...]
    collations: tuple[int, ...]
    options: tuple[int, ...]
    predicate: str | None
    definition: str
    size_bytes: int
    lead_null_frac: float | None = None
    idx_scan: int = 0
    idx_tup_read: int = 0
    idx_tup_fetch: int = 0
    last_idx_scan: datetime | None = None

    @property
    def protected(self) -> bool:
        """Dropping it would change behaviour: a key, unique or referenced index."""
        return (
            self.is_primary
            or self.is_unique
            or self.backs_constraint
            or self.referenced_by_fk
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> IndexInfo:
        data = dict(row)
        for name in ("keys", "include", "key_attnums", "opclasses", "collations",
                     "options"):  # fmt: skip
            data[name] = tuple(data.get(name) or ())
        data["lead_null_frac"] = _float(data.get("lead_null_frac"))
        return cls(**data)


@dataclass(frozen=True)
class TableInfo:
    oid: int
    schema: str
    name: str
    relkind: str
    size_bytes: int
    total_bytes: int
    reltuples: float
    has_primary_key: bool
    has_unique: bool
    seq_scan: int = 0
    seq_tup_read: int = 0
    idx_scan: int = 0
    n_live_tup: int = 0

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> TableInfo:
        return cls(**row)


@dataclass(frozen=True)
class ForeignKey:
    name: str
    table_oid: int
    schema: str
    table: str
    attnums: tuple[int, ...]
    columns: tuple[str, ...]
    referenced: str
    size_bytes: int
    reltuples: float

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ForeignKey:
        data = dict(row)
        data["attnums"] = tuple(data["attnums"])
        data["columns"] = tuple(data["columns"])
        return cls(**data)


@dataclass(frozen=True)
class Catalog:
    """What the target's catalog says, read in one go."""

    server_version_num: int
    indexes: tuple[IndexInfo, ...]
    tables: tuple[TableInfo, ...]
    foreign_keys: tuple[ForeignKey, ...]
    stats_reset: datetime | None = None
    in_recovery: bool = False


@dataclass(frozen=True)
class Usage:
    """Counters of one relation summed over a period of pgwarden's history."""

    relid: int
    schema: str
    name: str
    first_seen: datetime
    values: Mapping[str, int]


@dataclass(frozen=True)
class History:
    """pgwarden's own history of the target over a period, if there is any."""

    since: datetime
    until: datetime
    first_ts: datetime | None
    cycles: int
    gap_seconds: float
    gaps: int
    indexes: Mapping[int, Usage] = field(default_factory=dict)
    tables: Mapping[int, Usage] = field(default_factory=dict)

    @property
    def covered_days(self) -> float:
        """Days of the period the history covers, gaps left out."""
        if self.first_ts is None or self.cycles < 2:
            return 0.0
        start = max(self.first_ts, self.since)
        seconds = (self.until - start).total_seconds() - self.gap_seconds
        return max(0.0, seconds / 86400)

    @property
    def period_days(self) -> float:
        return (self.until - self.since).total_seconds() / 86400


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def names(items: Sequence[IndexInfo]) -> list[str]:
    return [i.name for i in items]
