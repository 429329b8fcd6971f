"""One settings registry: defaults, ``pgwarden.toml`` or ``--config``, ``PGWARDEN_*``.

Precedence, highest first: command-line options, environment variables, the TOML file,
the defaults below. Nested settings map to TOML tables (``[alerts]``) and to environment
variables with a double underscore (``PGWARDEN_ALERTS__CACHE_HIT_RATIO_PCT``).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
import types
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from pgwarden import dsn
from pgwarden.errors import ConfigurationError

DEFAULT_CONFIG_FILE = Path("pgwarden.toml")
ENV_PREFIX = "PGWARDEN_"
MASK = dsn.MASK
#: the longest duration any setting or option takes (a period, a retention, --since)
MAX_DURATION = timedelta(days=36_500)
#: PostgreSQL's limit of a timeout in milliseconds (lock_timeout, statement_timeout)
MAX_TIMEOUT_MS = 2_147_483_647
#: settings named ``*_ms`` … ``*_days`` (or ``*_minutes_by_…``) are durations
_DURATION_NAME = re.compile(r"_(ms|seconds|minutes|hours|days)(_by_\w+)?$")
_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


_NAMED_PERIODS = {"hourly": 1 / 24, "daily": 1, "weekly": 7, "monthly": 30}
_PERIOD_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([hd])$")


def period(text: str) -> timedelta | None:
    """``hourly``, ``daily``, ``weekly``, ``monthly``, ``12h``, ``3d``; ``never``."""
    key = text.strip().lower()
    if key == "never":
        return None
    if key in _NAMED_PERIODS:
        return timedelta(days=_NAMED_PERIODS[key])
    match = _PERIOD_RE.match(key)
    if match is None:
        raise ValueError(
            f"{text!r}: use hourly, daily, weekly, monthly, never, or a number of "
            "hours or days such as 12h or 3d"
        )
    hours = float(match.group(1)) * (1 if match.group(2) == "h" else 24)
    if not hours <= MAX_DURATION / timedelta(hours=1):
        raise ValueError(f"{text!r}: a period is at most 100 years")
    return timedelta(hours=hours)


def _valid_period(text: str) -> str:
    period(text)
    return text


#: how often something recurring is due (see :func:`period`)
Period = Annotated[str, AfterValidator(_valid_period)]


def _bounded(value: Any, info: ValidationInfo) -> Any:
    """A duration setting (by its name's unit) within :data:`MAX_DURATION`."""
    found = _DURATION_NAME.search(info.field_name or "")
    if found is None:
        return value
    unit = found.group(1)
    limit = MAX_TIMEOUT_MS if unit == "ms" else MAX_DURATION.total_seconds()
    limit /= 1 if unit == "ms" else _SECONDS[unit]
    amounts = value.values() if isinstance(value, dict) else [value]
    for amount in amounts:
        if isinstance(amount, int | float) and not amount <= limit:
            what = "2147483647 ms (PostgreSQL's limit)" if unit == "ms" else "100 years"
            raise ValueError(f"must be at most {what}")
    return value


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    check_durations = field_validator("*")(_bounded)


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
    parameter_values: bool = Field(
        True, description="Count categorical parameter values (pg_stats MCVs only)."
    )
    statements_source: bool = Field(
        True,
        description="Derive slow queries from pg_stat_statements deltas when no "
        "server log is read.",
    )
    statements_minmax_reset: bool = Field(
        False,
        description="PostgreSQL 17+: reset only pg_stat_statements min/max each "
        "cycle to record each interval's slowest call.",
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
    max_body_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="Largest request body (bytes); 413."
    )
    viewer_token: SecretStr | None = Field(
        None,
        description="Read-only token: every page, no action (acknowledge, silence, "
        "cancel, EXPLAIN, jobs); unset: no viewer role.",
    )
    hide_query_text: bool = Field(
        False, description="Show the viewer role no statement text."
    )


class ChannelSettings(Section):
    name: str = Field(description="Channel name, shown in delivery records.")
    kind: Literal["console", "log", "webhook", "slack", "email"] = Field(
        description="How notifications are delivered."
    )
    url: SecretStr | None = Field(None, description="Webhook or Slack URL.")
    to: list[str] = Field(default_factory=list, description="Email recipients.")
    min_severity: Literal["info", "warning", "critical", "emergency"] = Field(
        "warning", description="Send only alerts at or above this severity."
    )


class SmtpSettings(Section):
    host: str = Field("localhost", description="SMTP server for email alerts.")
    port: int = Field(25, ge=1, le=65535, description="SMTP port.")
    sender: str = Field("pgwarden@localhost", description="From address.")
    username: str | None = Field(None, description="SMTP login, if required.")
    password: SecretStr | None = Field(None, description="SMTP password.")
    starttls: bool = Field(False, description="Upgrade the SMTP session with TLS.")
    timeout_seconds: float = Field(10, gt=0, description="SMTP timeout.")


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
    evaluate_interval_seconds: int = Field(
        60, ge=5, description="Seconds between rule evaluations."
    )
    cache_hit_window_minutes: float = Field(
        10, gt=0, description="Cache hit ratio is measured over this window."
    )
    slow_query_window_minutes: float = Field(
        5, gt=0, description="A slow statement alert lasts this long after it."
    )
    long_transaction_minutes: float = Field(
        5, gt=0, description="Alert on transactions open longer than this."
    )
    idle_in_transaction_minutes: float = Field(
        5, gt=0, description="Alert on sessions idle in transaction this long."
    )
    blocked_session_seconds: float = Field(
        30, ge=0, description="Alert on sessions waiting for a lock this long."
    )
    replication_lag_seconds: float = Field(
        60, ge=0, description="Alert when a replica lags more than this."
    )
    wraparound_margin_pct: float = Field(
        50, ge=0, le=100, description="Alert when fewer XIDs than this remain."
    )
    statement_evictions_per_hour: int = Field(
        0, ge=0, description="Alert above this many pg_stat_statements evictions."
    )
    collector_silent_minutes: float = Field(
        5, gt=0, description="Alert when no collection cycle for this long."
    )
    stale_after_minutes: float = Field(
        30,
        gt=0,
        description="Resolve as stale the open alerts of a target not collected or "
        "evaluated for this long.",
    )
    app_report_max_age_minutes: float = Field(
        3, gt=0, description="Ignore application pool reports older than this."
    )
    error_rate_pct: float = Field(
        1, ge=0, le=100, description="Alert when errors exceed this share of calls."
    )
    error_rate_min_errors: int = Field(
        10, ge=1, description="The error rate alert needs at least this many errors."
    )
    error_rate_window_minutes: float = Field(
        15, gt=0, le=1440, description="Error rates are measured over this window."
    )
    for_minutes: dict[str, float] = Field(
        default_factory=dict, description="Per-rule pending time (rule = minutes)."
    )
    disabled_rules: list[str] = Field(
        default_factory=list, description="Built-in rules switched off."
    )
    maintenance_muted_rules: list[str] = Field(
        default_factory=lambda: [
            "long_transaction",
            "blocked_sessions",
            "slow_query",
            "slow_query_spike",
            "cache_hit_ratio",
        ],
        description="Rules muted in the maintenance window (maintenance causes).",
    )
    retries: int = Field(3, ge=0, description="Delivery retries per channel.")
    retry_backoff_seconds: float = Field(
        2, ge=0, description="First retry delay; doubles on each retry."
    )
    channels: list[ChannelSettings] = Field(
        default_factory=list, description="Where notifications go (default: log)."
    )
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)  # type: ignore[arg-type]


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
    analyze_schedule: Period = Field(
        "daily", description="ANALYZE of hot tables (e.g. daily, 12h, never)."
    )
    vacuum_schedule: Period = Field(
        "weekly", description="VACUUM of all tables (e.g. weekly, 3d, never)."
    )
    vacuum_full_schedule: Period = Field(
        "monthly", description="VACUUM FULL, in window (e.g. monthly, never)."
    )
    vacuum_full_bloat_pct: float = Field(
        20, ge=0, le=100, description="VACUUM FULL only above this table bloat."
    )
    lock_timeout_ms: int = Field(2000, ge=1, description="Maintenance lock_timeout.")
    timezone: str | None = Field(
        None, description="Time zone of the window (default: timezone)."
    )
    lock_retries: int = Field(
        3, ge=0, description="Retries of an operation that hit lock_timeout."
    )
    retry_backoff_seconds: float = Field(
        1, ge=0, description="First lock retry delay; doubles on each retry."
    )
    statement_timeout_ms: int = Field(
        3_600_000, ge=1, description="statement_timeout of one maintenance operation."
    )
    analyze_stale_pct: float = Field(
        10, ge=0, le=100, description="Statistics stale above this share modified."
    )
    vacuum_min_dead_rows: int = Field(
        1, ge=1, description="VACUUM skipped below this many dead rows."
    )
    vacuum_full_min_bytes: int = Field(
        10 * 1024 * 1024, ge=0, description="VACUUM FULL only above this table size."
    )
    heavy_update_pct: float = Field(
        50, ge=0, description="Heavily updated: updates+deletes above this % of rows."
    )
    hot_modifications_per_hour: float = Field(
        10_000, ge=0, description="Detected hot above this modification rate."
    )
    freeze_age_pct: float = Field(
        75, ge=0, le=100, description="VACUUM (FREEZE) above this % of freeze_max_age."
    )
    reindex_bloat_pct: float = Field(
        20, ge=0, le=100, description="REINDEX CONCURRENTLY above this index bloat."
    )
    reindex_min_bytes: int = Field(
        10 * 1024 * 1024, ge=0, description="REINDEX only above this index size."
    )
    stalled_after_seconds: float = Field(
        60, gt=0, description="A running run without heartbeat this long is stalled."
    )


class IndexHealthSettings(Section):
    report_schedule: Period = Field(
        "weekly", description="Index health report (e.g. weekly, 3d, never)."
    )
    unused_days: int = Field(
        30, ge=1, description="Unused = 0 scans in this many days."
    )
    bloat_pct: float = Field(20, ge=0, le=100, description="Flag index bloat above.")
    bloat_min_bytes: int = Field(
        10 * 1024 * 1024, ge=0, description="Flag bloat only of relations this large."
    )
    confirm_budget_seconds: float = Field(
        60, ge=0, description="Time for pgstattuple/pgstatindex confirmations."
    )
    confirm_approx_above_bytes: int = Field(
        1024**3, ge=0, description="Confirm larger tables with pgstattuple_approx."
    )
    mostly_null_fraction: float = Field(
        0.5, gt=0, le=1, description="Index leading column NULL share for partial."
    )
    seq_scan_days: int = Field(
        7, ge=1, description="Missing-index signals: period of history read."
    )
    seq_scan_min_scans: int = Field(
        100, ge=1, description="Missing-index signals: at least this many seq scans."
    )
    seq_scan_min_rows: int = Field(
        10_000, ge=1, description="Missing-index signals: rows read per seq scan."
    )
    seq_scan_share_pct: float = Field(
        50, ge=0, le=100, description="Missing-index signals: seq share of scans."
    )
    report_dir: Path | None = Field(
        None, description="Also write each weekly report (md, html, json) here."
    )


class AdvisorSettings(Section):
    budget_mb: float | None = Field(
        None, ge=0, description="Index advisor: byte budget of new indexes (MB)."
    )
    max_indexes: int = Field(10, ge=1, description="Index advisor: at most this many.")
    allow_lock: bool = Field(
        False,
        description="Index advisor: plain CREATE INDEX on partitioned tables "
        "(blocks writes while it builds).",
    )
    min_gain_pct: float = Field(
        1, ge=0, description="Index advisor: an index must save this % of the cost."
    )
    write_cost: float = Field(
        1, ge=0, description="Cost units per written row and index (write overhead)."
    )
    partial_max_fraction: float = Field(
        0.1, gt=0, le=1, description="Partial candidates: value share at most this."
    )
    partial_min_top: float = Field(
        0.3, ge=0, le=1, description="Partial candidates: skewed if top value share."
    )
    history_days: float = Field(
        7, gt=0, description="Advisors: period of statement history read."
    )
    max_statements: int = Field(
        1000, ge=1, description="Advisors: the heaviest statements considered."
    )
    n_plus_one_ratio: float = Field(
        5, ge=1, description="N+1: child calls per parent call at least."
    )
    n_plus_one_min_calls: int = Field(
        20, ge=1, description="N+1: child statement called at least this often."
    )
    large_offset: int = Field(
        1000, ge=1, description="Flag OFFSET pagination at or above this offset."
    )
    planning_ms: float = Field(
        10, ge=0, description="Flag mean planning time above this (ms)."
    )
    estimate_factor: float = Field(
        10, ge=1, description="Flag row estimates off by this factor or more."
    )
    nested_loop_rows: float = Field(
        1000, ge=0, description="Flag nested loops over an outer this large."
    )
    stale_stats_pct: float = Field(
        20, ge=0, description="Statistics stale above this % of rows modified."
    )
    report_dir: Path | None = Field(
        None, description="Also write each monthly optimisation report here."
    )


class ReportSettings(Section):
    optimisation_schedule: Period = Field(
        "monthly", description="Query optimisation report (e.g. monthly, 14d, never)."
    )


class JobsSettings(Section):
    schema_name: str = Field(
        "pgwarden_jobs",
        pattern=r"^[a-z_][a-z0-9_]*$",
        description="Schema of the job queue tables in the repository database.",
    )
    queue: str = Field(
        "pgwarden", max_length=20, description="Queue of the worker's jobs (prefix)."
    )
    concurrency: int = Field(4, ge=2, description="Jobs one worker runs at once.")
    collect_cron: str = Field(
        "* * * * *", description="Collection lease: cycles and samples until the next."
    )
    alerts_cron: str = Field(
        "* * * * * 30", description="Alert rule evaluation (6th field: seconds)."
    )
    retention_cron: str = Field("7 * * * *", description="History retention.")
    maintenance_cron: str = Field("*/15 * * * *", description="Maintenance run.")
    reports_cron: str = Field("0 6 * * *", description="Scheduled reports check.")
    reviews_cron: str = Field("20 * * * *", description="Post-launch reviews now due.")
    discover_cron: str = Field(
        "*/10 * * * *", description="Discover new databases of discovered servers."
    )
    queue_upkeep_cron: str = Field(
        "* * * * *", description="Retry stalled jobs, drop old finished ones."
    )
    heartbeat_seconds: float = Field(10, gt=0, description="Worker heartbeat.")
    stalled_seconds: float = Field(
        30, gt=0, description="A worker silent this long is dead; its jobs retried."
    )
    finished_retention_days: int = Field(
        7, ge=1, description="Keep finished jobs this long."
    )


class PartitioningSettings(Section):
    min_rows: int = Field(
        10_000_000, ge=0, description="Advise partitioning only above this many rows."
    )
    partition_bytes: int = Field(
        10 * 1024**3, ge=1, description="Aim for partitions of about this size."
    )
    tenant_share_pct: float = Field(
        50, ge=0, le=100, description="Key on the tenant column above this share."
    )
    append_only_pct: float = Field(
        5, ge=0, le=100, description="Time series: updates+deletes below this share."
    )
    min_correlation: float = Field(
        0.9, ge=0, le=1, description="Time column correlated with insertion order."
    )
    list_max_tenants: int = Field(
        8, ge=1, description="LIST (not HASH) on the tenant at or below this many."
    )
    retention_days: int | None = Field(
        None, ge=1, description="Time series kept this long (retention benefit)."
    )


class CapacitySettings(Section):
    headroom_pct: float = Field(
        30, ge=0, le=500, description="Pool and memory sizes get this headroom."
    )
    users_multiplier: float = Field(
        10, gt=0, description="Default --users-x of capacity project."
    )
    months: list[int] = Field(
        default_factory=lambda: [6, 12], description="Default --months horizons."
    )
    min_history_days: float = Field(
        7, gt=0, description="Trend by regression from this much history."
    )
    min_history_hours: float = Field(
        24, gt=0, description="Growth from pgwarden's history only from this span."
    )
    min_history_samples: int = Field(
        12, ge=2, description="...and at least this many database samples."
    )
    evidence_days: int = Field(
        28, ge=1, description="Count rows by creation time over these past days."
    )
    evidence_tables: int = Field(
        10, ge=0, description="Read creation times of this many largest tables."
    )
    evidence_scan_bytes: int = Field(
        128 * 1024**2, ge=8192, description="Larger tables: a block sample this big."
    )
    memory_bytes: int | None = Field(
        None, ge=1, description="Server RAM (default: shared_buffers / 25 %)."
    )
    disk_bytes: int | None = Field(
        None, ge=1, description="Disk for the database (a threshold when set)."
    )


class LoadSettings(Section):
    normal_users: int = Field(100, ge=1, description="Preset 'normal' users.")
    peak_users: int = Field(500, ge=1, description="Preset 'peak' users.")
    stress_users: int = Field(1000, ge=1, description="Preset 'stress' users.")
    allowed_targets: list[str] = Field(
        default_factory=list,
        description="Targets (host:port/db) load tests may write to, besides embedded.",
    )
    duration_seconds: float = Field(60, gt=0, description="Measured run length.")
    ramp_up_seconds: float = Field(5, ge=0, description="Users start over this long.")
    warmup_seconds: float = Field(
        5, ge=0, description="Not measured at the start (includes the ramp-up)."
    )
    think_ms: float = Field(500, ge=0, description="Mean think time between actions.")
    pool_size: int = Field(20, ge=1, description="Application connection pool size.")
    pool_timeout_seconds: float = Field(
        5, gt=0, description="Wait for a pooled connection at most this long."
    )
    cache_size: int = Field(1000, ge=1, description="Application LRU cache entries.")
    statement_timeout_ms: int = Field(
        30_000, ge=1, description="statement_timeout of the load's connections."
    )
    workers: int = Field(1, ge=1, description="Load generator processes.")
    regression_pct: float = Field(
        10, ge=0, description="load compare: a p95 or throughput change above fails."
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
    pool_step: int = Field(10, ge=1, description="Pool sizes tried: min, min+step...")
    users: int = Field(100, ge=1, description="Users held fixed during the sweeps.")
    step_seconds: float = Field(10, gt=0, description="Measured seconds per size.")
    cache_sizes: list[int] = Field(
        default_factory=lambda: [10, 100, 1000, 10000],
        description="Application cache sizes tried.",
    )
    shared_buffers_sizes: list[str] = Field(
        default_factory=lambda: ["16MB", "64MB", "256MB"],
        description="shared_buffers sizes tried (embedded server; restarts it).",
    )


class PersonSettings(Section):
    name: str = Field(description="Person's name as used in layers.")
    email: str | None = Field(None, description="Email for escalations.")
    slack: str | None = Field(None, description="Slack member id (U123...).")
    phone: str | None = Field(None, description="Phone number, shown only.")


class LayerSettings(Section):
    name: str = Field(description="Layer name: primary, secondary ...")
    people: list[str] = Field(description="Rotation order of this layer.")
    offset: int = Field(0, ge=0, description="Start this many places later.")
    rotation_weeks: int = Field(1, ge=1, description="Weeks per shift.")


class OverrideSettings(Section):
    layer: str = Field(description="Layer the override replaces.")
    person: str = Field(description="Who is on call instead.")
    start: str = Field(description="ISO start, local time unless offset given.")
    end: str = Field(description="ISO end.")
    reason: str = Field("", description="Why (holiday, swap ...).")


class OnCallSettings(Section):
    timezone: str | None = Field(
        None, description="Time zone of handoffs (default: timezone)."
    )
    handoff_day: Literal[
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
    ] = Field("monday", description="Weekday of the rotation handoff.")
    handoff_time: str = Field(
        "09:00", pattern=r"^\d{2}:\d{2}$", description="Local time of the handoff."
    )
    rotation_start: str = Field(
        "2024-01-01",
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="A date in the first shift of the rotation.",
    )
    people: list[PersonSettings] = Field(
        default_factory=list, description="Everyone on the roster."
    )
    layers: list[LayerSettings] = Field(
        default_factory=list, description="Rotations: L1 primary, L2 secondary."
    )
    overrides: list[OverrideSettings] = Field(
        default_factory=list, description="Shifts taken over by someone else."
    )
    lead: str | None = Field(None, description="Escalation level 3 (team lead).")
    executive: str | None = Field(None, description="Escalation level 4.")
    ack_timeout_minutes: float = Field(
        15, gt=0, description="Escalate when not acknowledged within this."
    )
    ack_timeout_minutes_by_severity: dict[str, float] = Field(
        default_factory=dict, description="Per-severity acknowledgement timeout."
    )
    executive_severities: list[str] = Field(
        default_factory=lambda: ["critical", "emergency"],
        description="Severities that may escalate to the executive.",
    )
    max_share_pct: float = Field(
        25, gt=0, le=100, description="Nobody on call more than this share."
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


def _long_secret(secret: SecretStr) -> SecretStr:
    if len(secret.get_secret_value()) < 16:
        raise ValueError("use at least 16 random characters")
    return secret


class CcbSettings(Section):
    binding_voters: list[str] = Field(
        default_factory=list, description="Change board voters whose votes count."
    )
    min_approvals: int = Field(2, ge=1, description="Binding approvals to approve.")
    max_rejections: int = Field(
        0, ge=0, description="Reject above this many binding rejections."
    )
    oncall_veto: bool = Field(True, description="The on-call engineer may veto.")
    oncall_layer: str | None = Field(
        None, description="On-call layer holding the veto (default: the first)."
    )
    meeting_interval_days: int = Field(14, ge=1, description="Days between meetings.")
    first_meeting: str = Field(
        "2026-01-05",
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="Date of the first board meeting.",
    )
    large_table_bytes: int = Field(
        1 << 30, ge=0, description="Risk: a rewrite or scan above this size is C4."
    )
    max_migration_bytes: int = Field(
        1_000_000, ge=1, description="Migration SQL above this is not analysed (C4)."
    )
    log_key: Annotated[SecretStr, AfterValidator(_long_secret)] | None = Field(
        None, description="Secret that signs the decision log (set it in the env)."
    )
    witness_dir: Path | None = Field(
        None, description="Decision log witness files (default: user data dir)."
    )


class ReviewSettings(Section):
    launch_date: str | None = Field(
        None,
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="Launch date; a date recorded by review launch wins.",
    )
    slo_ms: float | None = Field(
        None, gt=0, description="Latency objective (default: slo.query_latency_ms)."
    )
    grace_hours: float = Field(
        24, ge=0, description="A review is due this long after its period ends."
    )
    latency_cv: float = Field(
        1.0, gt=0, description="Latency stddev/mean assumed when not measured."
    )
    report_dir: Path | None = Field(
        None, description="Also write each review (md, html, json) here."
    )
    active_users_query: str | None = Field(
        None,
        max_length=10_000,
        description="One SELECT counting active users in %(start)s..%(end)s.",
    )
    active_tenants_query: str | None = Field(
        None,
        max_length=10_000,
        description="One SELECT counting active tenants in %(start)s..%(end)s.",
    )


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
        allow_inf_nan=False,
    )
    SECRET_FIELDS: ClassVar[tuple[str, ...]] = (
        "dsn",
        "repository_dsn",
        "admin_token",
        "viewer_token",
    )
    check_durations = field_validator("*")(_bounded)

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
    advisor: AdvisorSettings = Field(default_factory=AdvisorSettings)  # type: ignore[arg-type]
    jobs: JobsSettings = Field(default_factory=JobsSettings)  # type: ignore[arg-type]
    partitioning: PartitioningSettings = Field(default_factory=PartitioningSettings)  # type: ignore[arg-type]
    capacity: CapacitySettings = Field(default_factory=CapacitySettings)  # type: ignore[arg-type]
    load: LoadSettings = Field(default_factory=LoadSettings)  # type: ignore[arg-type]
    elasticity: ElasticitySettings = Field(default_factory=ElasticitySettings)  # type: ignore[arg-type]
    slo: SloSettings = Field(default_factory=SloSettings)  # type: ignore[arg-type]
    oncall: OnCallSettings = Field(default_factory=OnCallSettings)  # type: ignore[arg-type]
    ccb: CcbSettings = Field(default_factory=CcbSettings)  # type: ignore[arg-type]
    reviews: ReviewSettings = Field(default_factory=ReviewSettings)  # type: ignore[arg-type]
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
    except UnicodeDecodeError as exc:
        raise ConfigurationError(
            f"{path}: not UTF-8 text (byte {exc.start}); TOML files are UTF-8"
        ) from exc


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
    except SettingsError as exc:  # a PGWARDEN_* value pydantic-settings reads as JSON
        raise ConfigurationError(_unparsed(exc)) from exc
    finally:
        Settings._toml = {}


def _explain(exc: ValidationError, path: Path | None) -> str:
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    env_name = ENV_PREFIX + key.replace(".", "__").upper()
    origin = env_name if env_name in os.environ else str(path or "settings")
    reason = "unknown setting" if first["type"] == "extra_forbidden" else first["msg"]
    reason = reason.removeprefix("Value error, ")
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{origin}: {key}: {reason}{more}"


def _unparsed(exc: SettingsError) -> str:
    """Which ``PGWARDEN_*`` variable is not the JSON its setting needs, and why.

    The value is never repeated: it may hold a secret (a webhook URL).
    """
    for name in sorted(os.environ):
        path = name[len(ENV_PREFIX) :].lower().split("__")
        if not name.upper().startswith(ENV_PREFIX) or not _structured(path):
            continue
        try:
            json.loads(os.environ[name])
        except ValueError as bad:
            reason = str(bad).split(":")[0]
            return f"{name}: not valid JSON ({reason}); give a JSON list or object"
    found = re.search(r'field "(\w+)"', str(exc))
    return f"{ENV_PREFIX}{found.group(1).upper() if found else '*'}: not valid JSON"


def _structured(path: list[str], model: type[BaseModel] = Settings) -> bool:
    """Whether the setting at ``path`` is a list, table or section (read as JSON)."""
    field = model.model_fields.get(path[0])
    if field is None:
        return False
    kinds = [field.annotation]
    if get_origin(field.annotation) in (Union, types.UnionType):
        kinds = list(get_args(field.annotation))
    for kind in kinds:
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            return len(path) == 1 or _structured(path[1:], kind)
        if get_origin(kind) in (list, dict) and len(path) == 1:
            return True
    return False


#: the one masking function (see :mod:`pgwarden.dsn`)
mask_dsn = dsn.mask


def effective(settings: Settings) -> dict[str, Any]:
    """The settings as plain data, secrets masked (for ``config show``)."""
    data = settings.model_dump(mode="json")
    for name in ("dsn", "repository_dsn"):
        secret = getattr(settings, name)
        data[name] = dsn.mask(secret.get_secret_value()) if secret else None
    for token in ("admin_token", "viewer_token"):
        if getattr(settings.dashboard, token) is not None:
            data["dashboard"][token] = MASK
    if settings.ccb.log_key is not None:
        data["ccb"]["log_key"] = MASK
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
