"""Partitioning advice: which large tables to partition, on what key, and how.

:func:`advise_table` is pure: it takes a table's facts (sizes, write counters,
columns with their ``pg_stats``, constraints, indexes) and the workload's column
usage (:mod:`pgwarden.plan.partitions.predicates`) and returns an
:class:`Advice`. :func:`gather` reads the target and pgwarden's history.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from pgwarden import pg
from pgwarden.config import PartitioningSettings
from pgwarden.plan.partitions.ddl import child_name, table_ddl
from pgwarden.plan.partitions.key import choose
from pgwarden.plan.partitions.migration import (
    implications,
    offline,
    online,
    partman,
    retention,
)
from pgwarden.plan.partitions.model import Column, Constraint, Index, TableFacts
from pgwarden.plan.partitions.predicates import (
    Catalog,
    Relation,
    TableUsage,
    Usage,
    usage,
)

GROUP = "partitions"
#: the workload is read from this much statement history
WORKLOAD_DAYS = 30


@dataclass(frozen=True)
class Advice:
    schema: str
    table: str
    rows: int
    total_bytes: int
    advised: bool
    reason: str
    access_pattern: str | None = None
    key: dict[str, Any] | None = None
    predicates: dict[str, float] = field(default_factory=dict)
    implications: tuple[str, ...] = ()
    retention: str | None = None
    ddl: tuple[str, ...] = ()
    migration: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    pg_partman: tuple[str, ...] | None = None
    #: the table's oid on the target
    oid: int = 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["implications"] = list(self.implications)
        data["ddl"] = list(self.ddl)
        data["pg_partman"] = None if self.pg_partman is None else list(self.pg_partman)
        return data


def _shares(t: TableFacts, used: TableUsage) -> dict[str, float]:
    found = {c: round(used.share(c), 3) for c in used.columns}
    return dict(sorted(found.items(), key=lambda kv: -kv[1])[:5])


def not_advised(t: TableFacts, reason: str, **extra: Any) -> Advice:
    return Advice(
        t.schema, t.name, t.rows, t.total_bytes, False, reason, oid=t.oid, **extra
    )


def advise_table(
    t: TableFacts,
    used: TableUsage,
    settings: PartitioningSettings,
    memory_bytes: int,
    now: datetime,
    partman_schema: str | None = None,
) -> Advice:
    """Advice for one table (``not advised`` with the reason below the threshold)."""
    if t.partitioned:
        return not_advised(t, "already partitioned")
    over_ram = t.total_bytes > memory_bytes
    if t.rows < settings.min_rows and not over_ram:
        return not_advised(
            t,
            f"not advised: {t.rows:,} rows is below partitioning.min_rows "
            f"({settings.min_rows:,}) and {t.total_bytes:,} bytes fit in memory "
            f"({memory_bytes:,} bytes)",
        )
    pattern, key, why = choose(t, used, settings)
    shares = _shares(t, used)
    if key is None:
        return not_advised(
            t, f"not advised: {why}", access_pattern=pattern, predicates=shares
        )
    size = "above RAM" if over_ram else f"{t.rows:,} rows >= {settings.min_rows:,}"
    new = child_name(t.name, "_partitioned")
    ddl = table_ddl(t, key, new, now)
    key_data = {k: v for k, v in asdict(key).items() if k != "extra"} | key.extra
    return Advice(
        t.schema,
        t.name,
        t.rows,
        t.total_bytes,
        True,
        f"advised ({size}): {why}",
        access_pattern=pattern,
        key=key_data,
        predicates=shares,
        implications=tuple(implications(t, key)),
        retention=retention(t, key, settings.retention_days),
        ddl=tuple(ddl),
        migration={
            "offline_batch_copy": offline(t, key, new, ddl),
            "online": online(t, key, new, ddl, now),
        },
        pg_partman=None
        if partman_schema is None
        else tuple(partman(t, key, partman_schema, settings.retention_days) or ()),
        oid=t.oid,
    )


# -- gather ------------------------------------------------------------------------
def _rows(
    conn: psycopg.Connection[Any], name: str, **params: Any
) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(pg.query(GROUP, name), params or None).fetchall()


def parse_array(text: str | None) -> tuple[str, ...]:
    """A PostgreSQL array literal (``{a,"b c"}``) as strings."""
    if not text or text in ("{}",):
        return ()
    body = text[1:-1] if text.startswith("{") and text.endswith("}") else text
    reader = csv.reader([body], quotechar='"', escapechar="\\")
    return tuple(next(reader))


def _column(row: dict[str, Any]) -> Column:
    return Column(
        row["name"],
        row["type"],
        row["not_null"],
        row["is_time"],
        row["correlation"],
        row["n_distinct"],
        parse_array(row["most_common_vals"]),
        tuple(row["most_common_freqs"] or ()),
        row["first_value"],
        row["last_value"],
        row["identity"],
    )


def facts(conn: psycopg.Connection[Any], row: dict[str, Any]) -> TableFacts:
    """Everything :func:`advise_table` needs about one table of the target."""
    params = {
        "relid": row["relid"],
        "schema": row["schema_name"],
        "table": row["rel_name"],
    }
    with pg.guarded(f"statistics of {row['schema_name']}.{row['rel_name']}"):
        columns = [_column(r) for r in _rows(conn, "columns", **params)]
        constraints = [
            Constraint(
                r["name"],
                r["type"],
                r["schema_name"],
                r["table_name"],
                tuple(r["columns"]),
                tuple(r["ref_columns"]),
                r["own"],
                r["definition"],
                tuple(r["table_columns"]),
                r["refers_here"],
            )
            for r in _rows(conn, "constraints", relid=row["relid"])
        ]
        indexes = [
            Index(r["name"], r["is_unique"], r["definition"], r["qualified"])
            for r in _rows(conn, "indexes", relid=row["relid"])
        ]
    return replace(
        _summary(row),
        columns=tuple(columns),
        constraints=tuple(constraints),
        indexes=tuple(indexes),
    )


def _summary(row: dict[str, Any]) -> TableFacts:
    return TableFacts(
        row["schema_name"],
        row["rel_name"],
        int(row["rows"]),
        int(row["heap_bytes"]),
        int(row["index_bytes"]),
        int(row["total_bytes"]),
        int(row["n_tup_ins"]),
        int(row["n_tup_upd"]),
        int(row["n_tup_del"]),
        bool(row["partitioned"]),
        oid=int(row["relid"]),
    )


def workload(
    repo: psycopg.Connection[Any] | None,
    target_id: int | None,
    catalog: Catalog,
    now: datetime,
) -> Usage:
    """Column usage of the statements in pgwarden's history (empty without)."""
    from pgwarden.sqltext import is_own

    if repo is None or target_id is None:
        return Usage()
    since = now - timedelta(days=WORKLOAD_DAYS)
    with pg.guarded("pgwarden history (run pgwarden init and pgwarden collect)"):
        rows = _rows(repo, "statements", target_id=target_id, since=since)
    texts = [(r["query"], int(r["calls"])) for r in rows if not is_own(r["query"])]
    return usage(texts, catalog)


@dataclass(frozen=True)
class Report:
    target: str
    min_rows: int
    memory_bytes: int
    statements: int
    unparsed: int
    pg_partman: str | None
    tables: tuple[Advice, ...]
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "min_rows": self.min_rows,
            "memory_bytes": self.memory_bytes,
            "workload": {"statements": self.statements, "unparsed": self.unparsed},
            "pg_partman": self.pg_partman,
            "advised": [a.as_dict() for a in self.tables if a.advised],
            "not_advised": [a.as_dict() for a in self.tables if not a.advised],
            "notes": list(self.notes),
        }


def gather(
    target: psycopg.Connection[Any],
    repo: psycopg.Connection[Any] | None,
    target_id: int | None,
    target_name: str,
    settings: PartitioningSettings,
    memory_bytes: int | None,
    now: datetime,
) -> Report:
    """Advice for every table of the target."""
    with pg.guarded("table sizes of the target"):
        tables = _rows(target, "tables")
        shared = _rows(target, "memory")[0]["shared_buffers_bytes"]
        found = _rows(target, "partman")
    ram = memory_bytes or int(shared) * 4
    candidates = [
        r for r in tables if r["rows"] >= settings.min_rows or r["total_bytes"] > ram
    ]
    detailed = {t.oid: t for t in (facts(target, r) for r in candidates)}
    used = workload(repo, target_id, _catalog(tables, detailed), now)
    schema = found[0]["schema"] if found else None
    advice = [
        advise_table(
            detailed.get(int(r["relid"])) or _summary(r),
            used.of(int(r["relid"])),
            settings,
            ram,
            now,
            schema,
        )
        for r in tables
    ]
    notes = []
    if target_id is None:
        notes.append(
            "no collected history: the key comes from statistics only; "
            "run pgwarden collect for the workload's predicates"
        )
    return Report(
        target_name,
        settings.min_rows,
        ram,
        used.parsed,
        used.unparsed,
        schema,
        tuple(_ordered(advice)),
        tuple(notes),
    )


def _catalog(
    tables: Sequence[dict[str, Any]], detailed: dict[int, TableFacts]
) -> Catalog:
    """Every table by oid (an unqualified name may find a small one), with the
    columns of those read in detail."""
    relations = []
    for r in tables:
        t = detailed.get(int(r["relid"]))
        columns = tuple(c.name for c in t.columns) if t is not None else ()
        relations.append(Relation(int(r["relid"]), r["schema_name"], r["rel_name"],
                                  columns, bool(r["visible"])))  # fmt: skip
    return Catalog(relations)


def _ordered(advice: Sequence[Advice]) -> list[Advice]:
    return sorted(
        advice, key=lambda a: (not a.advised, -a.total_bytes, a.schema, a.table)
    )
