"""Walking pglast parse trees: one depth-first generator for every reader."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pglast import ast

#: nodes below which a reader of one query level stops: sub-statements
SUBQUERIES: tuple[type[ast.Node], ...] = (ast.SubLink, ast.CommonTableExpr)
#: ... and one query level: nor into nested statements either
ONE_LEVEL: tuple[type[ast.Node], ...] = (
    *SUBQUERIES, ast.SelectStmt, ast.UpdateStmt, ast.DeleteStmt,
)  # fmt: skip


def walk(node: Any, stop: tuple[type[ast.Node], ...] = ()) -> Iterator[Any]:
    """``node`` and its descendants, depth first; nothing below a ``stop`` node."""
    if isinstance(node, list | tuple):
        for item in node:
            yield from walk(item, stop)
        return
    if not isinstance(node, ast.Node):
        return
    yield node
    if isinstance(node, stop):
        return
    for slot in getattr(type(node), "__slots__", ()):
        yield from walk(getattr(node, slot, None), stop)
