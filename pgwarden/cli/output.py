"""Printing: data to stdout (JSON, tables, Markdown, HTML), everything else to stderr.

A table never cuts a cell: narrow columns fold their text onto more lines, and the
columns named ``whole`` (DDL, fixes: text to copy and run) are printed below the
table in full, each under the number its row shows.
"""

from __future__ import annotations

import html
import json
import sys
from collections.abc import Collection, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def text(value: Any) -> str:
    """A cell as people read it: nothing for None, ``a, b`` for a list, ``k=v``
    pairs for a mapping (never a Python repr)."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}={text(v)}" for k, v in value.items() if v is not None)
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(text(v) for v in value)
    return str(value)


def emit_table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    whole: Collection[str] = (),
) -> None:
    """A Rich table; the ``whole`` columns' texts follow it, numbered, uncut."""
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    below: list[tuple[str, str]] = []
    for row in rows:
        cells = []
        for column, value in zip(columns, row, strict=True):
            cell = text(value)
            if column in whole and cell:
                below.append((column, cell))
                cell = f"[{len(below)}]"
            cells.append(Text(cell))
        table.add_row(*cells)
    out.print(table)
    for n, (column, cell) in enumerate(below, 1):
        out.print(Text(f"[{n}] {column}: {cell}"))


def emit_markdown(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    def cell(value: Any) -> str:
        return text(value).replace("|", "\\|").replace("\n", " ")

    lines = [f"## {title}", "", "| " + " | ".join(columns) + " |"]
    lines.append("|" + "---|" * len(columns))
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    sys.stdout.write("\n".join(lines) + "\n")


def emit_html(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """One titled HTML table (a fragment: several make one page)."""

    def cell(value: Any, tag: str) -> str:
        escaped = html.escape(text(value)).replace("\n", "<br>")
        return f"<{tag}>{escaped}</{tag}>"

    lines = [f"<h2>{html.escape(title)}</h2>", "<table>"]
    lines.append("<tr>" + "".join(cell(c, "th") for c in columns) + "</tr>")
    lines += ["<tr>" + "".join(cell(v, "td") for v in row) + "</tr>" for row in rows]
    sys.stdout.write("\n".join([*lines, "</table>"]) + "\n")


def emit_fields(
    fmt: str, title: str, fields: Sequence[tuple[str, Any]], width: int = 14
) -> None:
    """One record as ``name: value`` lines (a two-column table in md and html)."""
    if fmt in ("md", "html"):
        emit_rows(fmt, title, ["field", "value"], fields)
        return
    for name, value in fields:
        out.print(Text(f"{name:>{width}}: {text(value)}"))


def emit_rows(
    fmt: str,
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    whole: Collection[str] = (),
) -> None:
    """Tabular data in the chosen format (``whole``: see :func:`emit_table`)."""
    if fmt == "json":
        emit_json([dict(zip(columns, row, strict=True)) for row in rows])
    elif fmt == "md":
        emit_markdown(title, columns, rows)
    elif fmt == "html":
        emit_html(title, columns, rows)
    else:
        emit_table(title, columns, rows, whole=whole)
