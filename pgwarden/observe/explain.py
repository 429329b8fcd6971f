"""EXPLAIN of one stored statement: planned on the target, never run.

Only a single SELECT, VALUES, INSERT, UPDATE, DELETE or MERGE is explained (parsed
with pglast first), in a read-only transaction under the connection's statement
timeout, never with ANALYZE, sent alone (psycopg's extended protocol takes one
statement). A statement with ``$n`` parameters gets
``EXPLAIN (GENERIC_PLAN)`` on PostgreSQL 16+; before that, each parameter compared
with a column (``col = $n``) takes the value pgwarden observed most often for that
column (``pgwarden.parameter_value``), and a statement with a parameter left
without one is not explained.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from pglast import ast, parse_sql
from pglast.parser import ParseError
from psycopg import sql

from pgwarden.sqltext import walk

GENERIC_PLAN_VERSION = 160000
_PARAM_RE = re.compile(r"\$(\d+)")
_KINDS: tuple[type[ast.Node], ...] = (
    ast.SelectStmt, ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt,
)  # fmt: skip


class NotExplainable(Exception):
    """The statement is not one EXPLAIN may be given."""


class NeedsValues(Exception):
    """The statement has parameters the server cannot plan generically."""


@dataclass(frozen=True)
class Explained:
    plan: str
    method: str  # "plain", "generic_plan" or "observed_values"


def refusal(text: str) -> str | None:
    """Why ``text`` may not be explained, or None when it is one plannable statement."""
    try:
        statements = parse_sql(text)
    except ParseError as exc:
        return f"the statement does not parse: {exc}"
    if len(statements) != 1:
        return f"{len(statements)} statements, not exactly one"
    stmt = statements[0].stmt
    if not isinstance(stmt, _KINDS):
        kind = type(stmt).__name__
        return f"a {kind} is not a SELECT, VALUES, INSERT, UPDATE, DELETE or MERGE"
    if isinstance(stmt, ast.SelectStmt) and stmt.intoClause is not None:
        return "SELECT INTO creates a table"
    return None


def parameters(text: str) -> int:
    return max((int(n) for n in _PARAM_RE.findall(text)), default=0)


def compared_columns(text: str) -> dict[int, str]:
    """``{n: column}`` for each ``column = $n`` (either side) of the statement."""
    found: dict[int, str] = {}
    for node in walk(parse_sql(text)):
        if not isinstance(node, ast.A_Expr) or not _is_equals(node):
            continue
        for col, param in ((node.lexpr, node.rexpr), (node.rexpr, node.lexpr)):
            if isinstance(col, ast.ColumnRef) and isinstance(param, ast.ParamRef):
                name = (col.fields or (None,))[-1]
                if isinstance(name, ast.String) and param.number:
                    found[int(param.number)] = str(name.sval)
    return found


def _is_equals(node: ast.A_Expr) -> bool:
    names = [n.sval for n in node.name or () if isinstance(n, ast.String)]
    return names[-1:] == ["="]


def observed_text(text: str, values: Mapping[str, str]) -> str | None:
    """``text`` with each ``$n`` replaced by its column's observed value, if all are."""
    columns = compared_columns(text)
    chosen: dict[int, str] = {}
    for n in range(1, parameters(text) + 1):
        value = values.get(columns.get(n, ""))
        if value is None:
            return None
        chosen[n] = value
    return _PARAM_RE.sub(
        lambda m: sql.Literal(chosen[int(m.group(1))]).as_string(None), text
    )


def explain(
    conn: psycopg.Connection[Any], text: str, observed: Mapping[str, str]
) -> Explained:
    """The text plan of ``text`` (checked with :func:`refusal` first) on ``conn``.

    ``observed``: a value per column name, for parameters before PostgreSQL 16.
    """
    why = refusal(text)
    if why is not None:
        raise NotExplainable(why)
    planned, method, options = text, "plain", sql.SQL("")
    if parameters(text):
        if conn.info.server_version >= GENERIC_PLAN_VERSION:
            method, options = "generic_plan", sql.SQL("(GENERIC_PLAN) ")
        else:
            found = observed_text(text, observed)
            if found is None:
                raise NeedsValues(
                    "the statement has parameters: EXPLAIN needs PostgreSQL 16+ "
                    "(GENERIC_PLAN) or a value pgwarden observed for each of them"
                )
            planned, method = found, "observed_values"
    statement = sql.SQL("EXPLAIN {}{}").format(options, sql.SQL(planned))
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        # strings are read as pglast read them when it found one statement
        conn.execute("SET LOCAL standard_conforming_strings = on")
        rows = conn.execute(statement).fetchall()
    return Explained("\n".join(str(r[0]) for r in rows), method)
