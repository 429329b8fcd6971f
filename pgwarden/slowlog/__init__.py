"""The slow query log: server log, activity sampling, application reports and
statements derived from pg_stat_statements (``slowlog.derived``).

Every statement is stored normalised (literal values replaced by ``$n``), once per
execution however many sources saw it, in daily partitions of
``pgwarden.slow_query_log`` kept for a rolling retention period.
"""

from pgwarden.slowlog.activity import sample_activity
from pgwarden.slowlog.application import (
    ReportIngest,
    ingest_application_reports,
    parse_report,
)
from pgwarden.slowlog.derived import (
    Derivation,
    DerivedCapture,
    DerivedQuery,
    derive,
    minmax_unavailable,
)
from pgwarden.slowlog.model import SlowQuery
from pgwarden.slowlog.partitions import apply_retention, ensure_partitions
from pgwarden.slowlog.report import MinuteCount, recent, slow_queries_per_minute
from pgwarden.slowlog.serverlog import LogIngest, ingest_server_log, ingest_stream
from pgwarden.slowlog.severity import Thresholds
from pgwarden.slowlog.source import LogSource
from pgwarden.slowlog.source import configured as log_dir_source
from pgwarden.slowlog.source import discover as discover_log_source
from pgwarden.slowlog.store import ensure_target, record
from pgwarden.sqltext import Normalised, normalise, resolve_caller

__all__ = [
    "Derivation",
    "DerivedCapture",
    "DerivedQuery",
    "LogIngest",
    "LogSource",
    "MinuteCount",
    "Normalised",
    "ReportIngest",
    "SlowQuery",
    "Thresholds",
    "apply_retention",
    "derive",
    "discover_log_source",
    "ensure_partitions",
    "ensure_target",
    "ingest_application_reports",
    "ingest_server_log",
    "ingest_stream",
    "log_dir_source",
    "minmax_unavailable",
    "normalise",
    "parse_report",
    "recent",
    "record",
    "resolve_caller",
    "sample_activity",
    "slow_queries_per_minute",
]
