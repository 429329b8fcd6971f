"""What the dashboard, the CLI and ``/metrics`` show: plain frozen records."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pgwarden.observe.errors import ErrorRates


@dataclass(frozen=True)
class Connections:
    """Client connections as read at the end of the last interval."""

    total: int
    active: int
    idle: int
    idle_in_transaction: int
    other: int
    waiting_on_lock: int
    max_connections: int | None
    reserved: int | None

    @property
    def available(self) -> int | None:
        """Connections ordinary roles may open: max_connections minus reserved."""
        if self.max_connections is None:
            return None
        return self.max_connections - (self.reserved or 0)

    @property
    def utilisation(self) -> float | None:
        available = self.available
        return self.total / available if available else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_state": {
                "active": self.active,
                "idle": self.idle,
                "idle_in_transaction": self.idle_in_transaction,
                "other": self.other,
            },
            "waiting_on_lock": self.waiting_on_lock,
            "max_connections": self.max_connections,
            "reserved": self.reserved,
            "max": self.available,
            "utilisation": _round(self.utilisation),
        }


@dataclass(frozen=True)
class CacheHit:
    """Share of block reads served from shared buffers, and the app's own cache."""

    database: float | None
    application: float | None = None


@dataclass(frozen=True)
class IndexUsage:
    schema: str
    table: str | None
    index: str
    scans: int
    tuples_read: int
    tuples_fetched: int
    size_bytes: int | None
    #: no scan in the unused period, and not a constraint's index; None: not known
    unused: bool | None


@dataclass(frozen=True)
class TopQuery:
    queryid: int
    query: str
    calls: int
    mean_ms: float
    max_ms: float | None
    total_ms: float
    share_of_total_time: float
    rows: int
    caller: str | None


@dataclass(frozen=True)
class TableSize:
    schema: str
    table: str
    size_bytes: int | None
    total_size_bytes: int | None
    rows: int | None
    growth_bytes_per_day: float | None


@dataclass(frozen=True)
class SlowRate:
    """Slow queries seen in the last minute, by severity."""

    warning: int = 0
    critical: int = 0
    emergency: int = 0

    @property
    def total(self) -> int:
        return self.warning + self.critical + self.emergency


@dataclass(frozen=True)
class OwnStatements:
    """pgwarden's own statements left out of the workload figures.

    ``statements``: distinct statements of the top-query window (the last hour);
    ``calls``: their calls in the last interval, not counted in queries per second
    and mean latency. ``excluded`` is False when they were asked to be included.
    """

    statements: int = 0
    calls: int = 0
    excluded: bool = True


@dataclass(frozen=True)
class PerformanceMetrics:
    generated_at: datetime
    target: str | None
    refresh_seconds: int
    source: str
    interval_end: datetime | None
    interval_seconds: float | None
    active_connections: Connections | None
    queries_per_second: float | None
    transactions_per_second: float | None
    mean_latency_ms: float | None
    cache_hit_ratio: CacheHit
    index_usage: tuple[IndexUsage, ...]
    index_window_days: int
    slowest_queries: tuple[TopQuery, ...]
    table_sizes: tuple[TableSize, ...]
    slow_queries_per_minute: SlowRate
    own_statements: OwnStatements = field(default_factory=OwnStatements)
    notes: tuple[str, ...] = ()
    #: indexes unused by index health's definition (``pgwarden indexes health``)
    unused_indexes: int | None = None
    collect_interval_seconds: int | None = None
    #: errors of the alert window (``alerts.error_rate_window_minutes``)
    error_rates: ErrorRates | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ISO timestamps, floats rounded to 6 places, queryids as text."""
        data = asdict(replace(self, error_rates=None))
        data["error_rates"] = self.error_rates.as_dict() if self.error_rates else None
        data["generated_at"] = self.generated_at.isoformat()
        data["interval_end"] = _iso(self.interval_end)
        data["active_connections"] = (
            self.active_connections.as_dict() if self.active_connections else None
        )
        data["slow_queries_per_minute"] = {
            **asdict(self.slow_queries_per_minute),
            "total": self.slow_queries_per_minute.total,
        }
        data["notes"] = list(self.notes)
        for query in data["slowest_queries"]:
            query["queryid"] = str(query["queryid"])  # int64: exact in JavaScript
        rounded: dict[str, Any] = _rounded(data)
        return rounded


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value
