"""Risk class C1-C4 of a migration, suggested from its SQL (parsed by pglast).

C1  no lock risk (new objects, concurrent index builds, NOT VALID constraints);
C2  a brief ACCESS EXCLUSIVE lock (catalog-only changes, drops);
C3  a scan or rewrite under a strong lock on a small table, or no ``lock_timeout``
    before a strong lock (a queued lock blocks every query behind it);
C4  a rewrite or a long scan under a strong lock on a large table, or SQL that
    cannot be analysed.

Pure: table sizes are passed in, keyed by ``table`` or ``schema.table``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pglast import ast, parse_sql
from pglast.enums import AlterTableType, ConstrType
from pglast.parser import ParseError

MAX_SQL_BYTES = 1_000_000
LOCK = 2  # brief ACCESS EXCLUSIVE
SCAN = 3  # full scan or index build under a strong lock
REWRITE = 4  # the whole table rewritten under ACCESS EXCLUSIVE
_STABLE_DEFAULTS = frozenset(
    {
        "now",
        "current_timestamp",
        "statement_timestamp",
        "transaction_timestamp",
        "current_date",
        "localtimestamp",
        "current_user",
    }
)


@dataclass(frozen=True)
class Finding:
    severity: int
    reason: str
    table: str | None = None


@dataclass(frozen=True)
class Risk:
    risk_class: str
    findings: tuple[Finding, ...]
    table_bytes: Mapping[str, int | None] = field(default_factory=dict)

    @property
    def level(self) -> int:
        return int(self.risk_class[1])

    def as_dict(self) -> dict[str, Any]:
        return {
            "risk_class": self.risk_class,
            "reasons": [f.reason for f in self.findings],
            "tables": dict(self.table_bytes),
        }


def assess(
    text: str,
    sizes: Mapping[str, int] | None = None,
    large_bytes: int = 1 << 30,
    max_bytes: int = MAX_SQL_BYTES,
) -> Risk:
    """The suggested class of ``text`` with its reasons; never raises on bad SQL."""
    if len(text.encode()) > max_bytes:
        reason = f"migration SQL larger than {max_bytes} bytes: not analysed"
        return Risk("C4", (Finding(4, reason),))
    try:
        statements = parse_sql(text)
    except ParseError as exc:
        return Risk("C4", (Finding(4, f"could not parse: {exc}"),))
    findings = list(_scan(statements))
    named = tables(statements) + [f.table for f in findings if f.table]
    known = {t: _size(t, sizes or {}) for t in dict.fromkeys(named)}
    return _classify(findings, known, large_bytes)


def tables_in(text: str, max_bytes: int = MAX_SQL_BYTES) -> list[str]:
    """Tables a migration changes (empty when it cannot be parsed)."""
    if len(text.encode()) > max_bytes:
        return []
    try:
        return tables(parse_sql(text))
    except ParseError:
        return []


def tables(statements: Any) -> list[str]:
    found: list[str] = []
    for raw in statements:
        rel = getattr(raw.stmt, "relation", None)
        if isinstance(rel, ast.RangeVar) and _name(rel) not in found:
            found.append(_name(rel))
    return found


def _name(rel: Any) -> str:
    return f"{rel.schemaname}.{rel.relname}" if rel.schemaname else str(rel.relname)


def _size(table: str, sizes: Mapping[str, int]) -> int | None:
    if table in sizes:
        return sizes[table]
    return sizes.get(table.split(".")[-1])


def _classify(
    findings: list[Finding], known: Mapping[str, int | None], large_bytes: int
) -> Risk:
    level = 1
    out: list[Finding] = []
    for f in findings:
        size = known.get(f.table) if f.table else None
        sev = f.severity
        if sev >= SCAN:
            large = size is not None and size >= large_bytes
            sev = 4 if large or (sev == REWRITE and size is None) else 3
        level = max(level, sev)
        out.append(Finding(sev, f.reason + _size_note(f.table, size), f.table))
    return Risk(f"C{level}", tuple(out), dict(known))


def _size_note(table: str | None, size: int | None) -> str:
    if table is None:
        return ""
    if size is None:
        return f" ({table}: size unknown)"
    return f" ({table}: {_bytes(size)})"


def _bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1024:
            return f"{value:.0f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def _scan(statements: Any) -> Iterator[Finding]:
    timeout = warned = False
    for raw in statements:
        stmt = raw.stmt
        if isinstance(stmt, ast.VariableSetStmt) and stmt.name == "lock_timeout":
            timeout = _timeout_set(stmt)
            continue
        found = list(_statement(stmt))
        yield from found
        if found and not (timeout or warned) and max(f.severity for f in found) >= LOCK:
            warned = True
            what = found[0].table or "the object"
            yield Finding(
                SCAN,
                f"no SET lock_timeout before the lock on {what}: "
                "a queued lock blocks all queries behind it",
            )


def _timeout_set(stmt: ast.VariableSetStmt) -> bool:
    args = stmt.args or ()
    if not args or not isinstance(args[0], ast.A_Const):
        return False
    value = getattr(args[0].val, "sval", None) or getattr(args[0].val, "ival", 0)
    return str(value).strip() not in ("0", "")


def _statement(stmt: Any) -> Iterator[Finding]:
    if isinstance(stmt, ast.AlterTableStmt):
        table = _name(stmt.relation)
        for cmd in stmt.cmds or ():
            yield from _alter(cmd, table)
    elif isinstance(stmt, ast.IndexStmt) and not stmt.concurrent:
        table = _name(stmt.relation)
        yield Finding(
            SCAN,
            f"CREATE INDEX on {table} without CONCURRENTLY blocks "
            "writes for the whole build",
            table,
        )
    elif isinstance(stmt, ast.DropStmt) and not stmt.concurrent:
        yield Finding(LOCK, "DROP takes an ACCESS EXCLUSIVE lock")
    elif isinstance(stmt, ast.VacuumStmt) and _full(stmt):
        for rel in stmt.rels or ():
            table = _name(rel.relation)
            yield Finding(REWRITE, f"VACUUM FULL rewrites {table}", table)
    elif isinstance(stmt, ast.ClusterStmt) and stmt.relation is not None:
        table = _name(stmt.relation)
        yield Finding(REWRITE, f"CLUSTER rewrites {table}", table)
    elif isinstance(stmt, ast.ReindexStmt) and stmt.relation is not None:
        if not any(
            getattr(p, "defname", "") == "concurrently" for p in stmt.params or ()
        ):
            table = _name(stmt.relation)
            yield Finding(SCAN, f"REINDEX of {table} without CONCURRENTLY", table)


def _full(stmt: ast.VacuumStmt) -> bool:
    return any(getattr(o, "defname", "") == "full" for o in stmt.options or ())


def _alter(cmd: ast.AlterTableCmd, table: str) -> Iterator[Finding]:
    kind = cmd.subtype
    if kind == AlterTableType.AT_AddColumn:
        yield from _add_column(cmd.def_, table)
    elif kind == AlterTableType.AT_AlterColumnType:
        yield Finding(
            REWRITE,
            f"ALTER COLUMN {cmd.name} TYPE rewrites {table} under ACCESS EXCLUSIVE",
            table,
        )
    elif kind == AlterTableType.AT_SetNotNull:
        yield Finding(
            SCAN,
            f"SET NOT NULL on {cmd.name} scans {table} under ACCESS "
            "EXCLUSIVE (add a NOT VALID CHECK first)",
            table,
        )
    elif kind == AlterTableType.AT_AddConstraint:
        yield from _constraint(cmd.def_, table)
    else:
        yield Finding(
            LOCK, f"ALTER TABLE {table} takes an ACCESS EXCLUSIVE lock", table
        )


def _add_column(col: Any, table: str) -> Iterator[Finding]:
    kinds = {c.contype: c for c in col.constraints or ()}
    default = kinds.get(ConstrType.CONSTR_DEFAULT)
    typename = str(col.typeName.names[-1].sval) if col.typeName else ""
    if ConstrType.CONSTR_GENERATED in kinds or typename.endswith("serial"):
        yield Finding(
            REWRITE,
            f"ADD COLUMN {col.colname} (generated or serial) rewrites {table}",
            table,
        )
    elif default is not None and _volatile(default.raw_expr):
        yield Finding(
            REWRITE,
            f"ADD COLUMN {col.colname} with a volatile DEFAULT rewrites {table}",
            table,
        )
    elif ConstrType.CONSTR_NOTNULL in kinds and default is None:
        yield Finding(
            SCAN,
            f"ADD COLUMN {col.colname} NOT NULL without a DEFAULT "
            f"fails on a non-empty {table}",
            table,
        )
    else:
        yield Finding(
            LOCK,
            f"ADD COLUMN {col.colname} takes a brief ACCESS EXCLUSIVE lock on {table}",
            table,
        )


def _volatile(expr: Any) -> bool:
    if isinstance(expr, ast.A_Const | ast.SQLValueFunction):
        return False
    if isinstance(expr, ast.TypeCast):
        return _volatile(expr.arg)
    if isinstance(expr, ast.FuncCall):
        name = str(expr.funcname[-1].sval).lower() if expr.funcname else ""
        return name not in _STABLE_DEFAULTS or bool(expr.args)
    return True


def _constraint(con: Any, table: str) -> Iterator[Finding]:
    kind = con.contype
    label = f"constraint {con.conname or ''}".rstrip()
    if kind in (ConstrType.CONSTR_FOREIGN, ConstrType.CONSTR_CHECK):
        if con.skip_validation:
            yield Finding(
                LOCK,
                f"{label} NOT VALID on {table}: validate it later "
                "with VALIDATE CONSTRAINT",
                table,
            )
        else:
            yield Finding(
                SCAN,
                f"{label} without NOT VALID scans {table} under a strong lock",
                table,
            )
    elif kind in (ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_UNIQUE):
        if con.indexname:
            yield Finding(LOCK, f"{label} USING INDEX on {table}", table)
        else:
            yield Finding(
                SCAN,
                f"{label} builds an index on {table} under ACCESS "
                "EXCLUSIVE (build it CONCURRENTLY, then USING "
                "INDEX)",
                table,
            )
    else:
        yield Finding(LOCK, f"{label} on {table} takes an ACCESS EXCLUSIVE lock", table)
