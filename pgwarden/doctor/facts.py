"""What ``pgwarden doctor`` reads from a server: plain rows, no judgement."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pgwarden.slowlog import LogSource

PgssStatus = Literal["readable", "not_installed", "not_loaded", "denied", "timeout"]

#: Settings doctor reads; superuser-only ones may be hidden from the role.
SETTINGS = (
    "server_version",
    "shared_preload_libraries",
    "session_preload_libraries",
    "track_io_timing",
    "compute_query_id",
    "log_min_duration_statement",
    "log_destination",
    "logging_collector",
    "pg_stat_statements.max",
    "auto_explain.log_min_duration",
)
EXTENSIONS = ("pg_stat_statements", "pgstattuple", "hypopg", "pg_buffercache")
PREDEFINED_ROLES = (
    "pg_monitor",
    "pg_read_all_stats",
    "pg_read_all_settings",
    "pg_maintain",
)


@dataclass(frozen=True)
class Extension:
    name: str
    available: bool
    installed_version: str | None = None
    schema: str | None = None

    @property
    def installed(self) -> bool:
        return self.installed_version is not None


@dataclass(frozen=True)
class Maintenance:
    """User tables of the database, and how many the role may not VACUUM/ANALYZE."""

    tables: int
    denied: int


@dataclass(frozen=True)
class DoctorFacts:
    server_version_num: int
    role: str
    superuser: bool = False
    settings: Mapping[str, str] = field(default_factory=dict)
    roles: Mapping[str, bool] = field(default_factory=dict)
    extensions: Mapping[str, Extension] = field(default_factory=dict)
    pg_stat_statements: PgssStatus = "not_installed"
    maintenance: Maintenance | None = None
    platform: str | None = None
    unreadable: Mapping[str, str] = field(default_factory=dict)
    #: where slow statements come from (None: not looked up)
    log_source: LogSource | None = None
    #: seconds between activity samples (slow_queries.sample_interval_seconds)
    sample_every: float = 5.0
    #: slow queries derived from pg_stat_statements (slow_queries.statements_source)
    statements_source: bool = True
    #: the PostgreSQL 17+ min/max-only reset opted in, and why it cannot run if so
    minmax_reset: bool = False
    minmax_off: str | None = None

    @property
    def major(self) -> int:
        return self.server_version_num // 10000

    def extension(self, name: str) -> Extension:
        return self.extensions.get(name, Extension(name, available=False))

    def member_of(self, role: str) -> bool:
        return self.superuser or self.roles.get(role, False)

    def preloaded(self, library: str) -> bool | None:
        """Whether ``library`` is in shared_preload_libraries; None if hidden."""
        value = self.settings.get("shared_preload_libraries")
        if value is None:
            return None
        return library in split_list(value)


def split_list(value: str) -> list[str]:
    """A list setting (``'a, "b"'``) as names."""
    return [item.strip().strip('"') for item in value.split(",") if item.strip()]
