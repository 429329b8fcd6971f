"""What the rules read: one frozen snapshot of collected and live inputs.

``sources`` names the inputs that could be read. A rule whose source is missing is
skipped: its open alerts neither fire nor resolve until the input is back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pgwarden.alerts.app_reports import AppPool
from pgwarden.observe.errors import ErrorRates

#: inputs of the rules
HISTORY = "history"  # the collector's database series
COLLECTOR = "collector"  # the collector's cycle log
SLOWLOG = "slowlog"
SESSIONS = "sessions"
REPLICATION = "replication"
XID = "xid"
BLOAT = "bloat"
APP = "app"  # fresh application pool reports
ERRORS = "errors"  # error counts: the server log read or an application reporting


@dataclass(frozen=True)
class SlowStatement:
    fingerprint: str
    query: str
    executions: int
    worst_ms: float


@dataclass(frozen=True)
class Session:
    pid: int
    datname: str | None
    usename: str | None
    application_name: str | None
    state: str | None
    xact_s: float
    state_s: float
    blockers: int
    query: str | None
    #: the sessions holding the locks this one waits for
    blocking_pids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Replica:
    name: str
    lag_s: float
    #: WAL written (received, on a standby) and not yet replayed
    lag_bytes: int | None = None


@dataclass(frozen=True)
class IndexBloat:
    schema_name: str
    table_name: str
    index_name: str
    size_bytes: int
    bloat_bytes: int

    @property
    def bloat_pct(self) -> float:
        return 100.0 * self.bloat_bytes / self.size_bytes if self.size_bytes else 0.0


@dataclass(frozen=True)
class Facts:
    now: datetime
    target: str
    sources: frozenset[str]
    #: the latest collected database point (gauges as read, counters per interval)
    database: Mapping[str, Any] | None = None
    last_collect_at: datetime | None = None
    watched_since: datetime | None = None  # when pgwarden registered the target
    #: block hits and reads summed over the cache hit window
    cache_hits: int | None = None
    cache_reads: int | None = None
    #: pg_stat_statements deallocations in the last hour
    evictions_last_hour: int | None = None
    #: the busiest minute of slow queries recently
    slow_per_minute: int = 0
    slow_statements: tuple[SlowStatement, ...] = ()
    sessions: tuple[Session, ...] = ()
    replicas: tuple[Replica, ...] = ()
    xid_age: int | None = None
    xid_database: str | None = None
    index_bloat: tuple[IndexBloat, ...] = ()
    #: application connection pools reported recently
    app_pools: tuple[AppPool, ...] = ()
    #: errors by class over ``alerts.error_rate_window_minutes`` before ``now``
    error_rates: ErrorRates | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
