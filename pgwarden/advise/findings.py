"""Index health findings: one shape for every kind, severities, DDL text.

JSON shape of a finding (``Finding.as_dict``)::

    {"kind": "bloat", "schema": "public", "table": "Answer", "index": "Answer_pkey",
     "size_bytes": 123, "severity": "warning", "evidence": {...},
     "recommendation": "...", "ddl": "REINDEX INDEX CONCURRENTLY ...;",
     "provisional": false}

Kinds: ``bloat``, ``unused``, ``duplicate``, ``redundant``, ``invalid``,
``fk_without_index``, ``no_primary_key``, ``mostly_null``, ``seq_scan``.
"""

from __future__ import annotations

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
