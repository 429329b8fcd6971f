"""Index health findings: one shape for every kind, severities, DDL text.

JSON shape of a finding (``Finding.as_dict``)::

    {"kind": "bloat", "schema": "public", "table": "Answer", "index": "Answer_pkey",
     "size_bytes": 123, "severity": "warning", "evidence": {...},
     "recommendation": "...", "ddl": "REINDEX INDEX CONCURRENTLY ...;",
     "provisional": false}

Kinds: ``bloat``, ``unused``, ``duplicate``, ``redundant``, ``invalid``,
``fk_without_index``, ``no_primary_key``, ``mostly_null``, ``seq_scan``.

The DDL helpers print statements that run as printed on every kind of relation
(:class:`Rel`): ``CREATE INDEX CONCURRENTLY`` on a table, a partition or a
materialized view; on a partitioned table (where ``CONCURRENTLY`` fails) the
procedure ``CREATE INDEX … ON ONLY`` the parent, ``CREATE INDEX CONCURRENTLY`` on
each partition and ``ALTER INDEX … ATTACH PARTITION`` (sub-partitions
recursively), or one plain ``CREATE INDEX`` when the lock is allowed; nothing on a
foreign table. Each statement is separate, to run outside a transaction block.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

SEVERITIES = ("info", "warning", "critical")
KINDS = (
    "bloat", "unused", "duplicate", "redundant", "invalid", "fk_without_index",
    "no_primary_key", "mostly_null", "seq_scan",
)  # fmt: skip


def severity_rank(severity: str) -> int:
    """0 info, 1 warning, 2 critical; unknown names rank as info."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


def check_severity(name: str) -> str:
    if name not in SEVERITIES:
        raise ValueError(f"{name!r} is not one of {', '.join(SEVERITIES)}")
    return name


@dataclass(frozen=True)
class Finding:
    kind: str
    schema: str
    table: str
    index: str | None
    size_bytes: int
    severity: str
    evidence: Mapping[str, Any]
    recommendation: str
    ddl: str | None = None
    provisional: bool = False

    @property
    def key(self) -> tuple[str, str, str, str | None]:
        """Identity across reports (for last week's comparison)."""
        return (self.kind, self.schema, self.table, self.index)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "schema": self.schema, "table": self.table,
            "index": self.index, "size_bytes": self.size_bytes,
            "severity": self.severity, "evidence": dict(self.evidence),
            "recommendation": self.recommendation, "ddl": self.ddl,
            "provisional": self.provisional,
        }  # fmt: skip


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then largest, then by name."""
    return sorted(
        findings,
        key=lambda f: (
            -severity_rank(f.severity),
            -f.size_bytes,
            f.kind,
            f.schema,
            f.table,
            f.index or "",
        ),
    )


def at_or_above(findings: Iterable[Finding], severity: str) -> list[Finding]:
    rank = severity_rank(severity)
    return [f for f in findings if severity_rank(f.severity) >= rank]


def qualified(schema: str, name: str) -> str:
    """``"schema"."name"`` quoted as PostgreSQL reads it."""
    return sql.Identifier(schema, name).as_string(None)


def quoted(name: str) -> str:
    return sql.Identifier(name).as_string(None)


def reindex_ddl(schema: str, index: str) -> str:
    return f"REINDEX INDEX CONCURRENTLY {qualified(schema, index)};"


def drop_ddl(schema: str, index: str) -> str:
    return f"DROP INDEX CONCURRENTLY IF EXISTS {qualified(schema, index)};"


def create_index_ddl(
    schema: str,
    table: str,
    name: str,
    columns: Sequence[str],
    where: str | None = None,
    include: Sequence[str] = (),
) -> str:
    """``CREATE INDEX CONCURRENTLY``; ``columns`` are already SQL (quoted or exprs)."""
    text = (
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {quoted(name)} "
        f"ON {qualified(schema, table)} ({', '.join(columns)})"
    )
    if include:
        text += f" INCLUDE ({', '.join(include)})"
    if where:
        text += f" WHERE {where}"
    return text + ";"


def index_name(table: str, columns: Sequence[str], suffix: str) -> str:
    """A readable index name within PostgreSQL's 63 bytes."""
    base = "_".join([table, *columns, suffix])
    cleaned = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in base)
    return cleaned.encode()[:63].decode(errors="ignore")


def derived_name(*parts: str) -> str:
    """A name made of ``parts`` within 63 bytes; a long one ends with a hash of
    the whole, so two long names sharing a prefix stay distinct."""
    base = "_".join(parts)
    cleaned = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in base)
    if len(cleaned.encode()) <= 63:
        return cleaned
    digest = hashlib.sha1(base.encode()).hexdigest()[:8]
    return cleaned.encode()[:54].decode(errors="ignore") + "_" + digest


#: relation kinds (pg_class.relkind) an index can be created on
TABLE, PARTITIONED, MATVIEW, FOREIGN = "r", "p", "m", "f"
LOCK_NOTE = (
    "plain CREATE INDEX on a partitioned table: it blocks writes to the table and "
    "all its partitions until the build ends"
)


@dataclass(frozen=True)
class Rel:
    """A relation an index is created on, with its partitions (a tree)."""

    schema: str
    name: str
    kind: str = TABLE  # pg_class.relkind: r, p, m, f
    partitions: tuple[Rel, ...] = ()
    parent: tuple[str, str] | None = None  # (schema, name) when a partition

    @property
    def qualified(self) -> str:
        return qualified(self.schema, self.name)

    def leaves(self) -> list[Rel]:
        if self.kind != PARTITIONED:
            return [self]
        return [leaf for p in self.partitions for leaf in p.leaves()]


def index_steps(
    rel: Rel, name: str, body: str, allow_lock: bool = False
) -> tuple[list[str], str | None]:
    """The statements creating index ``name`` (``body``: what follows ``ON
    table``, e.g. ``USING gin (col)`` or ``(a, b) WHERE …``) on ``rel``, and what
    to know before running them (None when nothing)."""
    if rel.kind == FOREIGN:
        return [], skipped_foreign(rel)
    if rel.kind != PARTITIONED:
        note = None
        if rel.parent is not None:
            note = (
                f"index on the partition {rel.qualified} only: the other partitions "
                f"of {qualified(*rel.parent)} lack it (index the parent to cover them)"
            )
        elif rel.kind == MATVIEW:
            note = (
                f"{rel.qualified} is a materialized view: REFRESH MATERIALIZED VIEW "
                "keeps the index (CONCURRENTLY needs a unique index)"
            )
        return [_create(name, rel, body, concurrently=True, only=False)], note
    if allow_lock:
        return [_create(name, rel, body, concurrently=False, only=False)], LOCK_NOTE
    leaves = rel.leaves()
    foreign = [leaf for leaf in leaves if leaf.kind == FOREIGN]
    if foreign:  # a parent index never becomes valid: index the partitions alone
        steps = [
            _create(derived_name(name, leaf.name), leaf, body, True, False)
            for leaf in leaves
            if leaf.kind != FOREIGN
        ]
        names = ", ".join(f.qualified for f in foreign)
        return steps, (
            f"{rel.qualified} has foreign partitions ({names}): indexes on each other "
            "partition, none on the parent (its index could never become valid); "
            "or allow the lock for one CREATE INDEX on the parent"
        )
    return _attached(rel, name, body), (
        f"{rel.qualified} is partitioned (CREATE INDEX CONCURRENTLY fails on it): "
        "the index is built on each partition without blocking writes, then attached;"
        " run each statement separately"
    )


def _attached(rel: Rel, name: str, body: str) -> list[str]:
    """``ON ONLY`` the parent, then each partition built and attached."""
    steps = [_create(name, rel, body, concurrently=False, only=True)]
    index = qualified(rel.schema, name)
    for part in rel.partitions:
        child = derived_name(name, part.name)
        if part.kind == PARTITIONED:
            steps += _attached(part, child, body)
        else:
            steps.append(_create(child, part, body, concurrently=True, only=False))
        steps.append(
            f"ALTER INDEX {index} ATTACH PARTITION {qualified(part.schema, child)};"
        )
    return steps


def _create(name: str, rel: Rel, body: str, concurrently: bool, only: bool) -> str:
    how = "CONCURRENTLY " if concurrently else ""
    where = "ONLY " if only else ""
    return (
        f"CREATE INDEX {how}IF NOT EXISTS {quoted(name)} ON {where}{rel.qualified} "
        f"{body};"
    )


def skipped_foreign(rel: Rel) -> str:
    return (
        f"skipped foreign table {rel.qualified}: indexes cannot be created on "
        "foreign tables"
    )


def drop_partitioned_ddl(schema: str, index: str) -> str:
    """``DROP INDEX`` of a partitioned index (``CONCURRENTLY`` fails on one)."""
    return f"DROP INDEX IF EXISTS {qualified(schema, index)};"


@dataclass(frozen=True)
class Summary:
    """Counts and bytes of a set of findings."""

    by_severity: Mapping[str, int]
    by_kind: Mapping[str, int]
    reclaimable_bytes: int
    total: int
    notes: Sequence[str] = field(default_factory=tuple)

    def line(self) -> str:
        sev = ", ".join(f"{n} {s}" for s, n in self.by_severity.items() if n)
        mb = self.reclaimable_bytes / 1024**2
        return f"{self.total} findings ({sev or 'none'}); {mb:.1f} MB reclaimable"


def summarise(findings: Sequence[Finding], notes: Sequence[str] = ()) -> Summary:
    by_severity = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}
    by_kind = {k: sum(1 for f in findings if f.kind == k) for k in KINDS}
    seen: set[tuple[str, str | None]] = set()
    reclaim = 0
    for f in findings:  # an index both unused and redundant is counted once
        if (f.schema, f.index) in seen and f.index is not None:
            continue
        amount = _reclaimable(f)
        if amount:
            seen.add((f.schema, f.index))
            reclaim += amount
    return Summary(by_severity, by_kind, reclaim, len(findings), tuple(notes))


def _reclaimable(finding: Finding) -> int:
    if finding.kind == "bloat":
        return int(finding.evidence.get("bloat_bytes") or 0)
    if finding.kind in ("unused", "duplicate", "redundant", "invalid"):
        return finding.size_bytes if finding.ddl and not finding.provisional else 0
    return 0
