"""Structural findings (no I/O): invalid indexes, foreign keys without an index,
tables without a primary key, indexes mostly of NULLs that should be partial."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from pgwarden.advise.findings import (
    Finding,
    create_index_ddl,
    drop_ddl,
    index_name,
    index_steps,
    qualified,
    reindex_ddl,
)
from pgwarden.advise.model import ForeignKey, IndexInfo, TableInfo
from pgwarden.advise.relations import Relations


def invalid(indexes: Iterable[IndexInfo]) -> list[Finding]:
    """Indexes left invalid by a failed ``CREATE INDEX CONCURRENTLY`` or REINDEX."""
    found = []
    for ix in indexes:
        if ix.is_valid:
            continue
        # a failed REINDEX CONCURRENTLY leaves "<name>_ccnew"; drop that copy
        leftover = "_ccnew" in ix.name or "_ccold" in ix.name
        keyed = ix.backs_constraint or ix.is_primary
        ddl = drop_ddl(ix.schema, ix.name) if leftover or not keyed else None
        how = (
            "drop it (it is written on every change and never read), then create it "
            "again if it is needed"
            if ddl
            else "it backs a constraint: rebuild it with REINDEX INDEX CONCURRENTLY"
        )
        found.append(
            Finding(
                kind="invalid", schema=ix.schema, table=ix.table, index=ix.name,
                size_bytes=ix.size_bytes, severity="critical",
                evidence={"definition": ix.definition, "ready": ix.is_ready},
                recommendation=f"Invalid index, left by a failed concurrent build: "
                f"{how}.",
                ddl=ddl or reindex_ddl(ix.schema, ix.name),
            )
        )  # fmt: skip
    return found


def _supported(fk: ForeignKey, indexes: Sequence[IndexInfo]) -> IndexInfo | None:
    """A valid, non-partial index whose leading keys are the foreign key's columns."""
    n = len(fk.attnums)
    for ix in indexes:
        lead = ix.key_attnums[:n]
        if (
            ix.table_oid == fk.table_oid and ix.is_valid and not ix.predicate
            and ix.method == "btree" and len(lead) == n and set(lead) == set(fk.attnums)
        ):  # fmt: skip
            return ix
    return None


def fk_without_index(
    foreign_keys: Iterable[ForeignKey],
    indexes: Sequence[IndexInfo],
    relations: Relations | None = None,
) -> list[Finding]:
    """Foreign keys no index supports: each delete or key update of the referenced
    table scans this table, and joins on the key cannot use an index.

    With ``relations``, a partitioned table's own indexes count, and its DDL is
    the procedure that runs on a partitioned table."""
    by_table: dict[int, list[IndexInfo]] = defaultdict(list)
    for ix in indexes:
        by_table[ix.table_oid].append(ix)
    parted = relations.partitioned_keys if relations else {}
    listed = list(foreign_keys)
    keys = {(fk.schema, fk.table, fk.columns) for fk in listed}
    found = []
    for fk in listed:
        if _supported(fk, by_table[fk.table_oid]) is not None:
            continue
        rel = relations.get(fk.schema, fk.table) if relations else None
        if rel is not None and rel.parent and (*rel.parent, fk.columns) in keys:
            continue  # the parent's key, cloned: indexing the parent covers it
        n = len(fk.attnums)
        if any(set(k[:n]) == set(fk.attnums) and len(k) >= n
               for k in parted.get(fk.table_oid, ())):  # fmt: skip
            continue
        name = index_name(fk.table, [c.strip('"') for c in fk.columns], "idx")
        ddl = create_index_ddl(fk.schema, fk.table, name, fk.columns)
        note = ""
        if rel is not None:
            steps, why = index_steps(rel, name, f"({', '.join(fk.columns)})")
            ddl, note = "\n".join(steps), f" {why}." if why else ""
        severity = "warning" if fk.reltuples >= 10_000 else "info"
        found.append(
            Finding(
                kind="fk_without_index", schema=fk.schema, table=fk.table,
                index=None, size_bytes=fk.size_bytes, severity=severity,
                evidence={"constraint": fk.name, "columns": list(fk.columns),
                          "references": fk.referenced, "rows": int(fk.reltuples)},
                recommendation=f"Foreign key {fk.name!r} to {fk.referenced} has no "
                "index starting with its columns: deletes and key updates of the "
                f"referenced rows scan this table. Create one.{note}",
                ddl=ddl,
            )
        )  # fmt: skip
    return found


def no_primary_key(tables: Iterable[TableInfo]) -> list[Finding]:
    """Tables without a primary key (logical replication, tooling and ORMs need one)."""
    found = []
    for t in tables:
        if t.has_primary_key:
            continue
        hint = (
            "a unique index exists: promote it with ALTER TABLE ... ADD PRIMARY KEY "
            "USING INDEX"
            if t.has_unique
            else "add a key column (for example an identity column) and a primary key"
        )
        found.append(
            Finding(
                kind="no_primary_key", schema=t.schema, table=t.name, index=None,
                size_bytes=t.size_bytes, severity="warning",
                evidence={"rows": int(max(t.reltuples, 0)),
                          "has_unique_index": t.has_unique},
                recommendation=f"Table {qualified(t.schema, t.name)} has no primary "
                f"key: logical replication cannot send its updates and deletes, and "
                f"duplicate rows go unnoticed; {hint}.",
            )
        )  # fmt: skip
    return found


def mostly_null(
    indexes: Iterable[IndexInfo], fraction: float, min_bytes: int = 0
) -> list[Finding]:
    """Btree indexes whose leading column is mostly NULL: a partial index
    ``WHERE col IS NOT NULL`` is smaller and serves the same equality and range
    scans."""
    found = []
    for ix in indexes:
        nulls = ix.lead_null_frac
        if (
            nulls is None or nulls < fraction or ix.predicate or ix.method != "btree"
            or ix.protected or not ix.is_valid or ix.size_bytes < min_bytes
            or not ix.key_attnums or ix.key_attnums[0] == 0
        ):  # fmt: skip
            continue
        lead = ix.keys[0]
        partial = index_name(ix.table, [ix.name], "notnull")
        where = f"{lead} IS NOT NULL"
        ddl = (
            create_index_ddl(ix.schema, ix.table, partial, ix.keys, where, ix.include)
            + "\n"
            + drop_ddl(ix.schema, ix.name)
        )
        found.append(
            Finding(
                kind="mostly_null", schema=ix.schema, table=ix.table, index=ix.name,
                size_bytes=ix.size_bytes, severity="info",
                evidence={"null_frac": round(nulls, 3), "column": lead,
                          "definition": ix.definition},
                recommendation=f"{nulls:.0%} of {lead} is NULL: replace the index "
                f"with a partial one WHERE {where} (about {nulls:.0%} smaller); "
                "queries that look for NULLs (IS NULL) would no longer use it.",
                ddl=ddl,
            )
        )  # fmt: skip
    return found
