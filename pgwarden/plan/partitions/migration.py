"""The migration plan, the key's implications, retention and pg_partman set-up.

Two ways to move a table under a partitioned parent:

* **offline batch copy** — writes stop (``SHARE`` lock: reads go on), rows are
  copied partition by partition, the names are swapped (``ACCESS EXCLUSIVE``,
  an instant). Simple; writes wait for the whole copy.
* **online** — RANGE and LIST: the old table becomes the new parent's DEFAULT
  partition in one short ``ACCESS EXCLUSIVE`` transaction (the indexes the parent
  needs are built beforehand ``CONCURRENTLY``), then the default is drained into
  real partitions in batches while the application runs. HASH has no default
  partition: a trigger keeps a copy in sync during a batch back-fill, then the names
  are swapped.

Both write about the table plus its indexes to the WAL once (full-page images come
on top after each checkpoint), so replicas and WAL archives must have the room.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pgwarden.plan.partitions.ddl import (
    child_name,
    ident,
    key_columns,
    literal,
    partitions,
    range_bounds,
    suffix,
)
from pgwarden.plan.partitions.model import Constraint, Key, TableFacts


def implications(t: TableFacts, key: Key) -> list[str]:
    """What the key means for the primary key, unique and foreign keys."""
    found = []
    pk = t.primary_key
    if pk is None:
        found.append("no primary key: the partitioned table gets none either")
    elif key.column in pk.columns:
        found.append(
            f"the primary key {_cols(pk.columns)} already includes {ident(key.column)}"
        )
    else:
        cols = key_columns(pk.columns, key.column)
        found.append(
            f"the primary key becomes {_cols(cols)}: PostgreSQL requires the partition "
            f"key in it, so {_cols(pk.columns)} alone is no longer enforced unique "
            "across partitions (an identity or sequence still keeps it unique in "
            "practice)"
        )
    for c in t.constraints:
        if c.own and c.type == "u" and key.column not in c.columns:
            found.append(
                f"unique constraint {ident(c.name)} {_cols(c.columns)} gains "
                f"{ident(key.column)}: uniqueness is per {ident(key.column)} only"
            )
    for i in t.indexes:
        if i.unique:
            found.append(
                f"unique index {ident(i.name)} must include {ident(key.column)} to "
                "exist on the partitioned table; it is left out of the DDL"
            )
    for fk in t.referencing:
        found.append(_referencing(key, fk))
    if not t.referencing:
        found.append("no foreign keys reference the table")
    return found


def _cols(columns: Sequence[str]) -> str:
    """``("id", "createdAt")``, as the DDL writes the key."""
    return "(" + ", ".join(ident(c) for c in columns) + ")"


def _referencing(key: Key, fk: Constraint) -> str:
    where = f"{fk.schema}.{fk.table}"
    cols = ", ".join(fk.columns)
    if key.column in fk.table_columns:
        return (
            f"foreign key {ident(fk.name)} of {where} ({cols}) must reference a unique "
            f"key that includes {ident(key.column)}: make it ({key.column}, {cols}) "
            f"referencing ({key.column}, {', '.join(fk.ref_columns)})"
        )
    return (
        f"foreign key {ident(fk.name)} of {where} ({cols}) cannot reference the "
        f"partitioned table unless {where} also stores {ident(key.column)}: add that "
        "column to it, or drop the constraint and check the reference in the "
        "application"
    )


def retention(t: TableFacts, key: Key, retention_days: int | None) -> str:
    if key.strategy == "HASH":
        return (
            "no retention benefit: a tenant's rows spread over every HASH partition "
            "and are deleted as before; partitions keep indexes and vacuum small"
        )
    if key.strategy == "LIST":
        return (
            "removing a tenant is DETACH PARTITION ... CONCURRENTLY and DROP TABLE "
            "of its partition: no DELETE, no dead rows, no vacuum"
        )
    per = f"{key.partition_rows:,} rows ({key.interval})"
    if retention_days is None:
        return (
            f"expiring old data drops one partition of about {per} instead of a "
            "DELETE of as many rows (no dead rows, no vacuum, almost no WAL); set "
            "partitioning.retention_days to size it"
        )
    per_day = key.partition_rows / (key.interval_days or 1)
    kept = round(per_day * retention_days)
    expired = max(0, t.rows - kept)
    return (
        f"keeping {retention_days} days: DROP whole partitions of about {per}; "
        f"{expired:,} of {t.rows:,} rows are older today and go by dropping "
        "partitions instead of DELETE (no dead rows, no vacuum, almost no WAL)"
    )


def _step(
    action: str, lock: str, statements: list[str], note: str = ""
) -> dict[str, Any]:
    return {"action": action, "lock": lock, "sql": statements, "note": note}


def offline(t: TableFacts, key: Key, new: str, ddl: list[str]) -> list[dict[str, Any]]:
    old = ident(t.schema, t.name)
    kept = child_name(t.name, "_old")
    wal = t.heap_bytes + t.index_bytes
    return [
        _step(
            "create the partitioned table and its partitions",
            "none on the table",
            [*ddl, *_catch_all(t, key, new)],
        ),
        _step(
            "stop writes: lock the table for the copy (reads continue)",
            "SHARE",
            ["BEGIN;", f"LOCK TABLE {old} IN SHARE MODE;"],
        ),
        _step(
            "copy the rows (per partition range for big tables)",
            "SHARE (held)",
            [f"INSERT INTO {ident(t.schema, new)} SELECT * FROM {old};"],
            f"expected WAL about {wal:,} bytes (table + indexes) plus full-page images",
        ),
        _step(
            "swap the names",
            "ACCESS EXCLUSIVE (an instant)",
            [
                f"ALTER TABLE {old} RENAME TO {ident(kept)};",
                f"ALTER TABLE {ident(t.schema, new)} RENAME TO {ident(t.name)};",
                "COMMIT;",
            ],
        ),
        _step(
            "continue identities and sequences, re-create referencing foreign keys",
            "SHARE ROW EXCLUSIVE on each referencing table",
            _sequences(t),
            "see the primary and foreign key implications",
        ),
        _step(
            "refresh statistics, then drop the old table once verified",
            "SHARE UPDATE EXCLUSIVE (ANALYZE)",
            [f"ANALYZE {old};", f"-- later: DROP TABLE {ident(t.schema, kept)};"],
        ),
    ]


def _catch_all(t: TableFacts, key: Key, new: str) -> list[str]:
    """A DEFAULT partition for rows outside the ranges (it should stay empty)."""
    if key.strategy != "RANGE":
        return []
    name = ident(t.schema, child_name(t.name, "_default"))
    return [f"CREATE TABLE {name} PARTITION OF {ident(t.schema, new)} DEFAULT;"]


def _sequences(t: TableFacts) -> list[str]:
    """setval for identity columns of the new table to continue after the old."""
    found = []
    table = ident(t.schema, t.name)
    for c in t.columns:
        if c.identity:
            seq = f"pg_get_serial_sequence({literal(table)}, {literal(c.name)})"
            found.append(
                f"SELECT setval({seq}, coalesce((SELECT max({ident(c.name)}) FROM "
                f"{table}), 0) + 1, false);"
            )
    return found


def _drop_identity(t: TableFacts, table: str) -> list[str]:
    """A partition may not have identity columns of its own (the parent has them)."""
    return [
        f"ALTER TABLE {table} ALTER COLUMN {ident(c.name)} DROP IDENTITY;"
        for c in t.columns
        if c.identity
    ]


def online(
    t: TableFacts, key: Key, new: str, ddl: list[str], now: datetime
) -> list[dict[str, Any]]:
    if key.strategy == "HASH":
        return _online_hash(t, key, new, ddl)
    old = ident(t.schema, t.name)
    default = child_name(t.name, "_default")
    dflt = ident(t.schema, default)
    drained = child_name(t.name, "_drained")
    pk = t.primary_key
    drop_pk = (
        [f"ALTER TABLE {old} DROP CONSTRAINT {ident(pk.name)} CASCADE;"]
        if pk is not None and key.column not in pk.columns
        else []
    )
    ahead = [
        s
        for s, (lo, _hi) in zip(
            partitions(t, key, t.name, now), _bounds(key, now), strict=False
        )
        if key.last is None or lo > key.last
    ]
    parent_ddl = [s for s in ddl if " PARTITION OF " not in s]
    index = []
    if pk is not None:
        cols = ", ".join(ident(c) for c in key_columns(pk.columns, key.column))
        index.append(f"CREATE UNIQUE INDEX CONCURRENTLY ON {old} ({cols});")
    wal = t.heap_bytes + t.index_bytes
    return [
        _step(
            "build on the old table the unique index the new primary key needs",
            "SHARE UPDATE EXCLUSIVE (writes continue)",
            index,
            "lets ATTACH reuse it instead of building it under lock",
        ),
        _step(
            "create the partitioned parent (no partitions yet)",
            "none on the table",
            parent_ddl,
        ),
        _step(
            "make the old table the DEFAULT partition and take its name",
            "ACCESS EXCLUSIVE, for milliseconds (lock_timeout guards it)",
            [
                "SET lock_timeout = '2s';",
                "BEGIN;",
                *_drop_identity(t, old),
                *drop_pk,
                f"ALTER TABLE {old} RENAME TO {ident(default)};",
                f"ALTER TABLE {ident(t.schema, new)} RENAME TO {ident(t.name)};",
                f"ALTER TABLE {old} ATTACH PARTITION {dflt} DEFAULT;",
                *_sequences(t),
                "COMMIT;",
            ],
            "retry when the lock times out; dropping the old primary key drops the "
            "foreign keys that reference it: re-create them as the implications say",
        ),
        _step(
            "create the partitions ahead of the data first (new rows land there)",
            "ACCESS EXCLUSIVE on the default while it is checked (it holds no rows "
            "of these ranges)",
            ahead,
            "create each later period's partition before the period starts",
        ),
        _step(
            "drain the default: per closed range (or tenant), move rows in batches "
            "into a table of its own, then ATTACH it",
            "ROW EXCLUSIVE for the moves; SHARE UPDATE EXCLUSIVE on the parent "
            "and a scan of the default for ATTACH",
            _drain(t, key, default, now),
            f"expected WAL about {wal:,} bytes (table + indexes) for the inserts, "
            "plus the deletes; repeat the batch until it moves no rows and pace it "
            "for replicas",
        ),
        _step(
            "when drained: prove the default empty, then detach and drop it",
            "SHARE UPDATE EXCLUSIVE",
            [
                f"ALTER TABLE {dflt} ADD CONSTRAINT {ident(drained)} CHECK (false) "
                "NOT VALID;",
                f"ALTER TABLE {dflt} VALIDATE CONSTRAINT {ident(drained)};",
                f"ALTER TABLE {old} DETACH PARTITION {dflt} CONCURRENTLY;",
                f"DROP TABLE {dflt};",
            ],
            "VALIDATE fails while any row is left in the default: drain it first",
        ),
    ]


def _bounds(key: Key, now: datetime) -> list[tuple[Any, Any]]:
    if key.strategy == "RANGE":
        return range_bounds(key, now)
    return [(None, None) for _ in range(key.count)]


def _drain(t: TableFacts, key: Key, default: str, now: datetime) -> list[str]:
    """The statements that move the first range (or tenant) out of the default."""
    col = ident(key.column)
    if key.strategy == "RANGE":
        lo, hi = range_bounds(key, now)[0]
        name = child_name(t.name, suffix(lo, key.interval_days or 30.44))
        where = f"{col} >= {literal(lo)} AND {col} < {literal(hi)}"
        bound = f"FROM ({literal(lo)}) TO ({literal(hi)})"
    elif key.values:
        name = child_name(t.name, "_t0")
        where = f"{col} = {literal(key.values[0])}"
        bound = f"IN ({literal(key.values[0])})"
    else:
        return []
    part, dflt = ident(t.schema, name), ident(t.schema, default)
    return [
        f"CREATE TABLE {part} (LIKE {ident(t.schema, t.name)} INCLUDING DEFAULTS "
        "INCLUDING CONSTRAINTS);",
        f"WITH moved AS (DELETE FROM {dflt} WHERE ctid = ANY(ARRAY(SELECT ctid "
        f"FROM {dflt} WHERE {where} LIMIT 10000)) RETURNING *) "
        f"INSERT INTO {part} SELECT * FROM moved;",
        f"ALTER TABLE {ident(t.schema, t.name)} ATTACH PARTITION {part} "
        f"FOR VALUES {bound};",
    ]


def _online_hash(
    t: TableFacts, key: Key, new: str, ddl: list[str]
) -> list[dict[str, Any]]:
    old, copy = ident(t.schema, t.name), ident(t.schema, new)
    pk = t.primary_key
    if pk is None:
        return [
            _step(
                "no online plan: without a primary key the copy cannot be "
                "kept in sync; use the offline batch copy",
                "none",
                [],
            )
        ]
    sync = ident(t.schema, child_name(t.name, "_sync"))
    cols = ", ".join(ident(c) for c in pk.columns)
    olds = ", ".join(f"OLD.{ident(c)}" for c in pk.columns)
    body = (
        f"BEGIN IF TG_OP IN ('UPDATE', 'DELETE') THEN DELETE FROM {copy} WHERE "
        f"({cols}) = ({olds}); END IF; IF TG_OP IN ('INSERT', 'UPDATE') THEN "
        f"INSERT INTO {copy} SELECT (NEW).*; END IF; RETURN NULL; END"
    )
    wal = t.heap_bytes + t.index_bytes
    kept = ident(child_name(t.name, "_old"))
    return [
        _step(
            "create the partitioned table and its HASH partitions",
            "none",
            ddl,
            "HASH partitioning has no DEFAULT partition to attach the old table as",
        ),
        _step(
            "keep the copy in sync: a trigger applies every INSERT, UPDATE and "
            "DELETE of the old table to the new one",
            "SHARE ROW EXCLUSIVE (an instant)",
            [
                f"CREATE FUNCTION {sync}() RETURNS trigger LANGUAGE plpgsql AS "
                f"{literal(body)};",
                f"CREATE TRIGGER pgwarden_sync AFTER INSERT OR UPDATE OR DELETE ON "
                f"{old} FOR EACH ROW EXECUTE FUNCTION {sync}();",
            ],
        ),
        _step(
            "back-fill the rows the trigger has not copied",
            "ROW EXCLUSIVE",
            [f"INSERT INTO {copy} SELECT * FROM {old} ON CONFLICT DO NOTHING;"],
            f"expected WAL about {wal:,} bytes (table + indexes); on a big table "
            f"run it in batches of 10 000 by primary key ({cols})",
        ),
        _step(
            "swap the names and drop the trigger",
            "ACCESS EXCLUSIVE (an instant)",
            [
                "BEGIN;",
                f"LOCK TABLE {old} IN ACCESS EXCLUSIVE MODE;",
                f"DROP TRIGGER pgwarden_sync ON {old};",
                f"DROP FUNCTION {sync}();",
                f"ALTER TABLE {old} RENAME TO {kept};",
                f"ALTER TABLE {copy} RENAME TO {ident(t.name)};",
                "COMMIT;",
                *_sequences(t),
            ],
        ),
    ]


def partman(
    t: TableFacts, key: Key, schema: str | None, retention_days: int | None
) -> list[str] | None:
    """pg_partman calls that keep the partitions coming (RANGE on time only)."""
    if schema is None:
        return None
    if key.strategy != "RANGE":
        return [
            f"-- pg_partman is installed but manages RANGE partitions; "
            f"{key.strategy} partitions are a fixed set created above"
        ]
    parent = literal(f"{t.schema}.{t.name}")
    found = [
        f"SELECT {ident(schema)}.create_parent(p_parent_table := {parent}, "
        f"p_control := {literal(key.column)}, p_interval := {literal(key.interval)}, "
        "p_premake := 4);"
    ]
    if retention_days is not None:
        found.append(
            f"UPDATE {ident(schema, 'part_config')} SET retention = "
            f"{literal(f'{retention_days} days')}, retention_keep_table = false "
            f"WHERE parent_table = {parent};"
        )
    found.append(
        f"-- run {ident(schema)}.run_maintenance() from cron or the "
        "pg_partman background worker"
    )
    return found
