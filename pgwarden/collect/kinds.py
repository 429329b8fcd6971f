"""What the collector stores: one :class:`Kind` per family of samples.

Every kind has three tables in the repository schema:

``<kind>_current``
    plain rows, one per key per interval, for the hour being collected;
``<kind>_history``
    the raw samples packed per key per hour into arrays (``at_ms[]``, ``calls[]`` …),
    range-partitioned by day and kept ``collect.raw_retention_days``; compact: the
    time of a sample is ``at_ms`` milliseconds after ``hour`` (int4), its interval
    ``interval_ms`` (int4), float measures are ``real`` (float4); a measure that is
    zero in every sample of the row is an empty array, one with the same value in
    every sample a one-element array, one that is NULL in every sample a NULL
    array; for kinds with ``cycle_interval`` (statements) an interval
    equal to its collection cycle's (``collect_cycle``) is a NULL element, so the
    array is NULL;
``<kind>_hourly``
    hourly roll-ups (counters summed, gauges at their maximum), range-partitioned
    by month and kept ``collect.rollup_retention_days``.

Counters are stored as deltas per interval; gauges as read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property

BIGINT = "bigint"
FLOAT = "double precision"
#: float measures in the packed ``_history`` arrays (float4: ~7 significant digits)
REAL = "real"
BOOL = "boolean"
#: the slowest statements are ranked over this much history: every cycle writes
#: each statement's sums over the window it ends (``statement_window``)
WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Column:
    name: str
    sqltype: str = BIGINT
    gauge: bool = False

    @property
    def packed_type(self) -> str:
        """The element type of this column's ``_history`` array."""
        return REAL if self.sqltype == FLOAT else self.sqltype


@dataclass(frozen=True)
class Kind:
    name: str
    keys: tuple[Column, ...]
    columns: tuple[Column, ...]
    #: drop rows whose counters did not move (idle statements)
    skip_idle: bool = False
    #: packed intervals are read from ``collect_cycle`` (one per cycle, not per key)
    cycle_interval: bool = False

    @property
    def current(self) -> str:
        return f"{self.name}_current"

    @property
    def history(self) -> str:
        return f"{self.name}_history"

    @property
    def hourly(self) -> str:
        return f"{self.name}_hourly"

    @cached_property
    def key_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.keys)

    @cached_property
    def value_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @cached_property
    def counters(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if not c.gauge)

    @cached_property
    def gauges(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.gauge)


def _counters(*names: str, sqltype: str = BIGINT) -> tuple[Column, ...]:
    return tuple(Column(name, sqltype) for name in names)


def _gauges(*names: str, sqltype: str = BIGINT) -> tuple[Column, ...]:
    return tuple(Column(name, sqltype, gauge=True) for name in names)


STATEMENT = Kind(
    "statement",
    keys=(
        Column("dbid"),
        Column("userid"),
        Column("queryid"),
        Column("toplevel", BOOL),
    ),
    columns=(
        *_counters("calls", "plans", "rows"),
        *_counters("total_exec_ms", "total_plan_ms", sqltype=FLOAT),
        *_counters(
            "shared_blks_hit",
            "shared_blks_read",
            "shared_blks_dirtied",
            "shared_blks_written",
            "local_blks_hit",
            "local_blks_read",
            "temp_blks_read",
            "temp_blks_written",
        ),
        *_counters("blk_read_ms", "blk_write_ms", sqltype=FLOAT),
        *_counters("wal_records", "wal_fpi", "wal_bytes", "wal_buffers_full"),
        *_counters("jit_functions"),
        *_counters("jit_ms", sqltype=FLOAT),
    ),
    skip_idle=True,
    cycle_interval=True,
)

DATABASE = Kind(
    "database",
    keys=(Column("datid"),),
    columns=(
        *_counters(
            "xact_commit",
            "xact_rollback",
            "blks_read",
            "blks_hit",
            "tup_returned",
            "tup_fetched",
            "tup_inserted",
            "tup_updated",
            "tup_deleted",
            "temp_files",
            "temp_bytes",
            "deadlocks",
            "statements_dealloc",
            "checkpoints_timed",
            "checkpoints_req",
            "checkpoint_buffers",
            "buffers_clean",
            "maxwritten_clean",
            "buffers_backend",
            "buffers_alloc",
        ),
        *_gauges(
            "size_bytes",
            "connections",
            "conn_active",
            "conn_idle",
            "conn_idle_in_xact",
            "conn_waiting_lock",
            "oldest_xmin_age",
            "max_connections",
            "reserved_connections",
            "shared_buffers_bytes",
        ),
        *_gauges("longest_xact_s", sqltype=FLOAT),
    ),
)

TABLE = Kind(
    "table",
    keys=(Column("relid"),),
    columns=(
        *_counters(
            "seq_scan",
            "seq_tup_read",
            "idx_scan",
            "idx_tup_fetch",
            "n_tup_ins",
            "n_tup_upd",
            "n_tup_del",
            "n_tup_hot_upd",
            "vacuum_count",
            "autovacuum_count",
            "analyze_count",
            "autoanalyze_count",
            "heap_blks_read",
            "heap_blks_hit",
            "idx_blks_read",
            "idx_blks_hit",
            "toast_blks_read",
            "toast_blks_hit",
        ),
        *_gauges(
            "n_live_tup",
            "n_dead_tup",
            "n_mod_since_analyze",
            "size_bytes",
            "total_size_bytes",
        ),
        *_gauges("reltuples", sqltype=FLOAT),
    ),
)

INDEX = Kind(
    "index",
    keys=(Column("relid"),),
    columns=(
        *_counters(
            "idx_scan",
            "idx_tup_read",
            "idx_tup_fetch",
            "idx_blks_read",
            "idx_blks_hit",
        ),
        *_gauges("size_bytes"),
    ),
)

KINDS: dict[str, Kind] = {k.name: k for k in (STATEMENT, DATABASE, TABLE, INDEX)}
