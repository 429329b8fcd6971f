"""One settings registry: defaults, ``pgwarden.toml`` or ``--config``, ``PGWARDEN_*``.

Precedence, highest first: command-line options, environment variables, the TOML file,
the defaults below. Nested settings map to TOML tables (``[alerts]``) and to environment
variables with a double underscore (``PGWARDEN_ALERTS__CACHE_HIT_RATIO_PCT``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from pgwarden.errors import ConfigurationError

DEFAULT_CONFIG_FILE = Path("pgwarden.toml")
ENV_PREFIX = "PGWARDEN_"
MASK = "********"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CollectSettings(Section):
    interval_seconds: int = Field(60, ge=5, description="Seconds between snapshots.")
    raw_retention_days: int = Field(7, ge=1, description="Keep raw samples this long.")
    rollup_retention_days: int = Field(
        400, ge=1, description="Keep hourly roll-ups this long."
    )
    text_limit: int = Field(
        10_000, ge=100, description="Store at most this many characters of a query."
    )


class SlowQuerySettings(Section):
    warning_ms: float = Field(100, gt=0, description="Slow query: warning above this.")
    critical_ms: float = Field(
        500, gt=0, description="Slow query: critical above this."
    )
    emergency_ms: float = Field(
        1000, gt=0, description="Slow query: emergency above this."
    )
    retention_days: int = Field(30, ge=1, description="Slow query log retention.")
    sample_interval_seconds: float = Field(
        5, gt=0, description="Seconds between pg_stat_activity samples."
    )
    server_log_dir: Path | None = Field(
        None, description="Server log directory (jsonlog/csvlog) collect reads."
    )


class DashboardSettings(Section):
    host: str = Field("127.0.0.1", description="Address the dashboard listens on.")
    port: int = Field(8765, ge=0, le=65535, description="Dashboard port.")
    refresh_seconds: int = Field(60, ge=1, description="Dashboard refresh interval.")
    admin_token: SecretStr | None = Field(
        None, description="Token for /api/admin/*; generated when unset."
    )
    anonymous_metrics: bool = Field(
        False, description="Serve /metrics without the admin token."
    )


class AlertSettings(Section):
    connection_utilisation_pct: float = Field(
        80, ge=0, le=100, description="Alert when connections exceed this share."
    )
    cache_hit_ratio_pct: float = Field(
        40, ge=0, le=100, description="Alert when the cache hit ratio falls below."
    )
    slow_queries_per_minute: int = Field(
        10, ge=0, description="Alert above this many slow queries per minute."
    )
    index_bloat_pct: float = Field(
        20, ge=0, le=100, description="Alert on index bloat above this share."
    )
    index_bloat_min_bytes: int = Field(
        10 * 1024 * 1024, ge=0, description="Ignore bloat of smaller indexes."
    )
    repeat_interval_hours: float = Field(
        4, gt=0, description="Repeat a firing alert's notification after this."
    )


class MaintenanceSettings(Section):
    window_start: str = Field(
        "02:00", pattern=r"^\d{2}:\d{2}$", description="Maintenance window start."
    )
    window_end: str = Field(
        "05:00", pattern=r"^\d{2}:\d{2}$", description="Maintenance window end."
    )
    hot_tables: list[str] = Field(
        default_factory=lambda: ["User", "Assessment", "Answer", "EvidenceFile"],
        description="Tables analysed daily (plus tables detected hot).",
    )
    analyze_schedule: str = Field("daily", description="ANALYZE of hot tables.")
    vacuum_schedule: str = Field("weekly", description="VACUUM of all tables.")
    vacuum_full_schedule: str = Field("monthly", description="VACUUM FULL, in window.")
    vacuum_full_bloat_pct: float = Field(
        20, ge=0, le=100, description="VACUUM FULL only above this table bloat."
    )
    lock_timeout_ms: int = Field(2000, ge=1, description="Maintenance lock_timeout.")


class IndexHealthSettings(Section):
    report_schedule: str = Field("weekly", description="Index health report.")
    unused_days: int = Field(
        30, ge=1, description="Unused = 0 scans in this many days."
    )
    bloat_pct: float = Field(20, ge=0, le=100, description="Flag index bloat above.")


class ReportSettings(Section):
    optimisation_schedule: str = Field(
        "monthly", description="Query optimisation report."
    )


class PartitioningSettings(Section):
    min_rows: int = Field(
        10_000_000, ge=0, description="Advise partitioning only above this many rows."
    )


class LoadSettings(Section):
    normal_users: int = Field(100, ge=1, description="Preset 'normal' users.")
    peak_users: int = Field(500, ge=1, description="Preset 'peak' users.")
    stress_users: int = Field(1000, ge=1, description="Preset 'stress' users.")
    allowed_targets: list[str] = Field(
        default_factory=list,
        description="Targets (host:port/db) load tests may write to, besides embedded.",
    )


class ElasticitySettings(Section):
    pool_min: int = Field(10, ge=1, description="Smallest pool tried.")
    pool_max: int = Field(100, ge=1, description="Largest pool tried.")
    scale_pool_pct: float = Field(
        70, ge=0, le=100, description="Scale above this pool use."
    )
    scale_cache_hit_pct: float = Field(
        50, ge=0, le=100, description="Scale below this cache hit ratio."
    )


class SloSettings(Section):
    query_latency_ms: float = Field(50, gt=0, description="Query latency objective.")
    query_latency_share_pct: float = Field(
        95, ge=0, le=100, description="Share of queries under the latency objective."
    )
    cache_hit_pct: float = Field(50, ge=0, le=100, description="Cache hit objective.")
    unused_index_pct: float = Field(5, ge=0, le=100, description="Unused index share.")
    unused_index_after_days: int = Field(90, ge=1, description="...measured after.")
    time_to_ack_minutes: float = Field(15, gt=0, description="Time to acknowledge.")
    change_success_pct: float = Field(95, ge=0, le=100, description="Change success.")


class EmbeddedSettings(Section):
    data_dir: Path | None = Field(
        None, description="Embedded server directory (default: user data dir)."
    )
    pg_bin: Path | None = Field(
        None, description="System PostgreSQL bin directory instead of the wheel."
    )


class Settings(BaseSettings):
    """Every setting pgwarden reads, with the plan's defaults."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )
    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("dsn", "repository_dsn", "admin_token")

    dsn: SecretStr | None = Field(None, description="Target database (libpq DSN/URI).")
    repository_dsn: SecretStr | None = Field(
        None, description="Repository database; default: the target."
    )
    timezone: str = Field("UTC", description="Time zone of windows and schedules.")
    statement_timeout_ms: int = Field(
        5000, ge=1, description="statement_timeout for reads of the target."
    )
    collect: CollectSettings = Field(default_factory=CollectSettings)  # type: ignore[arg-type]
    slow_queries: SlowQuerySettings = Field(default_factory=SlowQuerySettings)  # type: ignore[arg-type]
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)  # type: ignore[arg-type]
    alerts: AlertSettings = Field(default_factory=AlertSettings)  # type: ignore[arg-type]
    maintenance: MaintenanceSettings = Field(default_factory=MaintenanceSettings)  # type: ignore[arg-type]
    index_health: IndexHealthSettings = Field(default_factory=IndexHealthSettings)  # type: ignore[arg-type]
    reports: ReportSettings = Field(default_factory=ReportSettings)  # type: ignore[arg-type]
    partitioning: PartitioningSettings = Field(default_factory=PartitioningSettings)  # type: ignore[arg-type]
    load: LoadSettings = Field(default_factory=LoadSettings)  # type: ignore[arg-type]
    elasticity: ElasticitySettings = Field(default_factory=ElasticitySettings)  # type: ignore[arg-type]
    slo: SloSettings = Field(default_factory=SloSettings)  # type: ignore[arg-type]
    embedded: EmbeddedSettings = Field(default_factory=EmbeddedSettings)  # type: ignore[arg-type]

    _toml: ClassVar[dict[str, Any]] = {}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _DictSource(settings_cls, cls._toml))


class _DictSource(PydanticBaseSettingsSource):
    """The parsed TOML file as a settings source."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self.data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a settings file, failing with the file and the reason."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: malformed TOML: {exc}") from exc


def load_settings(
    config_file: Path | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Build the effective settings; without a file, ./pgwarden.toml if present."""
    path = config_file
    if path is None and DEFAULT_CONFIG_FILE.is_file():
        path = DEFAULT_CONFIG_FILE
    data = read_toml(path) if path is not None else {}
    kwargs = {k: v for k, v in (overrides or {}).items() if v is not None}
    Settings._toml = data
    try:
        return Settings(**kwargs)
    except ValidationError as exc:
        raise ConfigurationError(_explain(exc, path)) from exc
    finally:
        Settings._toml = {}


def _explain(exc: ValidationError, path: Path | None) -> str:
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    env_name = ENV_PREFIX + key.replace(".", "__").upper()
    origin = env_name if env_name in os.environ else str(path or "settings")
    reason = "unknown setting" if first["type"] == "extra_forbidden" else first["msg"]
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{origin}: {key}: {reason}{more}"


def mask_dsn(dsn: str) -> str:
    """Hide the password in a URI or key=value DSN."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        params = conninfo_to_dict(dsn)
    except Exception:
        return MASK
    if "password" not in params:
        return dsn
    if "://" in dsn:
        head, _, tail = dsn.partition("://")
        userinfo, at, rest = tail.rpartition("@")
        user = userinfo.split(":", 1)[0]
        return f"{head}://{user}:{MASK}@{rest}" if at else dsn
    params["password"] = MASK
    return make_conninfo(**{k: str(v) for k, v in params.items()})


def effective(settings: Settings) -> dict[str, Any]:
    """The settings as plain data, secrets masked (for ``config show``)."""
    data = settings.model_dump(mode="json")
    for name in ("dsn", "repository_dsn"):
        secret = getattr(settings, name)
        data[name] = mask_dsn(secret.get_secret_value()) if secret else None
    if settings.dashboard.admin_token is not None:
        data["dashboard"]["admin_token"] = MASK
    return data


def iter_settings(
    model: type[BaseModel] = Settings, prefix: str = ""
) -> Iterator[tuple[str, Any, str]]:
    """Yield (dotted name, default, description) for every leaf setting."""
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, Section):
            yield from iter_settings(annotation, f"{prefix}{name}.")
        else:
            default = field.get_default(call_default_factory=True)
            yield f"{prefix}{name}", default, field.description or ""


Mode = Literal["json", "table", "md", "html"]
