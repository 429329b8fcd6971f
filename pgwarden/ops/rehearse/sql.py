"""Which SQL steps cannot run inside a transaction block, and their statements.

``CREATE INDEX CONCURRENTLY``, ``REINDEX … CONCURRENTLY``, ``DROP INDEX
CONCURRENTLY``, ``DETACH PARTITION … CONCURRENTLY``, ``VACUUM``, ``CREATE/DROP
DATABASE``, ``ALTER SYSTEM`` and tablespace commands refuse a transaction block; a
step with its own ``BEGIN``/``COMMIT`` manages its transaction itself. Such steps run
statement by statement in autocommit mode.
"""

from __future__ import annotations

import re
from typing import Any

from pglast import ast, parse_sql, split
from pglast.enums import AlterTableType
from pglast.parser import ParseError

_FALLBACK = re.compile(
    r"\b(CONCURRENTLY|VACUUM|BEGIN|COMMIT|START\s+TRANSACTION|ALTER\s+SYSTEM)\b",
    re.IGNORECASE,
)
_ALWAYS = (
    ast.VacuumStmt,
    ast.TransactionStmt,
    ast.CreatedbStmt,
    ast.DropdbStmt,
    ast.AlterSystemStmt,
    ast.CreateTableSpaceStmt,
    ast.DropTableSpaceStmt,
)


def needs_autocommit(text: str) -> bool:
    """Whether the step must run outside a transaction block."""
    try:
        statements = parse_sql(text)
    except ParseError:
        return bool(_FALLBACK.search(text))
    return any(_outside(raw.stmt) for raw in statements)


def _outside(stmt: Any) -> bool:
    if isinstance(stmt, ast.VacuumStmt):
        return bool(stmt.is_vacuumcmd)
    if isinstance(stmt, _ALWAYS):
        return True
    if isinstance(stmt, ast.IndexStmt | ast.DropStmt):
        return bool(stmt.concurrent)
    if isinstance(stmt, ast.ReindexStmt):
        return any(p.defname == "concurrently" for p in stmt.params or ())
    if isinstance(stmt, ast.AlterTableStmt):
        return any(
            cmd.subtype == AlterTableType.AT_DetachPartition
            and bool(getattr(cmd.def_, "concurrent", False))
            for cmd in stmt.cmds or ()
        )
    return False


def statements(text: str) -> list[str]:
    """The statements of ``text``, one by one (the text itself if unparseable:
    the server then reports the syntax error)."""
    try:
        return [s for s in split(text) if s.strip()]
    except ParseError:
        return [text]
