"""Duplicate and redundant indexes (no I/O).

Two indexes of one table are **duplicates** when method, key columns or
expressions, operator classes, collations, sort options, INCLUDE columns and
predicate are all equal. An index is **redundant** when another of the same method
and predicate starts with all its key columns (a left prefix, same operator
classes, collations and options), covers its INCLUDE columns, and it is not unique
(a unique index enforces something the wider one does not). Of duplicates, the one
that backs a constraint (primary key, unique, exclusion, or referenced by a foreign
key) is kept; otherwise the unique one, else the most scanned, else the oldest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from pgwarden.advise.findings import Finding, drop_ddl
from pgwarden.advise.model import IndexInfo


def _signature(ix: IndexInfo) -> tuple[object, ...]:
    return (ix.method, ix.keys, ix.opclasses, ix.collations, ix.options,
            ix.include, ix.predicate or "")  # fmt: skip


def _keep_order(ix: IndexInfo) -> tuple[int, int, int, int, int]:
    """Sort key: the index to keep comes first."""
    return (
        0 if ix.is_primary else 1,
        0 if ix.backs_constraint or ix.referenced_by_fk else 1,
        0 if ix.is_unique else 1,
        -ix.idx_scan,
        ix.oid,
    )


def _usable(indexes: Iterable[IndexInfo]) -> dict[int, list[IndexInfo]]:
    by_table: dict[int, list[IndexInfo]] = defaultdict(list)
    for ix in indexes:
        if ix.is_valid and ix.is_ready:
            by_table[ix.table_oid].append(ix)
    return by_table


def duplicates(indexes: Iterable[IndexInfo]) -> list[Finding]:
    """Identical definitions: every copy but the one to keep."""
    found = []
    for group in _usable(indexes).values():
        same: dict[tuple[object, ...], list[IndexInfo]] = defaultdict(list)
        for ix in group:
            same[_signature(ix)].append(ix)
        for copies in same.values():
            if len(copies) > 1:
                found += _duplicate_findings(sorted(copies, key=_keep_order))
    return found


def _duplicate_findings(copies: Sequence[IndexInfo]) -> list[Finding]:
    keep, out = copies[0], []
    for ix in copies[1:]:
        fixed = ix.backs_constraint or ix.referenced_by_fk or ix.is_primary
        how = (
            f"drop constraint {ix.constraint_name!r} (or the index it depends on) "
            "after checking what relies on it"
            if fixed
            else "drop it; queries use the kept copy"
        )
        out.append(
            Finding(
                kind="duplicate", schema=ix.schema, table=ix.table, index=ix.name,
                size_bytes=ix.size_bytes, severity="warning",
                evidence={"duplicate_of": keep.name, "definition": ix.definition,
                          "kept_definition": keep.definition,
                          "scans": ix.idx_scan, "kept_scans": keep.idx_scan,
                          "backs_constraint": fixed},
                recommendation=f"Same definition as {keep.name!r}, which is kept: "
                f"{how}.",
                ddl=None if fixed else drop_ddl(ix.schema, ix.name),
            )
        )  # fmt: skip
    return out


def _covers(wide: IndexInfo, narrow: IndexInfo) -> bool:
    """``wide`` serves every scan ``narrow`` serves (left prefix, same predicate)."""
    n = len(narrow.keys)
    return (
        wide.oid != narrow.oid
        and wide.method == narrow.method == "btree"
        and (wide.predicate or "") == (narrow.predicate or "")
        and len(wide.keys) > n
        and wide.keys[:n] == narrow.keys
        and wide.opclasses[:n] == narrow.opclasses[:n]
        and wide.collations[:n] == narrow.collations[:n]
        and wide.options[:n] == narrow.options[:n]
        and set(narrow.include) <= set(wide.keys) | set(wide.include)
    )


def redundant(indexes: Iterable[IndexInfo]) -> list[Finding]:
    """Non-unique btree indexes whose keys are a left prefix of another's."""
    found = []
    for group in _usable(indexes).values():
        for narrow in group:
            if narrow.protected:
                continue
            wider = sorted((w for w in group if _covers(w, narrow)), key=_keep_order)
            if wider:
                found.append(_redundant_finding(narrow, wider[0]))
    return found


def _redundant_finding(narrow: IndexInfo, wide: IndexInfo) -> Finding:
    return Finding(
        kind="redundant", schema=narrow.schema, table=narrow.table,
        index=narrow.name, size_bytes=narrow.size_bytes, severity="warning",
        evidence={"covered_by": wide.name, "definition": narrow.definition,
                  "covering_definition": wide.definition,
                  "scans": narrow.idx_scan, "covering_scans": wide.idx_scan},
        recommendation=f"Its keys are a left prefix of {wide.name!r}, which serves "
        "the same scans (a little larger per entry): drop it, then watch the plans "
        "of the queries that used it.",
        ddl=drop_ddl(narrow.schema, narrow.name),
    )  # fmt: skip
